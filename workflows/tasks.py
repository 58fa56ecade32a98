"""Human tasks inside a workflow: open, wait for the completion Update, escalate, close.

A workflow class inherits `HumanTasks` to get the `complete_task` Update and its validator.
The validator refuses completions of tasks that are not open here and payloads the kind's
completion model refuses (workflows/task_kinds.py), so a refused completion never enters the
history. The completion reaches the workflow as sent (a dict), as recorded histories hold it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.activity_payloads import StepRecord
    from workflows.task_kinds import TASK_KINDS, completion_errors
    from workflows.task_payloads import (
        CancelTasks,
        TaskClose,
        TaskCompletion,
        TaskCompletionResult,
        TaskSpec,
    )

ACTIVITY_TIMEOUT = timedelta(seconds=30)


def task_id_for(workflow_id: str, step: str) -> str:
    """Deterministic, URL-safe task id: a retried activity never opens a second task."""
    return "tk_" + hashlib.sha256(f"{workflow_id}|{step}".encode()).hexdigest()[:24]


class HumanTasks:
    """Mixin: the `complete_task` Update, open-task bookkeeping and the task helpers."""

    def __init__(self) -> None:
        self._open: dict[str, TaskSpec] = {}
        self._done: dict[str, TaskCompletion] = {}
        self._stage = "starting"

    @workflow.update(name="complete_task")
    async def complete_task(self, completion: TaskCompletion) -> TaskCompletionResult:
        """Deliver a person's completion; returns once the workflow has taken it in and the
        inbox row is closed."""
        self._done[completion.task_id] = completion
        await workflow.wait_condition(lambda: completion.task_id not in self._open)
        taken = self._done[completion.task_id]
        return TaskCompletionResult(
            completion.task_id, True, self._stage, taken.result, taken.actor
        )

    @complete_task.validator
    def _validate_completion(self, completion: TaskCompletion) -> None:
        spec = self._open.get(completion.task_id)
        if spec is None or completion.task_id in self._done:
            raise ValueError(f"task {completion.task_id} is not open in this workflow")
        issues = completion_errors(spec.kind, completion.result)
        if issues:
            raise ValueError("; ".join(f"{i.path or '(payload)'}: {i.message}" for i in issues))

    async def record(self, step: StepRecord) -> None:
        """Write one step to the audit log (an activity: workflows do no I/O)."""
        await workflow.execute_activity(
            "record_step", step, start_to_close_timeout=ACTIVITY_TIMEOUT
        )

    async def run_task(
        self,
        spec: TaskSpec,
        escalate_after: float | None = None,
        escalate_to: str = "",
        interrupt: Callable[[], bool] | None = None,
    ) -> TaskCompletion | None:
        """Open a task and wait for its completion; escalate once when it runs late.

        Returns None when `interrupt` becomes true first (the task stays open for the
        caller to cancel with the rest of the workflow's tasks).
        """
        if not spec.title:
            spec.title = TASK_KINDS[spec.kind]["title"]
        # registered before the inbox row exists, so a completion sent as soon as the row
        # shows is never refused as "not open"
        self._open[spec.task_id] = spec
        await workflow.execute_activity("open_task", spec, start_to_close_timeout=ACTIVITY_TIMEOUT)
        stop = interrupt or (lambda: False)

        def done() -> bool:
            return spec.task_id in self._done or stop()

        if escalate_after is not None and escalate_to:
            try:
                await workflow.wait_condition(done, timeout=timedelta(seconds=escalate_after))
            except TimeoutError:
                await workflow.execute_activity(
                    "close_task",
                    TaskClose(spec.task_id, "escalated", queue=escalate_to),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                )
        await workflow.wait_condition(done)
        if spec.task_id not in self._done:
            return None
        completion = self._done[spec.task_id]
        # close the inbox row before the Update returns (see `complete_task`)
        await workflow.execute_activity(
            "close_task",
            TaskClose(spec.task_id, "completed", completion.result, completion.actor),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        del self._open[spec.task_id]
        return completion

    async def cancel_open_tasks(self, workflow_id: str, reason: str) -> None:
        """Cancel whatever the inbox still shows for this workflow (at its end)."""
        await workflow.execute_activity(
            "cancel_tasks",
            CancelTasks(workflow_id, reason),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
