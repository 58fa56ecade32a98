"""Races reproduced with concurrent clients against the served app, on SQLite and PostgreSQL:
two inspectors claiming the same tasks, reassignments racing the workflow's completion, two
different completions of one task, and concurrent requests sharing one Idempotency-Key."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from activities.inbox import InboxActivities
from store.models import AuditEntry, Task
from tests.e2e.conftest import Stack, population_run
from tests.e2e.test_slice import B_CUSTOMER
from tests.faults.conftest import count
from tests.hostile.fixtures import hostile_store, hstack  # noqa: F401 (the fixtures)
from workflows.task_payloads import TaskClose

pytestmark = pytest.mark.e2e
N = 15


def _rows(stack: Stack, prefix: str, queue: str) -> list[str]:
    ids = [f"{prefix}{i:02d}" for i in range(N)]
    with stack.app.state.segflow.sessions.begin() as s:
        for tid in ids:
            s.add(Task(task_id=tid, workflow_id=f"callback:{tid}", kind="callback_call",
                       customer_id=tid, queue=queue, title="Call", context={},
                       due_at=datetime.now(UTC) + timedelta(days=1), status="open"))  # fmt: skip
    return ids


async def test_two_claims_never_both_win(hstack: Stack) -> None:  # noqa: F811
    stack = hstack
    ids = _rows(stack, "tk_race_claim_", "inspector")
    calls = [
        stack.call("POST", f"/v1/tasks/{tid}/claim", who)
        for tid in ids
        for who in ("inspector", "inspector_2", "inspector", "inspector_2")
    ]
    answers = await asyncio.gather(*calls)
    # a loser sees 409 (lost the race at the write) or 403 (the task was already the other's)
    bad = [r.text[:300] for r in answers if r.status_code not in (200, 403, 409)]
    assert not bad, bad
    sessions = stack.app.state.segflow.sessions
    with sessions() as s:
        rows = {t.task_id: t for t in s.scalars(select(Task).where(Task.task_id.in_(ids)))}
    names = {"inspector": "inspector.wang", "inspector_2": "inspector.liu"}
    for i, tid in enumerate(ids):
        got = answers[i * 4 : i * 4 + 4]
        winners = {r.json()["assignee"] for r in got if r.status_code == 200}
        assert winners == {rows[tid].assignee}, (tid, winners)  # one winner, the stored one
        losers = [r for r in got if r.status_code in (403, 409)]
        # the winner's second call is idempotent (200); the other inspector loses twice
        assert {names[w] for w in ("inspector", "inspector_2")} >= winners
        assert len(losers) == 2, (tid, [r.status_code for r in got])
    claims = count(sessions, AuditEntry, AuditEntry.action == "task.claimed",
                   AuditEntry.target.in_([f"task:{t}" for t in ids]))  # fmt: skip
    assert claims == N  # one claim per task, never two


async def test_reassign_never_reopens_a_completed_task(hstack: Stack) -> None:  # noqa: F811
    stack = hstack
    ids = _rows(stack, "tk_race_move_", "agent")
    inbox = InboxActivities(stack.app.state.segflow.sessions)

    async def close(tid: str) -> None:
        # the workflow's own activity closing the row, as after a completion Update
        await asyncio.to_thread(inbox.close_task, TaskClose(tid, "completed", {"o": 1}, "agent.li"))

    calls = []
    for tid in ids:
        body = {"queue": "inspector", "reason": "race test"}
        calls += [stack.call("POST", f"/v1/tasks/{tid}/reassign", "supervisor", json=body),
                  close(tid),
                  stack.call("POST", f"/v1/tasks/{tid}/reassign", "supervisor",
                             json={"assignee": "agent.li", "reason": "race test"})]  # fmt: skip
    answers = await asyncio.gather(*calls)
    for r in answers:
        if r is not None:
            assert r.status_code in (200, 409), r.text
    with stack.app.state.segflow.sessions() as s:
        rows = list(s.scalars(select(Task).where(Task.task_id.in_(ids))))
    assert {t.status for t in rows} == {"completed"}, [(t.task_id, t.status) for t in rows]


async def test_two_different_completions_one_wins_store_agrees(hstack: Stack) -> None:  # noqa: F811
    stack = hstack
    # customer ids of this run: the dev server outlives the test and its workflow ids
    cb = "CB" + uuid.uuid4().hex[:8]
    for i in range(18):
        rec = {"tariff": "residential", "annual_revenue": float(10 + i)}
        assert (await stack.call("PUT", f"/v1/customers/R{i:02d}", "crm", json=rec)).is_success
    await stack.call("PUT", "/v1/customers/TOP", "crm", json={"annual_revenue": 1e7})
    await population_run(stack)  # cut points: the new customer below ranks B
    assert (await stack.call("PUT", f"/v1/customers/{cb}", "crm", json=B_CUSTOMER)).is_success
    for _ in range(600):  # the call-back opens its task within seconds (a busy machine: more)
        r = await stack.call("GET", "/v1/tasks", "agent", params={"customer_id": cb})
        found = [t for t in r.json() if t["kind"] in ("callback_call", "callback_visit")]
        if found:
            break
        await asyncio.sleep(0.1)
    task = found[0]
    url = f"/v1/tasks/{task['task_id']}/complete"
    outcome = {"callback_call": "verified", "callback_visit": "visited"}[task["kind"]]
    a = {"result": {"outcome": outcome, "note": "first-note-xq"}}
    b = {"result": {"outcome": outcome, "note": "second-note-zk"}}
    ra, rb = await asyncio.gather(
        stack.call("POST", url, "agent", json=a), stack.call("POST", url, "supervisor", json=b)
    )
    assert sorted([ra.status_code, rb.status_code]) == [200, 409], (ra.text, rb.text)
    winner = a if ra.status_code == 200 else b
    with stack.app.state.segflow.sessions() as s:
        row = s.get(Task, task["task_id"])
        assert row is not None and row.status == "completed"
        assert row.result == winner["result"]  # the store holds what the workflow took
    history = await stack.call("GET", f"/v1/workflows/callback:{cb}/history", "auditor")
    assert winner["result"]["note"] in history.text
    loser = a if winner is b else b
    assert loser["result"]["note"] not in history.text


async def test_one_idempotency_key_runs_once(hstack: Stack) -> None:  # noqa: F811
    stack = hstack
    records = [{"customer_id": "IK1", "tariff": "residential"}]
    headers = {"Idempotency-Key": "batch-race-1"}
    answers = await asyncio.gather(*[
        stack.call("POST", "/v1/customers:batch", "crm", json=records, headers=headers)
        for _ in range(8)
    ])  # fmt: skip
    codes = sorted(r.status_code for r in answers)
    assert set(codes) <= {200, 409} and codes.count(200) >= 1, codes
    sessions = stack.app.state.segflow.sessions
    runs = count(sessions, AuditEntry, AuditEntry.action == "customer.batch_upserted")
    assert runs == 1  # one request ran; the rest were refused (in flight) or replayed
    again = await stack.call("POST", "/v1/customers:batch", "crm", json=records, headers=headers)
    assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
