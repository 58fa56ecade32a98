"""Whole-population segmentation run, in keyset batches that any worker may take.

Workflow id: `segmentation:{run_id}`; task queue: the control queue (it never waits behind
customer processes). Input SegmentationRunInput; output SegmentationProgress.
- Steps: `segmentation_plan` (activity: ranks the population once, stores the ABC cut points
  and the keyset batches with the run) -> `segmentation_batch` per batch number, at most
  `parallelism` in flight (each classifies its own customers against the cut points, writes
  the changed assignments and queues the process transitions) -> `record_step` summary.
- Continue-as-new after `batches_per_run` batches, carrying the plan, the next batch and the
  progress, so the history stays small for any population.
- Started by `POST /v1/segmentation-runs`, by the Schedule `segmentation-scheduled` (policy
  `population_run`: cron + time zone; the run id is then the workflow id's suffix) or after a
  policy activation (services/schedules.py).
- Queries: `progress` (batches and customers done, rate, ETA). No signals, updates, timers.
- End states: completed with the totals; failed if a batch keeps failing (activity retries).
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.activity_payloads import StepRecord
    from workflows.segmentation_payloads import (
        SegmentationBatch,
        SegmentationBatchResult,
        SegmentationPlan,
        SegmentationProgress,
        SegmentationRunInput,
    )

BATCH_TIMEOUT = timedelta(minutes=10)


@workflow.defn(name="segmentation_run")
class SegmentationRunWorkflow:
    """Re-segment every active customer under the active policy."""

    def __init__(self) -> None:
        self._progress = SegmentationProgress(run_id="", stage="planning")

    @workflow.query(name="progress")
    def progress(self) -> SegmentationProgress:
        """Batches and customers done so far, rate and estimated time to go."""
        return self._progress

    def _took(self, r: SegmentationBatchResult) -> None:
        p = self._progress
        p.done += r.customers
        p.changed += r.changed
        p.processes_started += r.started
        p.processes_stopped += r.stopped
        p.batches_done += 1
        p.seconds = (workflow.now() - datetime.fromisoformat(p.started_at)).total_seconds()
        p.customers_per_second = p.done / p.seconds if p.seconds > 0 else 0.0
        rate = p.customers_per_second
        p.eta_seconds = max(p.total - p.done, 0) / rate if rate > 0 else None

    @workflow.run
    async def run(self, inp: SegmentationRunInput) -> SegmentationProgress:
        """Plan (first run only), run this run's share of the batches, continue or finish."""
        if inp.progress is not None:
            self._progress = inp.progress
            self._progress.runs += 1
        if not inp.run_id:  # started by the Schedule: the run id is the workflow id's suffix
            wid = workflow.info().workflow_id
            inp = dataclasses.replace(inp, run_id=wid.removeprefix("segmentation:"))
        p = self._progress
        p.run_id = inp.run_id
        plan = inp.plan
        if plan is None:
            p.started_at = workflow.now().isoformat()
            plan = await workflow.execute_activity(
                "segmentation_plan",
                inp,
                result_type=SegmentationPlan,
                start_to_close_timeout=timedelta(minutes=30),
            )
            p.policy_version, p.total, p.batches = plan.policy_version, plan.total, plan.batches
        p.stage = "segmenting"
        last = min(plan.batches, inp.next_seq + max(1, inp.batches_per_run))
        pending = list(range(inp.next_seq, last))
        running: set[asyncio.Task[SegmentationBatchResult]] = set()
        while pending or running:
            while pending and len(running) < max(1, inp.parallelism):
                batch = SegmentationBatch(
                    inp.run_id, plan.policy_version, actor=inp.requested_by, seq=pending.pop(0)
                )
                running.add(
                    asyncio.ensure_future(
                        workflow.execute_activity(
                            "segmentation_batch",
                            batch,
                            result_type=SegmentationBatchResult,
                            start_to_close_timeout=BATCH_TIMEOUT,
                        )
                    )
                )
            done, left = await workflow.wait(running, return_when=asyncio.FIRST_COMPLETED)
            running = set(left)
            for task in done:
                self._took(task.result())
        if last < plan.batches:
            workflow.continue_as_new(
                SegmentationRunInput(
                    inp.run_id, inp.requested_by, inp.batch_size, inp.parallelism,
                    plan=plan, next_seq=last, progress=p, batches_per_run=inp.batches_per_run,
                )
            )  # fmt: skip
        p.stage = "done"
        p.eta_seconds = 0.0
        await workflow.execute_activity(
            "record_step",
            StepRecord(
                workflow.info().workflow_id,
                "",
                "segmentation_done",
                actor=inp.requested_by,
                policy_version=p.policy_version,
                detail={
                    "customers": p.done,
                    "changed": p.changed,
                    "seconds": p.seconds,
                    "started": p.processes_started,
                    "stopped": p.processes_stopped,
                },
            ),
            start_to_close_timeout=timedelta(seconds=30),
        )
        return p
