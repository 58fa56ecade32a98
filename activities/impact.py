"""What-if: how a policy version would re-segment the stored population."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from activities import customers as customer_store
from store.models import Assignment, Customer
from workflows.catalogue import BY_STRATEGY as SEGMENT_PROCESSES


def impact(session: Session, bundle: rules.Bundle, sample: int = 20) -> dict[str, Any]:
    """Transition counts from the stored assignments to `bundle`'s, and process changes."""
    rows = session.scalars(select(Customer).where(Customer.status == "active")).all()
    current = {a.customer_id: a for a in session.scalars(select(Assignment))}
    results = rules.segment_population(bundle, [customer_store.record_of(r) for r in rows])
    matrices: dict[str, Counter[tuple[str, str]]] = {
        k: Counter() for k in ("category", "abc_class", "points_tier")
    }
    tags_gained: Counter[str] = Counter()
    tags_lost: Counter[str] = Counter()
    starts: Counter[str] = Counter()
    stops: Counter[str] = Counter()
    changed: list[dict[str, Any]] = []
    for new in results:
        old = current.get(new.customer_id)
        before = customer_store.assignment_json(old) if old else None
        for key, counter in matrices.items():
            counter[(before[key] if before else "(none)", getattr(new, key))] += 1
        old_tags = set(before["tags"]) if before else set()
        tags_gained.update(set(new.tags) - old_tags)
        tags_lost.update(old_tags - set(new.tags))
        old_procs = {p for p in (before["processes"] if before else {}) if p in SEGMENT_PROCESSES}
        new_procs = {p for p in new.processes if p in SEGMENT_PROCESSES}
        starts.update(new_procs - old_procs)
        stops.update(old_procs - new_procs)
        after = new.to_json()
        if before is None or any(
            before[k] != after[k]
            for k in ("category", "abc_class", "tags", "points_tier", "actions")
        ):
            if len(changed) < sample:
                changed.append({"customer_id": new.customer_id, "before": before, "after": after})
            else:
                changed.append({"customer_id": new.customer_id})
    return {
        "policy_version": bundle.version,
        "customers": len(results),
        "changed": len(changed),
        "sample": changed[:sample],
        "transitions": {
            key: [{"from": a, "to": b, "count": n} for (a, b), n in sorted(counter.items())]
            for key, counter in matrices.items()
        },
        "tags_gained": dict(sorted(tags_gained.items())),
        "tags_lost": dict(sorted(tags_lost.items())),
        "processes_start": dict(sorted(starts.items())),
        "processes_stop": dict(sorted(stops.items())),
    }
