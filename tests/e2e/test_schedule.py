"""Population runs on a Temporal Schedule (cron + time zone from the policy) and after a policy
activation, on the real dev server with the stack's worker."""

from __future__ import annotations

import asyncio
import contextlib

from temporalio.client import ScheduleDescription, ScheduleHandle

from activities import policy_store
from config import ROOT
from services import schedules
from store import db
from tests.e2e.conftest import Stack


def _at(desc: ScheduleDescription) -> tuple[int, int]:
    """(hour, minute) of the schedule (the server keeps cron as a calendar)."""
    [cal] = desc.schedule.spec.calendars
    return cal.hour[0].start, cal.minute[0].start


async def _runs(stack: Stack, prefix: str) -> list[str]:
    query = f"WorkflowType = 'segmentation_run' AND WorkflowId STARTS_WITH '{prefix}'"
    return [wf.id async for wf in stack.temporal.list_workflows(query)]


async def _until(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    for _ in range(int(timeout / 0.2)):
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


async def test_schedule_follows_the_policy_and_runs(stack: Stack) -> None:
    sessions = db.session_factory(db.make_engine(stack.settings.store_url))
    with sessions() as s:
        bundle = policy_store.active_bundle(s)
    for i in range(30):
        await stack.call("PUT", f"/v1/customers/S{i:03d}", "crm", json={"annual_revenue": i})
    queue = stack.settings.control_queue
    handle: ScheduleHandle = stack.temporal.get_schedule_handle(schedules.SCHEDULE_ID)
    try:
        assert await schedules.sync_schedule(stack.temporal, bundle, queue) == "created"
        desc = await handle.describe()
        assert _at(desc) == (2, 0) and desc.schedule.spec.time_zone_name == "Asia/Shanghai"
        assert await schedules.sync_schedule(stack.temporal, bundle, queue) == "updated"

        # a scheduled run: its run id is the workflow id's suffix, the API shows its progress
        await handle.trigger()
        [wid] = await _until(lambda: _runs(stack, "segmentation:scheduled"))
        run_id = wid.removeprefix("segmentation:")

        async def done() -> dict[str, object] | None:
            got = (await stack.call("GET", f"/v1/segmentation-runs/{run_id}", "crm")).json()
            return got if got["status"] == "completed" else None

        progress = await _until(done)
        assert progress["done"] == 30 and progress["run_id"] == run_id

        # a control worker's follower: an activation starts one run; the schedule follows
        stop = asyncio.Event()
        follower = asyncio.create_task(schedules.follow(stack.temporal, sessions, queue, 0.2, stop))
        await asyncio.sleep(1.0)  # the follower has seen the active version (no run for it)
        assert await _runs(stack, "segmentation:activation-") == []
        files = {p.name: p.read_text() for p in (ROOT / "policies").glob("*.yaml")}
        files["processes.yaml"] = files["processes.yaml"].replace(
            'schedule: "0 2 * * *"', 'schedule: "30 3 * * *"'
        )
        r = await stack.call("POST", "/v1/policies", "policy_owner", json={"files": files})
        assert r.status_code == 201, r.text
        r = await stack.call("POST", f"/v1/policies/{r.json()['version']}/activate",
                             "policy_owner")  # fmt: skip
        assert r.status_code == 200, r.text
        [after] = await _until(lambda: _runs(stack, "segmentation:activation-"))
        await stack.temporal.get_workflow_handle(after).result()
        assert _at(await handle.describe()) == (3, 30)
        stop.set()
        await follower
    finally:
        with contextlib.suppress(Exception):
            await handle.delete()
