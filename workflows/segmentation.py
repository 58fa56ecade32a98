"""Whole-population segmentation run, in batches that any worker may take.

Workflow id: `segmentation:{run_id}`. Input SegmentationRunInput; output SegmentationProgress.
- Steps: `segmentation_plan` (activity: active policy version, population size, batch bounds
  by customer id) -> `segmentation_batch` per batch, `parallelism` at a time (each batch
  evaluates its customers against the whole population's ABC ranks, writes assignments and
  applies the process transitions with bounded concurrency) -> `record_step` summary.
- Queries: `progress`. No signals, updates or timers.
- End states: completed with the totals; failed if a batch keeps failing (activity retries).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.payloads import (
        SegmentationBatch,
        SegmentationBatchResult,
        SegmentationPlan,
        SegmentationProgress,
        SegmentationRunInput,
        StepRecord,
    )

BATCH_TIMEOUT = timedelta(minutes=10)


@workflow.defn(name="segmentation_run")
class SegmentationRunWorkflow:
    """Re-segment every active customer under the active policy."""

    def __init__(self) -> None:
        self._progress = SegmentationProgress(run_id="", stage="planning")

    @workflow.query(name="progress")
    def progress(self) -> SegmentationProgress:
        """Batches and customers done so far."""
        return self._progress

    @workflow.run
    async def run(self, inp: SegmentationRunInput) -> SegmentationProgress:
        """Plan, run the batches, record the totals."""
        p = self._progress
        p.run_id = inp.run_id
        plan: SegmentationPlan = await workflow.execute_activity(
            "segmentation_plan",
            inp,
            result_type=SegmentationPlan,
            start_to_close_timeout=timedelta(minutes=2),
        )
        p.policy_version, p.total, p.batches = plan.policy_version, plan.total, len(plan.bounds)
        p.stage = "segmenting"
        started = workflow.now()
        batches = [
            SegmentationBatch(inp.run_id, plan.policy_version, lo, hi, inp.requested_by)
            for lo, hi in plan.bounds
        ]
        for i in range(0, len(batches), max(1, inp.parallelism)):
            chunk = batches[i : i + max(1, inp.parallelism)]
            results = await asyncio.gather(
                *(
                    workflow.execute_activity(
                        "segmentation_batch",
                        b,
                        result_type=SegmentationBatchResult,
                        start_to_close_timeout=BATCH_TIMEOUT,
                    )
                    for b in chunk
                )
            )
            for r in results:
                p.done += r.customers
                p.changed += r.changed
                p.processes_started += r.started
                p.processes_stopped += r.stopped
                p.batches_done += 1
        p.seconds = (workflow.now() - started).total_seconds()
        p.stage = "done"
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
