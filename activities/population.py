"""The demo population: synthetic customers covering every segment, and their processes."""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from activities import customers as customer_store
from store.models import Customer


def store_records(session: Session, records: Iterable[dict[str, Any]]) -> int:
    """Insert or update validated records without segmenting them; returns the count."""
    count = 0
    for record in records:
        customer_store.store_record(session, record)
        count += 1
    return count


_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_FIRMS = ["Hospital", "Steel Works", "Metro Depot", "Chemical Plant", "Mall", "School", "Farm"]


def demo_records(n: int, seed: int = 20261122) -> list[dict[str, Any]]:
    """A deterministic synthetic population that covers every segment of the domain."""
    rnd = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        kind = rnd.choices(
            ["important", "key_attention", "large", "residential", "other"],
            weights=[2, 3, 10, 75, 10],
        )[0]
        residential = kind == "residential"
        online = rnd.choice([0, 0, 1, 3, 6, 8, 12]) if rnd.random() < 0.8 else 0
        offline = rnd.choice([0, 1, 2, 4]) if online or rnd.random() < 0.7 else 0
        rec: dict[str, Any] = {
            "customer_id": f"C{i:06d}",
            "name": f"{rnd.choice(_SURNAMES)}{'某' if residential else ''} "
            + ("household" if residential else rnd.choice(_FIRMS)),
            "important_registered": kind == "important",
            "key_attention": kind == "key_attention",
            "tariff": "residential"
            if residential
            else rnd.choice(["commercial", "industrial", "agricultural", "other"]),
            "voltage_kv": 0.4 if residential else rnd.choice([0.4, 10.0, 35.0]),
            "capacity_kva": float(rnd.choice([4, 8, 12]))
            if residential
            else float(rnd.choice([100, 200, 315, 400, 800, 1600]) if kind != "other" else 100),
            "feeder_id": f"F{rnd.randint(1, 40):03d}",
            "annual_kwh": round(rnd.lognormvariate(8 if residential else 12, 1.0), 1),
            "late_payments_12m": rnd.choice([0, 0, 0, 1, 2, 3, 5]),
            "overdue_days": rnd.choice([0] * 8 + [15, 45, 75, 120]),
            "outage_count_12m": rnd.randint(0, 6),
            "outage_complaints_12m": rnd.choice([0, 0, 0, 1, 2, 3]),
            "online_interactions_12m": online,
            "offline_interactions_12m": offline,
            "open_hazards": rnd.choice([0] * 12 + [1, 2]),
            "violations_24m": rnd.choice([0] * 20 + [1]),
            "theft_records_24m": rnd.choice([0] * 40 + [1]),
            "points_12m": rnd.choice([0, 200, 800, 1500, 6000, 25000]) if residential else 0,
            "arrears_amount": 0.0,
            "outage_minutes_12m": float(rnd.randint(0, 600)),
            "outage_sensitive_flag": rnd.random() < 0.05,
            "life_support": residential and rnd.random() < 0.01,
            "prepaid_meter": residential and rnd.random() < 0.3,
            "contacts": {
                "phone": f"+86 139 {rnd.randint(1000, 9999)} {rnd.randint(1000, 9999)}",
                "sms_opt_in": rnd.random() < 0.7,
            },
            "attributes": {"district": rnd.choice(["east", "west", "north", "south"])},
        }
        rec["annual_revenue"] = round(rec["annual_kwh"] * rnd.uniform(0.5, 0.9), 2)
        if rec["overdue_days"]:
            rec["arrears_amount"] = round(rnd.uniform(50, 5000), 2)
        if kind == "important":
            rec["backup_power_compliant"] = rnd.random() < 0.7
        out.append(rules.validate_record(rec))
    return out


def demo_processes(session: Session, limit: int = 40) -> list[tuple[str, Any]]:
    """Event-driven processes for the demo population, so every inbox has work at once:
    arrears for overdue customers, hazard rectification for open hazards, a few closure
    requests and one planned outage (what the CRM would send as events)."""
    from workflows.inputs import ArrearsInput, ClosureInput, Hazard, HazardInput, OutageInput

    active = select(Customer).where(Customer.status == "active").order_by(Customer.customer_id)
    overdue = session.scalars(active.where(Customer.overdue_days > 0).limit(limit)).all()
    hazards = session.scalars(active.where(Customer.open_hazards > 0).limit(limit // 2)).all()
    closing = [
        *session.scalars(active.where(Customer.theft_records_24m > 0).limit(3)),
        *session.scalars(active.where(Customer.open_hazards == 0).limit(2)),
    ]
    out: list[tuple[str, Any]] = [
        ("arrears", ArrearsInput(c.customer_id, "DEMO-BILL-1", float(c.arrears_amount)))
        for c in overdue
    ]
    severities = ("general", "serious", "critical")
    out += [
        ("hazard", HazardInput(c.customer_id, "DEMO-INSP-1", [
            Hazard(f"H{i + 1}", f"demo finding {i + 1}", severities[(n + i) % 3])
            for i in range(c.open_hazards)]))
        for n, c in enumerate(hazards)
    ]  # fmt: skip
    out += [("closure", ClosureInput(c.customer_id, "DEMO-CLOSE-1")) for c in closing]
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=9)
    out.append(
        (
            "outage",
            OutageInput(
                "F001", "DEMO-OUTAGE-1", start.isoformat(), (start + timedelta(hours=6)).isoformat()
            ),
        )
    )
    return out
