"""The audit log anchored outside the database, on SQLite and PostgreSQL: the application's
sessions cannot UPDATE or DELETE it; a rewrite by the database owner that re-hashes the whole
chain (so the chain alone still verifies) is caught by the signed checkpoints, through
GET /v1/audit/verify and `segflow audit verify`; a non-UTC PostgreSQL session verifies; task
results are referenced by digest, never embedded in the chain."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import sqlalchemy as sa
from sqlalchemy import select, update

from config import ROOT
from store import audit, checkpoints
from store.models import AuditEntry
from tests.e2e.conftest import Stack
from tests.hostile.fixtures import hostile_store, hstack  # noqa: F401 (the fixtures)

pytestmark = pytest.mark.e2e


def _rewrite_as_owner(stack: Stack) -> None:
    """Someone with the owner's database access: drop the guard, change an entry, re-hash
    every later entry so the chain links again."""
    sessions = stack.app.state.segflow.sessions
    with sessions.begin() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(sa.text("ALTER TABLE audit_log DISABLE TRIGGER USER"))
        else:
            for name in ("audit_log_no_update", "audit_log_no_delete"):
                s.execute(sa.text(f"DROP TRIGGER {name}"))
        rows = list(s.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
        rows[0].actor = "mallory"
        prev = audit.GENESIS
        for row in rows:
            row.prev_hash = f"tmp{row.seq}"  # unique while the rows are re-linked
        s.flush()
        for row in rows:
            row.prev_hash = prev
            row.hash = audit._entry_hash(prev, audit._fields(row))
            prev = row.hash
            s.flush()


def _cli_verify(stack: Stack) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SEGFLOW_VAR_DIR": str(stack.settings.var_dir),
           "SEGFLOW_DATABASE_URL": stack.settings.database_url}  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "cli", "audit", "verify"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, env=env,
    )  # fmt: skip


async def test_rewrite_is_refused_then_detected(hstack: Stack) -> None:  # noqa: F811
    stack = hstack
    for i in range(3):
        r = await stack.call("PUT", f"/v1/customers/AU{i}", "crm", json={"tariff": "residential"})
        assert r.status_code == 200
    sessions = stack.app.state.segflow.sessions
    # the application's own sessions cannot rewrite or delete the log
    for statement in (update(AuditEntry).values(actor="mallory"), sa.delete(AuditEntry)):
        with sessions() as s, pytest.raises(sa.exc.DBAPIError):
            s.execute(statement)
            s.commit()
    key = checkpoints.load_key(stack.settings.audit_key_path)
    assert (stack.settings.audit_key_path.stat().st_mode & 0o777) == 0o600
    with sessions.begin() as s:
        assert checkpoints.take(s, key) is not None
    ok = (await stack.call("GET", "/v1/audit/verify", "auditor")).json()
    assert ok["ok"] and ok["checkpoints"] == 1
    assert _cli_verify(stack).returncode == 0

    _rewrite_as_owner(stack)
    with sessions() as s:
        assert audit.verify(s).ok  # the chain alone is fooled
    bad = (await stack.call("GET", "/v1/audit/verify", "auditor")).json()
    assert not bad["ok"] and bad["bad_checkpoint_seq"] is not None, bad
    assert "rewritten" in bad["reason"]
    run = _cli_verify(stack)
    assert run.returncode == 1 and not json.loads(run.stdout)["ok"], run.stdout + run.stderr


async def test_non_utc_database_session_still_verifies(hstack: Stack) -> None:  # noqa: F811
    stack = hstack
    r = await stack.call("PUT", "/v1/customers/TZ1", "crm", json={"tariff": "residential"})
    assert r.status_code == 200
    engine = sa.create_engine(stack.app.state.segflow.settings.store_url)
    try:
        with engine.connect() as c:
            if engine.dialect.name == "postgresql":
                c.execute(sa.text("SET TIME ZONE 'Asia/Shanghai'"))
            with sa.orm.Session(bind=c) as s:
                assert audit.verify(s).ok
    finally:
        engine.dispose()


async def test_task_results_are_referenced_not_embedded(hstack: Stack) -> None:  # noqa: F811
    from tests.e2e.test_role_matrix import _task

    stack = hstack
    with stack.app.state.segflow.sessions.begin() as s:
        s.add(_task("tk_pii", "PII1", "agent", "agent.li", status="claimed"))
    # the workflow is absent, so the completion is refused; the refusal is audited without
    # the payload, and a stored completion keeps only a digest (services/tasks.py)
    phone = "+86 139 5555 0000"
    body = {"result": {"outcome": "contact_updated", "contacts": {"phone": phone}}}
    await stack.call("POST", "/v1/tasks/tk_pii/complete", "agent", json=body)
    with stack.app.state.segflow.sessions() as s:
        details = [json.dumps(e.detail) for e in s.scalars(select(AuditEntry))]
    assert details and not any(phone in d for d in details)
