"""ABC value classes from ranks: exact ceil(fraction x N) cut points (paper 000).

Rank is the 0-based position in (metric descending, unknown metrics last, customer_id
ascending) order within the customer's partition; N is the partition's size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from rules.model import AbcSettings, Bundle


def cut_counts(abc: AbcSettings, n: int) -> list[tuple[str, int]]:
    """``[(class, k)]``: the first k customers (cumulative) belong to that class or better."""
    return [(cls, -(-frac.numerator * n // frac.denominator)) for cls, frac in abc.cuts]


def abc_class_for_rank(bundle: Bundle, rank: int, n: int) -> str:
    """Class of the customer at 0-based ``rank`` in a partition of ``n`` customers."""
    if not 0 <= rank < n:
        raise ValueError(f"rank {rank} outside a population of {n}")
    for cls, count in cut_counts(bundle.abc, n):
        if rank < count:
            return cls
    return bundle.abc.rest


def rank_key(metric: Any, customer_id: str) -> tuple[bool, float, str]:
    """Sort key: metric descending with unknown values last, then customer_id ascending."""
    return (metric is None, -metric if metric is not None else 0.0, customer_id)


def rank_population(
    bundle: Bundle,
    records: Iterable[Mapping[str, Any]],
    partition_of: Callable[[Mapping[str, Any]], Any],
    metric_of: Callable[[Mapping[str, Any]], Any],
) -> dict[str, tuple[str, int, int]]:
    """Reference ranking: customer_id -> (class, rank, partition size). Plain Python sort."""
    groups: dict[Any, list[tuple[tuple[bool, float, str], str]]] = {}
    for rec in records:
        cid = rec["customer_id"]
        groups.setdefault(partition_of(rec), []).append((rank_key(metric_of(rec), cid), cid))
    out: dict[str, tuple[str, int, int]] = {}
    for members in groups.values():
        members.sort()
        n = len(members)
        for rank, (_, cid) in enumerate(members):
            out[cid] = (abc_class_for_rank(bundle, rank, n), rank, n)
    return out
