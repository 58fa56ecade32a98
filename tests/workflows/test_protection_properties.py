"""Property: whatever happens around an arrears ladder, every cut-off is lawful at its moment
and every protected customer keeps power.

Hypothesis interleaves payments, payment plans, disputes, life-support registrations (current
or already expired) and their end, moratoria declared on the planned cut-off day, calendar
edits (a new policy version activated with a holiday on that day), worker restarts (the
ladder resumes on a fresh worker by replaying its history), with or without the signal that
tells the ladder, at random times, while people complete the tasks with random outcomes. The
independent checker (`cutoff_checker`) then judges every disconnection order from the outbox,
the audit log and the protection tables alone.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from temporalio.worker import Worker

import rules
import worker as worker_module
from activities import policy_store
from activities.adapters import AdapterActivities
from activities.inbox import InboxActivities
from activities.process_activities import ProcessActivities
from activities.protections import ProtectionActivities
from config import ROOT
from rules.loader import FILES
from services import protections as svc
from services import registration_reviews as reviews
from tests.workflows.conftest import DAY, Rig
from tests.workflows.cutoff_checker import check_cutoffs
from workflows.arrears_payloads import ProtectionChanged
from workflows.inputs import ArrearsInput
from workflows.signals import InstalmentMissedSignal, PaymentPlanSignal, PaymentSignal

OUTCOMES = {
    "collection": ["paid_on_site", "promised", "refused", "not_found"],
    "prepayment_conversion": ["converted", "refused", "not_possible"],
    "disconnection_approval": ["approved", "rejected"],
    "notice_delivery": ["delivered", "not_delivered"],
    "life_support_review": ["acknowledged", "payment_arranged", "referred"],
    "disconnection": ["disconnected", "not_possible"],
    "reconnection": ["reconnected", "failed"],
}
ACTIONS = [
    "plan",
    "missed",
    "dispute",
    "resolve",
    "life_support",
    "expired_registration",
    "end_registration",
    "moratorium",
    "holiday",
    "restart",
    "payment",
]
_ids = itertools.count()

action = st.tuples(st.sampled_from(ACTIONS), st.floats(0, 24 * DAY), st.booleans())


class RestartableWorker:
    """A worker of this module's own, on its own task queue, that a test can restart."""

    def __init__(self, env: Any, sessions: Any, queue: str, executor: ThreadPoolExecutor) -> None:
        self.env, self.sessions, self.queue, self.executor = env, sessions, queue, executor
        self.worker: Worker | None = None
        self.running: asyncio.Task[None] | None = None

    def start(self) -> None:
        acts = InboxActivities(self.sessions).all() + AdapterActivities(self.sessions).all()
        acts += ProcessActivities(self.sessions, self.env.client).all()
        acts += ProtectionActivities(self.sessions).all()
        self.worker = Worker(
            self.env.client,
            task_queue=self.queue,
            workflows=worker_module.WORKFLOWS,
            activities=acts,
            activity_executor=self.executor,
            workflow_runner=worker_module.workflow_runner(),
            # no sticky cache: every workflow task replays the history, as after a restart,
            # and a restart leaves no task waiting on the old worker's sticky queue
            max_cached_workflows=0,
        )
        self.running = asyncio.create_task(self.worker.run())

    async def stop(self) -> None:
        if self.worker is not None and self.running is not None:
            await self.worker.shutdown()
            await self.running

    async def restart(self) -> None:
        await self.stop()
        self.start()


@pytest.fixture
async def own(rig: Rig) -> AsyncIterator[tuple[Rig, RestartableWorker]]:
    """A rig on a queue served by a restartable worker (same store and clock)."""
    queue = f"restart-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(max_workers=4) as executor:
        worker = RestartableWorker(rig.env, rig.sessions, queue, executor)
        worker.start()
        try:
            yield Rig(rig.env, rig.sessions, rig.version, queue), worker
        finally:
            await worker.stop()
            with rig.sessions.begin() as s:  # calendar edits must not outlive the test
                policy_store.activate(s, rig.version, "test")


def holiday_bundle(day: date, name: str) -> rules.Bundle:
    """The shipped bundle with a public holiday on `day` (a calendar edit)."""
    texts = {f: (ROOT / "policies" / f).read_text(encoding="utf-8") for f in FILES}
    anchor = "holidays:\n"
    assert anchor in texts["calendars.yaml"]
    texts["calendars.yaml"] = texts["calendars.yaml"].replace(
        anchor, f'{anchor}  - {{name: {name}, from: "{day}", to: "{day}"}}\n', 1
    )
    return rules.load_bundle_from_texts(texts)


async def planned_day(rig: Rig, h: Any) -> date:
    state = await rig.state(h)
    at = state.facts.get("cutoff")
    when = datetime.fromisoformat(at) if at else await rig.env.get_current_time()
    return when.astimezone(ZoneInfo("Asia/Shanghai")).date()


async def apply(
    rig: Rig, h: Any, wid: str, cid: str, what: str, tell: bool, n: int, worker: RestartableWorker
) -> None:
    """One protection event; `tell`: also signal the ladder (else only the store knows)."""
    change: ProtectionChanged | None = None
    if what == "restart":
        await worker.restart()
    elif what == "holiday":
        bundle = holiday_bundle(await planned_day(rig, h), f"{cid}-day{n}")
        with rig.sessions.begin() as s:
            policy_store.register(s, bundle, "test")
            s.flush()
            policy_store.activate(s, bundle.version, "test")
        change = ProtectionChanged("calendar", True, bundle.version)
    elif what == "plan":
        await h.signal("payment_plan", PaymentPlanSignal(3))
    elif what == "missed":
        await h.signal("instalment_missed", InstalmentMissedSignal())
    elif what == "dispute":
        svc.open_hold(rig.sessions, cid, f"{cid}-H{n}", "dispute", None, "", "crm")
        change = ProtectionChanged("dispute", True, f"{cid}-H{n}")
    elif what == "resolve":
        for hold in _open_holds(rig, cid):
            svc.resolve_hold(rig.sessions, hold, "resolved", "crm")
            change = ProtectionChanged("dispute", False, hold)
    elif what in ("life_support", "expired_registration"):
        end = date(2021, 1, 1) if what == "expired_registration" else None
        reviews.register(
            rig.sessions,
            cid,
            f"{cid}-R{n}",
            "life_support",
            f"C{n}",
            "Dr. Wu",
            date(2020, 1, 1),
            end,
            "crm",
        )
        change = ProtectionChanged("life_support", True, f"{cid}-R{n}")
    elif what == "end_registration":
        for reg in _active_registrations(rig, cid):
            reviews.review(rig.sessions, reg, "ended", None, "supervisor")
            change = ProtectionChanged("life_support", False, reg)
    elif what == "moratorium":
        state = await rig.state(h)
        at = state.facts.get("cutoff")
        day = (
            (datetime.fromisoformat(at) if at else await rig.env.get_current_time())
            .astimezone(ZoneInfo("Asia/Shanghai"))
            .date()
        )
        svc.declare_moratorium(
            rig.sessions, f"{cid}-M{n}", day, day + timedelta(days=1), "heat wave", "ops"
        )
        change = ProtectionChanged("moratorium", True, f"{cid}-M{n}")
    elif what == "payment":
        await h.signal("payment", PaymentSignal(75.0, settled=True))
    if tell and change is not None:
        await h.signal("protection_changed", change)


def _open_holds(rig: Rig, cid: str) -> list[str]:
    from store.models import Hold

    with rig.sessions() as s:
        return [h.hold_id for h in s.query(Hold).filter_by(customer_id=cid, status="open")]


def _active_registrations(rig: Rig, cid: str) -> list[str]:
    from store.models import Registration

    with rig.sessions() as s:
        rows = s.query(Registration).filter_by(customer_id=cid, status="active")
        return [r.registration_id for r in rows]


def _lift_all(rig: Rig, cid: str) -> None:
    from store.models import Moratorium

    with rig.sessions() as s:
        ids = [m.moratorium_id for m in s.query(Moratorium) if m.moratorium_id.startswith(cid)]
    for mid in ids:
        svc.lift_moratorium(rig.sessions, mid, "ops")


# Each example is a whole ladder of weeks on the time-skipping server (about a second or two):
# CI-sized; raise max_examples locally to search harder.
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(actions=st.lists(action, min_size=1, max_size=6), data=st.data())
async def test_every_cutoff_is_lawful_at_its_moment(
    own: tuple[Rig, RestartableWorker], actions: list[tuple[str, float, bool]], data: st.DataObject
) -> None:
    rig, worker = own
    cid = f"PP{next(_ids)}"
    rig.started.clear()
    rig.customer(cid, category=data.draw(st.sampled_from(["residential", "important"])))
    wid = f"arrears:{cid}:B1"
    begin = await rig.env.get_current_time()
    timeline = sorted(
        (begin + timedelta(seconds=d), n, what, tell) for n, (what, d, tell) in enumerate(actions)
    )
    h = await rig.start("arrears", ArrearsInput(cid, "B1", 75.0), wid)
    paid = False
    try:
        for _ in range(60):
            until = timeline[0][0] if timeline else None
            found = await rig.drive(
                lambda: rig.steps(wid).get("ended") or rig.tasks(wid, "open"),
                until=until if until else None,
                limit=90 * DAY,
            )
            if found is None and timeline:
                _, n, what, tell = timeline.pop(0)
                await apply(rig, h, wid, cid, what, tell, n, worker)
                paid = paid or what == "payment"
                event(what)
            elif isinstance(found, dict):
                break
            elif found:
                task = found[0]
                outcome = data.draw(st.sampled_from(OUTCOMES[task.kind]), label=task.kind)
                await rig.complete(h, task, outcome=outcome)
            if not timeline and not paid:
                # the story is told: give the ladder three weeks to cut off, then settle so
                # every ladder ends (reconnected or settled)
                timeline.append(
                    (await rig.env.get_current_time() + timedelta(days=21), 99, "payment", False)
                )
                paid = True
        else:
            raise AssertionError("the ladder never ended")
    finally:
        _lift_all(rig, cid)
    result = await h.result()
    event(f"outcome {result.outcome}")
    cuts = check_cutoffs(rig, wid)
    assert (result.outcome == "reconnected") == bool(cuts)
