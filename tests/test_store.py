"""The store: migrations on SQLite and PostgreSQL, round trips, the audit chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select, text, update
from sqlalchemy.orm import Session

from store import audit, db
from store.models import AuditEntry, Customer, Task

TABLES = {
    "customers", "assignments", "policy_versions", "tasks", "outbox", "audit_log",
    "processed_events", "idempotency_keys", "alembic_version",
}  # fmt: skip


def _round_trip(url: str) -> None:
    db.upgrade(url)
    db.upgrade(url)  # idempotent
    engine = db.make_engine(url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    sessions = db.session_factory(engine)
    with sessions.begin() as s:
        s.add(
            Customer(
                customer_id="C1",
                name="张三",
                capacity_kva=315.0,
                contacts={"phone": "+86 1"},
                attributes={"district": "east"},
                backup_power_compliant=None,
            )
        )
        s.add(
            Task(
                task_id="tk_1",
                workflow_id="callback:C1",
                kind="callback_call",
                customer_id="C1",
                queue="agent",
                title="call",
                due_at=datetime.now(UTC) + timedelta(days=5),
            )
        )
        audit.append(
            s, actor="crm.system", action="customer.created", target="customer:C1", detail={"n": 1}
        )
        audit.append(s, actor="agent.li", action="task.completed", target="task:tk_1")
    with sessions() as s:
        c = s.get(Customer, "C1")
        assert c is not None and c.name == "张三" and c.capacity_kva == 315.0
        assert c.contacts == {"phone": "+86 1"} and c.backup_power_compliant is None
        assert c.late_payments_12m == 0 and c.prepaid_meter is False
        t = s.get(Task, "tk_1")
        assert t is not None and t.status == "open" and t.due_at is not None
        assert audit.verify(s).ok and audit.verify(s).entries == 2
    engine.dispose()


def test_sqlite_migrations_and_round_trip(store_url: str) -> None:
    _round_trip(store_url)


@pytest.mark.postgres
def test_postgres_migrations_and_round_trip(postgres_url: str) -> None:
    _round_trip(postgres_url)


def test_audit_chain_detects_tampering(store_url: str) -> None:
    sessions = db.session_factory(db.make_engine(store_url))
    with sessions.begin() as s:
        for i in range(5):
            audit.append(s, actor="a", action="x", target=f"t{i}", detail={"i": i})
    with sessions.begin() as s:
        assert audit.verify(s, batch=2) == audit.Verification(ok=True, entries=5)
        _owner_drops_append_only_triggers(s)  # the log refuses UPDATE to everyone else
        s.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(actor="mallory"))
    with sessions() as s:
        result = audit.verify(s, batch=2)
        assert not result.ok and result.first_bad_seq == 3
        assert result.reason == "content does not match its hash"


def test_audit_chain_links_each_entry_to_the_previous(store_url: str) -> None:
    sessions = db.session_factory(db.make_engine(store_url))
    with sessions.begin() as s:
        a = audit.append(s, actor="a", action="x", target="t")
        b = audit.append(s, actor="a", action="y", target="t")
    assert a.prev_hash == audit.GENESIS and b.prev_hash == a.hash
    with sessions.begin() as s:
        _owner_drops_append_only_triggers(s)
        s.delete(s.scalars(select(AuditEntry).where(AuditEntry.seq == a.seq)).one())
    with sessions() as s:
        assert audit.verify(s).reason == "prev_hash does not link"


def _owner_drops_append_only_triggers(s: Session) -> None:
    """What only the database owner can do (SQLite here): remove the append-only guard."""
    for name in ("audit_log_no_update", "audit_log_no_delete"):
        s.execute(text(f"DROP TRIGGER {name}"))
