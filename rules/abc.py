"""ABC value classes from ranks: exact ceil(fraction x N) cut points (paper 000).

Rank is the 0-based position in (metric descending, unknown metrics last, customer_id
ascending) order within the customer's partition; N is the partition's size.

A population run ranks everyone once and keeps, per partition and class, the rank key of the
last customer in that class or better (its *cut point*: metric value and customer id as the
tie key). Classifying a customer against cut points is a comparison with at most one key per
class, never a count over the population; on the population the points were computed from it
gives exactly the rank-based class. A customer added or changed after the run is compared with
the same points, so its class is provisional until the next run re-ranks everyone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rules.model import AbcSettings, Bundle

RankKey = tuple[bool, float, str]


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


def rank_key(metric: Any, customer_id: str) -> RankKey:
    """Sort key: metric descending with unknown values last, then customer_id ascending."""
    return (metric is None, -metric if metric is not None else 0.0, customer_id)


def partition_key(value: Any) -> str:
    """A partition value as stored text (numbers as floats: 10 and 10.0 are one partition)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = float(value)
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class CutPoint:
    """The last customer (rank key) of one class or better in one partition."""

    partition: str  # partition_key of the partition value ("null" without partitions)
    abc_class: str
    rank: int  # 0-based rank of the boundary customer (k - 1)
    population: int  # the partition's size when the point was computed
    metric: float | None
    customer_id: str

    @property
    def key(self) -> RankKey:
        return rank_key(self.metric, self.customer_id)


class CutPoints:
    """The cut points of one population run, for classifying customers one at a time."""

    def __init__(self, abc: AbcSettings, points: Iterable[CutPoint]) -> None:
        self.abc = abc
        self.points = list(points)
        self._by_part: dict[str, dict[str, RankKey]] = {}
        for p in self.points:
            self._by_part.setdefault(p.partition, {})[p.abc_class] = p.key

    def boundaries(self, partition: str) -> dict[str, RankKey]:
        """class -> boundary key in one partition (empty when the run saw nobody there)."""
        return self._by_part.get(partition, {})

    def classify(self, partition_value: Any, metric: Any, customer_id: str) -> str:
        """The class whose boundary the customer's rank key does not pass; the rest class
        when the run saw no customer of that partition."""
        bounds = self._by_part.get(partition_key(partition_value), {})
        key = rank_key(metric, customer_id)
        for cls, _ in self.abc.cuts:
            bound = bounds.get(cls)
            if bound is not None and key <= bound:
                return cls
        return self.abc.rest


def points_from_sorted(
    abc: AbcSettings, partition: str, members: list[tuple[Any, str]]
) -> list[CutPoint]:
    """Cut points of one partition from its members sorted by rank key: (metric, id)."""
    n = len(members)
    out = []
    for cls, k in cut_counts(abc, n):
        if k > 0:
            metric, cid = members[min(k, n) - 1]
            value = None if metric is None else float(metric)
            out.append(CutPoint(partition, cls, min(k, n) - 1, n, value, cid))
    return out


def points_from_rows(abc: AbcSettings, rows: Iterable[Mapping[str, Any]]) -> list[CutPoint]:
    """Cut points from boundary rows ({part, rn (1-based), n, metric, customer_id}) as the
    SQL plan step returns them: one row may be the boundary of several classes."""
    by_rank: dict[tuple[str, int], Mapping[str, Any]] = {}
    sizes: dict[str, int] = {}
    for row in rows:
        part = partition_key(row["part"])
        by_rank[(part, int(row["rn"]))] = row
        sizes[part] = int(row["n"])
    out = []
    for part, n in sorted(sizes.items()):
        for cls, k in cut_counts(abc, n):
            if k <= 0:
                continue
            row = by_rank[(part, min(k, n))]
            metric = row["metric"]
            out.append(CutPoint(part, cls, min(k, n) - 1, n,
                                None if metric is None else float(metric),
                                str(row["customer_id"])))  # fmt: skip
    return out


def rank_population(
    bundle: Bundle,
    records: Iterable[Mapping[str, Any]],
    partition_of: Callable[[Mapping[str, Any]], Any],
    metric_of: Callable[[Mapping[str, Any]], Any],
) -> dict[str, tuple[str, int, int]]:
    """Reference ranking: customer_id -> (class, rank, partition size). Plain Python sort."""
    groups: dict[Any, list[tuple[RankKey, str]]] = {}
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


def reference_cut_points(
    bundle: Bundle,
    records: Iterable[Mapping[str, Any]],
    partition_of: Callable[[Mapping[str, Any]], Any],
    metric_of: Callable[[Mapping[str, Any]], Any],
) -> CutPoints:
    """Cut points of a population by a plain Python sort (the oracle for the SQL plan)."""
    groups: dict[str, list[tuple[RankKey, Any, str]]] = {}
    for rec in records:
        cid, metric = rec["customer_id"], metric_of(rec)
        part = partition_key(partition_of(rec))
        groups.setdefault(part, []).append((rank_key(metric, cid), metric, cid))
    points: list[CutPoint] = []
    for part, members in sorted(groups.items()):
        members.sort()
        points += points_from_sorted(bundle.abc, part, [(m, c) for _, m, c in members])
    return CutPoints(bundle.abc, points)
