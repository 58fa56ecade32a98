"""Hazard rectification, closed loop (隐患整改闭环).

Workflow id: `hazard:{customer_id}:{inspection_id}`; input `HazardInput`, output
`ProcessResult`.

- Each round: a rectification notice over `notice_channels` with the deadline of the most
  severe open hazard (`deadline.<severity>`); wait for the `rectification_reported` signal or
  the deadline; then a `reinspection` task for the inspector with a result per hazard. Fixed
  hazards close; the process is closed when none is open, else another round. From round
  `rounds_before_authority_report` on, open hazards of `report_severities` not yet reported
  are filed with the power authority and a supervisor `hazard_authority_report` task is
  opened (not awaited: the loop goes on).
- Strategy parameters: `authority_reporting` (safety_high_risk) files after the first failed
  re-inspection instead of `rounds_before_authority_report`; `closed_loop`
  (rectification_closed_loop) escalates an overdue re-inspection task to
  `reinspection_escalation.to_role`. An important customer with non-compliant backup power is
  reported to the authority at the start. Open hazards found / fixed are written back to the
  customer's `open_hazards` (feedback loop).
- Signals: `rectification_reported` (RectificationSignal; ignored while a re-inspection is
  due), `cancel` (CancelSignal; the only other way out). Updates: `complete_task`. Queries: `state`.
- Timers: the rectification deadline; task due times (informational).
- End states: `closed`, `cancelled`, `not_applicable`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.activity_payloads import CustomerFeedback
    from workflows.inputs import HazardInput
    from workflows.outcomes import ProcessResult
    from workflows.process_base import ProcessBase
    from workflows.process_plans import HazardPlan, HazardTerms
    from workflows.signals import RectificationSignal


@workflow.defn(name="hazard")
class HazardWorkflow(ProcessBase):
    """Closed-loop rectification of one inspection's hazards; see the module docstring."""

    KIND = "hazard"

    def __init__(self) -> None:
        super().__init__()
        self._reported: RectificationSignal | None = None
        self._inspecting = False
        self._side: list[asyncio.Task[Any]] = []

    @workflow.signal(name="rectification_reported")
    def rectification_reported(self, signal: RectificationSignal) -> None:
        """The customer reports the hazards rectified; re-inspection follows at once. A
        report while a re-inspection is already due answers nothing new and is ignored; one
        at any other time (before the first notice too) ends the current round's wait."""
        if not self._inspecting:
            self._reported = signal

    @workflow.run
    async def run(self, inp: HazardInput) -> ProcessResult:
        """Rounds of notice, rectification and re-inspection until every hazard is fixed."""
        self._begin(inp.customer_id)
        plan = await self._typed_plan("hazard", HazardPlan)
        if not plan.active:
            return await self._finish("not_applicable", reason=plan.reason)
        p = plan.params
        open_hazards = {h.hazard_id: h for h in inp.hazards}
        severity = {h.hazard_id: h.severity for h in inp.hazards}
        self._facts.update(
            {
                "inspection_id": inp.inspection_id,
                "open": sorted(open_hazards),
                "fixed": [],
                "reported": [],
                "round": 0,
            }
        )
        await self._step("started", hazards=[h.__dict__ for h in inp.hazards])
        cid = inp.customer_id
        await self._feedback("found", CustomerFeedback(cid, {"open_hazards": len(open_hazards)}))
        facts = p.customer
        backup = (
            facts.get("category") == "important" and facts.get("backup_power_compliant") is False
        )
        # an important customer's non-compliant backup power goes to the authority at once
        if backup and workflow.patched("backup-power-report"):
            await self._external(
                "backup_power", "power_authority", "backup_power_report", category="important"
            )
            await self._step("reported_to_authority", round=0, reason="backup_power")
        rank = {"general": 0, "serious": 1, "critical": 2}
        round_no = 0
        while open_hazards and self._cancel is None:
            round_no += 1
            self._facts["round"] = round_no
            worst = max((severity[h] for h in open_hazards), key=lambda s: rank.get(s, 0))
            deadline = p.deadline.of(worst)
            self._set_stage(f"rectification:{round_no}")
            sent = await self._notify(
                f"r{round_no}/notice",
                list(p.notice_channels),
                "rectification_notice",
                hazards=sorted(open_hazards),
                deadline_seconds=deadline,
            )
            await self._step(
                "rectification_notice",
                round=round_no,
                severity=worst,
                deadline_seconds=deadline,
                delivered=sent.delivered,
            )
            reported = await self._sleep(deadline, lambda: self._reported is not None)
            # the report is consumed here, not at the top of the round: one that arrives
            # while the previous round winds up (steps, authority filing) must not be lost
            self._reported, self._inspecting = None, True
            if self._cancel is not None:
                break
            await self._step(
                "rectification_reported" if reported else "deadline_passed", round=round_no
            )
            self._set_stage(f"reinspection:{round_no}")
            spec = self._spec(
                f"r{round_no}/reinspection",
                p.reinspection.block(),
                {
                    "hazards": [open_hazards[h].__dict__ for h in sorted(open_hazards)],
                    "round": round_no,
                },
            )
            # closed loop (strategy rectification_closed_loop): an overdue re-inspection
            # escalates to the supervisor
            late = p.reinspection_escalation
            escalate = None
            if p.closed_loop and late and workflow.patched("reinspection-escalation"):
                escalate = (p.reinspection.due_seconds, late.to_role)
            done = await self._task(spec, escalate=escalate)
            self._inspecting = False
            if done is None:
                break
            fixed = [
                r["hazard_id"]
                for r in done.result["results"]
                if r["fixed"] and r["hazard_id"] in open_hazards
            ]
            for hazard_id in fixed:
                del open_hazards[hazard_id]
            await self._feedback(
                f"r{round_no}/fixed", *([CustomerFeedback(cid, {"open_hazards": -len(fixed)})]
                                        if fixed else [])
            )  # fmt: skip
            self._facts["fixed"] = sorted({*self._facts["fixed"], *fixed})
            self._facts["open"] = sorted(open_hazards)
            await self._step(
                "reinspected",
                round=round_no,
                fixed=fixed,
                open=sorted(open_hazards),
                actor=done.actor,
            )
            # strategy authority_reporting: report after the first failed re-inspection
            rounds = 1 if p.authority_reporting else p.rounds_before_authority_report
            if open_hazards and round_no >= rounds:
                await self._report(p, open_hazards, severity, round_no)
        if self._cancel is not None:
            return await self._finish("cancelled")
        return await self._finish("closed")

    async def _report(
        self,
        p: HazardTerms,
        open_hazards: dict[str, Any],
        severity: dict[str, str],
        round_no: int,
    ) -> None:
        due = [
            h
            for h in sorted(open_hazards)
            if severity[h] in p.report_severities and h not in self._facts["reported"]
        ]
        if not due or p.authority_report is None:
            return
        await self._external(
            f"r{round_no}/authority",
            "power_authority",
            "hazard_report",
            hazards=[open_hazards[h].__dict__ for h in due],
        )
        self._facts["reported"] = sorted({*self._facts["reported"], *due})
        await self._step("reported_to_authority", round=round_no, hazards=due)
        # the supervisor's task runs beside the loop (which goes on); cancelled at the end
        spec = self._spec(
            f"r{round_no}/authority_report", p.authority_report.block(), {"hazards": due}
        )
        await self._open_task(spec)
        self._side.append(asyncio.create_task(self._await_task(spec)))
