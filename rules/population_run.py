"""The `population_run` section of processes.yaml, checked when the bundle loads.

The section becomes a Temporal Schedule (services/schedules.py) whose cron expression is read
in `timezone`. An unknown zone used to surface only when the Schedule was created, after the
version was active; here it is a policy error at its file:line:col, like every other value.
"""

from __future__ import annotations

import zoneinfo

from rules.errors import PolicyIssue
from rules.yamlpos import Document


def check_population_run(doc: Document, issues: list[PolicyIssue]) -> None:
    """Add an issue when the section's `timezone` is not an IANA time zone name."""
    data = doc.data if isinstance(doc.data, dict) else {}
    section = data.get("population_run")
    if not isinstance(section, dict):
        return
    zone = section.get("timezone")
    if not isinstance(zone, str):
        return  # absent or not a string: the schema reports it
    if not known_zone(zone):
        issues.append(
            doc.issue(
                ("population_run", "timezone"),
                f"unknown time zone {zone!r} (an IANA name such as Asia/Shanghai or UTC)",
            )
        )


def known_zone(name: str) -> bool:
    """Whether `name` is a time zone of the IANA database (zoneinfo)."""
    if not name or name != name.strip():
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True
