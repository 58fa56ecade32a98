"""Temporal workflows of segflow: deterministic process logic, no I/O (activities do that)."""
