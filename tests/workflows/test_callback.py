"""Ten simulated years of quarterly call-backs on the time-skipping server: one run per
cycle (continue-as-new), each run's history small."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType

from tests.workflows.conftest import DAY, Rig
from workflows.callback import stable_share
from workflows.inputs import CallbackInput
from workflows.outcomes import ProcessResult
from workflows.signals import LeaveSignal

CYCLES = 40  # ten years of quarters
MAX_EVENTS = 20  # a plain cycle: wait, call task, completion, continue-as-new


async def test_ten_years_of_callbacks_keep_each_history_small(rig: Rig) -> None:
    rig.customer("CB1", processes={"callback": {}})
    wid = "callback:CB1"
    began = await rig.env.get_current_time()
    h = await rig.start("callback", CallbackInput("CB1"), wid)
    seen: set[str] = set()
    for cycle in range(CYCLES):
        task = await rig.task(wid, "callback_call")
        assert task.task_id not in seen and task.context["cycle"] == cycle
        seen.add(task.task_id)
        done = await rig.complete(h, task, outcome="verified")
        assert done.accepted
        assert rig.tasks(wid)[-1].status == "completed"
    # the 41st run waits for its call; the customer leaves the segment
    await rig.task(wid, "callback_call")
    await rig.env.client.get_workflow_handle(wid).signal("leave", LeaveSignal("segment left"))
    result = await rig.env.client.get_workflow_handle(wid, result_type=ProcessResult).result()
    assert (result.outcome, result.facts["reason"]) == ("left", "segment left")
    assert (await rig.env.get_current_time() - began).total_seconds() > 9.5 * 365 * DAY
    assert not rig.tasks(wid, "open")

    runs, run_id = [], h.first_execution_run_id or h.run_id
    while run_id:
        events = [e async for e in rig.env.client.get_workflow_handle(wid, run_id=run_id)
                  .fetch_history_events()]  # fmt: skip
        runs.append(len(events))
        last = events[-1]
        run_id = (
            last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            if last.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
            else None
        )
    assert len(runs) == CYCLES + 1  # continued-as-new once per cycle
    assert max(runs[1:CYCLES]) <= MAX_EVENTS, runs
    assert max(runs[:CYCLES]) - min(runs[:CYCLES]) <= 5, runs  # no growth cycle over cycle


def test_first_cycles_spread_over_the_period() -> None:
    # a stable share per customer id, spread evenly: no day-one flood of call tasks
    shares = [stable_share(f"C{i:06d}") for i in range(20_000)]
    assert shares == [stable_share(f"C{i:06d}") for i in range(20_000)]
    assert all(0.0 <= x < 1.0 for x in shares)
    per_day = [0] * 90
    for x in shares:
        per_day[int(x * 90)] += 1
    assert max(per_day) < 2 * 20_000 / 90  # the busiest day of a quarter: < 2x the mean


async def test_first_call_waits_its_share_of_the_spread(rig: Rig) -> None:
    rig.customer("CB-SPREAD", processes={"callback": {"first_cycle_spread": "P30D"}})
    wid = "callback:CB-SPREAD"
    began = await rig.env.get_current_time()
    await rig.start("callback", CallbackInput("CB-SPREAD"), wid)
    await rig.task(wid, "callback_call")
    waited = (await rig.env.get_current_time() - began).total_seconds()
    assert abs(waited - stable_share("CB-SPREAD") * 30 * DAY) < 5.0, waited
