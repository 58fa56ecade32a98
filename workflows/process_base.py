"""Common machinery of the event-driven process workflows (arrears, hazard, closure, ...).

`ProcessBase` adds to `HumanTasks`: the `cancel` signal (a supervisor ends the process with a
reason), the `state` query, search attributes (CustomerId / ProcessKind / Stage /
PolicyVersion, never personal data), the pinned policy plan, interruptible timers, tasks that
may time out without blocking the process, and the adapter activities. Every side effect is
an activity keyed by workflow id + step, so replays and retries never repeat one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from workflows.activity_payloads import (
        CustomerFeedback,
        ExternalRequest,
        ExternalResult,
        FeedbackUpdate,
        NoticeRequest,
        NoticeResult,
        PlanRequest,
        ProcessParamsRequest,
        StepRecord,
    )
    from workflows.attributes import SA_CUSTOMER, SA_KIND, SA_POLICY, SA_STAGE
    from workflows.outcomes import ProcessResult, ProcessState
    from workflows.signals import CancelSignal
    from workflows.task_kinds import TASK_KINDS
    from workflows.task_payloads import TaskClose, TaskCompletion, TaskSpec
    from workflows.tasks import ACTIVITY_TIMEOUT, HumanTasks, task_id_for

STAGE = SearchAttributeKey.for_keyword(SA_STAGE)
POLICY = SearchAttributeKey.for_keyword(SA_POLICY)
CUSTOMER = SearchAttributeKey.for_keyword(SA_CUSTOMER)
KIND = SearchAttributeKey.for_keyword(SA_KIND)


class Pinned(Protocol):
    """A plan: it names the policy version the process runs under."""

    policy_version: str


P = TypeVar("P", bound=Pinned)


def kind_of(task: dict[str, Any]) -> str:
    """Task kind of a policy task block (`kind` or `task`)."""
    return str(task.get("kind") or task["task"])


class ProcessBase(HumanTasks):
    """Mixin of every event-driven process workflow."""

    KIND = "process"

    def __init__(self) -> None:
        super().__init__()
        self._cancel: CancelSignal | None = None
        self._version = ""
        self._customer = ""
        self._history: list[str] = []
        self._facts: dict[str, Any] = {}

    @workflow.signal(name="cancel")
    def cancel(self, signal: CancelSignal) -> None:
        """A supervisor ends the process (reason recorded, open tasks cancelled)."""
        if self._cancel is None:
            self._cancel = signal

    @workflow.query(name="state")
    def state(self) -> ProcessState:
        """Where the process stands."""
        return ProcessState(
            workflow_id=workflow.info().workflow_id,
            kind=self.KIND,
            stage=self._stage,
            policy_version=self._version,
            customer_id=self._customer,
            open_tasks=sorted(self._open),
            history=list(self._history),
            facts=dict(self._facts),
        )

    # ---- bookkeeping -------------------------------------------------------------------

    @property
    def wid(self) -> str:
        """This workflow's id (the business key)."""
        return workflow.info().workflow_id

    def _begin(self, customer_id: str) -> None:
        self._customer = customer_id
        attrs = [KIND.value_set(self.KIND)]
        if customer_id:
            attrs.append(CUSTOMER.value_set(customer_id))
        workflow.upsert_search_attributes(attrs)

    def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([STAGE.value_set(stage)])

    def _pin(self, version: str) -> None:
        self._version = version
        workflow.upsert_search_attributes([POLICY.value_set(version)])

    async def _typed_plan(self, process: str, result_type: type[P]) -> P:
        """The customer's typed plan (workflows.process_plans) under the active policy; the
        version is pinned from here on."""
        plan: P = await workflow.execute_activity(
            "load_plan",
            PlanRequest(self._customer, process),
            result_type=result_type,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        self._pin(plan.policy_version)
        return plan

    async def _policy_plan(self, process: str, result_type: type[P], version: str = "") -> P:
        """The typed plan of a process not about one customer under policy `version` (empty:
        the active one, which the caller may pin)."""
        plan: P = await workflow.execute_activity(
            "load_process_params",
            ProcessParamsRequest(process, version),
            result_type=result_type,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        return plan

    async def _step(self, step: str, **detail: Any) -> None:
        """Record one step in the audit log (and in the `state` query's history)."""
        self._history.append(step)
        await self.record(
            StepRecord(
                self.wid,
                self._customer,
                step,
                policy_version=self._version,
                detail={"at": self._now(), **detail},
            )
        )

    def _now(self) -> str:
        return workflow.now().isoformat()

    # ---- timers ------------------------------------------------------------------------

    async def _sleep(self, seconds: float, wake: Callable[[], bool] | None = None) -> bool:
        """Sleep `seconds` unless `wake` (or a cancel) comes first; True when woken."""
        cond = wake or (lambda: False)
        if cond() or self._cancel:
            return True
        if seconds <= 0:
            return False
        try:
            await workflow.wait_condition(
                lambda: cond() or self._cancel is not None, timeout=timedelta(seconds=seconds)
            )
            return True
        except TimeoutError:
            return False

    async def _until(self, at: datetime, wake: Callable[[], bool] | None = None) -> bool:
        return await self._sleep((at - workflow.now()).total_seconds(), wake)

    # ---- tasks -------------------------------------------------------------------------

    def _spec(
        self,
        step: str,
        task: dict[str, Any],
        context: dict[str, Any] | None = None,
        due_seconds: float | None = None,
        queue: str | None = None,
    ) -> TaskSpec:
        kind = kind_of(task)
        return TaskSpec(
            task_id=task_id_for(self.wid, step),
            workflow_id=self.wid,
            kind=kind,
            customer_id=self._customer,
            queue=queue or str(task["assignee_role"]),
            due_in_seconds=float(
                due_seconds if due_seconds is not None else task.get("due_seconds", 0.0)
            ),
            title=TASK_KINDS[kind]["title"],
            context={"step": step, **(context or {})},
            policy_version=self._version,
        )

    async def _open_task(self, spec: TaskSpec) -> None:
        # registered before the inbox row exists: a person who sees the row at once must not
        # have the completion refused as "not open" by the Update validator
        self._open[spec.task_id] = spec
        await workflow.execute_activity("open_task", spec, start_to_close_timeout=ACTIVITY_TIMEOUT)

    async def _await_task(
        self,
        spec: TaskSpec,
        timeout: float | None = None,
        wake: Callable[[], bool] | None = None,
        escalate: tuple[float, str] | None = None,
    ) -> TaskCompletion | None:
        """Wait for the task's completion; None on `timeout`, `wake` or cancel (task stays
        open: the caller drops it or leaves it to the end's cancellation)."""
        cond = wake or (lambda: False)

        def done() -> bool:
            return spec.task_id in self._done or cond() or self._cancel is not None

        deadline = workflow.now() + timedelta(seconds=timeout) if timeout is not None else None
        if escalate is not None and (timeout is None or escalate[0] < timeout):
            try:
                await workflow.wait_condition(done, timeout=timedelta(seconds=max(escalate[0], 1)))
            except TimeoutError:
                await workflow.execute_activity(
                    "close_task",
                    TaskClose(spec.task_id, "escalated", queue=escalate[1]),
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                )
                await self._step(
                    f"{spec.context.get('step', spec.kind)}.escalated",
                    task_id=spec.task_id,
                    to=escalate[1],
                )
        try:
            left = None if deadline is None else (deadline - workflow.now()).total_seconds()
            await workflow.wait_condition(
                done, timeout=None if left is None else timedelta(seconds=max(left, 1.0))
            )
        except TimeoutError:
            pass
        if spec.task_id not in self._done:
            return None
        completion = self._done[spec.task_id]
        # the inbox row closes before the Update returns: whoever completed the task never
        # sees it still open afterwards
        await workflow.execute_activity(
            "close_task",
            TaskClose(spec.task_id, "completed", completion.result, completion.actor),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        self._open.pop(spec.task_id, None)
        return completion

    async def _task(self, spec: TaskSpec, **kw: Any) -> TaskCompletion | None:
        await self._open_task(spec)
        return await self._await_task(spec, **kw)

    async def _drop_task(self, task_id: str, reason: str) -> None:
        """Withdraw an open task the process no longer waits for."""
        if self._open.pop(task_id, None) is not None and task_id not in self._done:
            await workflow.execute_activity(
                "close_task",
                TaskClose(task_id, "cancelled", {"reason": reason}),
                start_to_close_timeout=ACTIVITY_TIMEOUT,
            )

    # ---- adapters ----------------------------------------------------------------------

    async def _notify(
        self,
        step: str,
        channels: list[str],
        template: str,
        customer_id: str | None = None,
        **data: Any,
    ) -> NoticeResult:
        result: NoticeResult = await workflow.execute_activity(
            "send_notice",
            NoticeRequest(
                self.wid,
                step,
                customer_id or self._customer,
                list(channels),
                template,
                self._now(),
                data,
            ),
            result_type=NoticeResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        return result

    async def _external(self, step: str, adapter: str, action: str, **data: Any) -> ExternalResult:
        result: ExternalResult = await workflow.execute_activity(
            "external_request",
            ExternalRequest(self.wid, step, self._customer, adapter, action, self._now(), data),
            result_type=ExternalResult,
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )
        return result

    async def _feedback(self, step: str, *updates: CustomerFeedback) -> None:
        """Write what the process learnt back to the customers' records (feedback loop);
        runs started before the loop existed replay without it."""
        if not updates or not workflow.patched("feedback-loop"):
            return
        await workflow.execute_activity(
            "apply_feedback",
            FeedbackUpdate(self.wid, step, list(updates)),
            start_to_close_timeout=ACTIVITY_TIMEOUT,
        )

    # ---- the end -----------------------------------------------------------------------

    async def _finish(self, outcome: str, **facts: Any) -> ProcessResult:
        """End: cancel what the inbox still shows, record the outcome, return it."""
        self._facts.update(facts)
        self._set_stage(outcome)
        reason = self._cancel.reason if self._cancel else outcome
        await self.cancel_open_tasks(self.wid, reason)
        self._open.clear()
        detail: dict[str, Any] = {"outcome": outcome, "facts": self._facts}
        if self._cancel:
            detail["cancelled_by"] = self._cancel.actor
            detail["reason"] = self._cancel.reason
        await self._step("ended", **detail)
        return ProcessResult(outcome, self._stage, self._version, dict(self._facts))
