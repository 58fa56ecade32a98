"""Typed parameters of the outage campaign and of the one-task processes, built at load.

`outage_notice` (the planned-outage campaign), `outage_plan_review` (the planner's task the
campaign opens on objections) and `service_follow_up` (the call the service request opens for
proactive service) used to reach their workflows as the raw `processes.yaml` dict, durations
found by guessing from key names (`due` -> `due_seconds`); a task block without a kind, or a
customer whose strategy asked for pre-negotiation under a policy without a negotiation task,
surfaced as a KeyError inside a running workflow. As for the other processes
(`rules.process_params`): every key is read once, at load, with file:line:col, and durations
are typed where the schema says they are durations.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

from rules.arrears_params import TaskBlock, _secs
from rules.durations import is_duration
from rules.errors import PolicyIssue
from rules.process_params import _Checks, _section, _switch
from rules.yamlpos import Document

ONE_TASK = ("outage_plan_review", "service_follow_up")  # processes that are one task


@dataclass(frozen=True)
class OutageParams:
    """Everything the outage campaign reads from the policy (per customer: `for_customer`)."""

    lead_seconds: float  # how long before the outage the notice goes out
    channels: tuple[str, ...]
    pre_negotiation_required: bool
    negotiation: TaskBlock | None  # None: the policy has no pre-negotiation (nothing asks)
    satisfaction_callback_required: bool
    satisfaction_after_seconds: float  # after the outage ends
    satisfaction: TaskBlock | None  # None: the policy has no call-back (nothing asks)

    def for_customer(self, overrides: dict[str, Any]) -> OutageParams:
        """The customer's strategy (`outage_notice` link: channels, lead and the two
        switches) applied; a value of the wrong type (a store row written under an older
        bundle) is ignored, and a switch the policy has no task for stays off."""
        channels = overrides.get("channels")
        lead = overrides.get("lead")
        negotiate = _switch(overrides, "pre_negotiation_required", self.pre_negotiation_required)
        call = _switch(
            overrides, "satisfaction_callback_required", self.satisfaction_callback_required
        )
        return replace(
            self,
            channels=tuple(str(c) for c in channels)
            if isinstance(channels, list)
            else self.channels,
            lead_seconds=_secs(lead)
            if is_duration(lead) and _secs(lead) > 0
            else self.lead_seconds,
            pre_negotiation_required=negotiate and self.negotiation is not None,
            satisfaction_callback_required=call and self.satisfaction is not None,
        )


@dataclass(frozen=True)
class TaskParams:
    """A process that is one task (outage_plan_review, service_follow_up)."""

    task: TaskBlock


def build_outage(
    doc: Document, issues: list[PolicyIssue], switchable: Collection[str] = ()
) -> OutageParams | None:
    """The typed outage_notice parameters of a schema-valid processes.yaml; None (with
    issues). `switchable`: the keys a strategy may set (strategies.yaml `processes` link):
    a switch the policy or a strategy can turn on needs its task block."""
    c = _section(doc, "outage_notice")
    if c is None:
        return None
    r = _Checks(doc, issues)
    where = ("outage_notice",)
    blocks: dict[str, TaskBlock | None] = {}
    after = 0.0
    for switch, key in (("pre_negotiation_required", "pre_negotiation"),
                        ("satisfaction_callback_required", "satisfaction_callback")):  # fmt: skip
        block = c.get(key)
        if not isinstance(block, dict):
            if c.get(switch) is True or switch in switchable:
                why = (
                    f"{switch} is true" if c.get(switch) is True else f"a strategy may set {switch}"
                )
                r.fail(where, f"missing required key {key!r} ({why})")
            blocks[key] = None
            continue
        blocks[key] = r.task_of(block.get("task"), (*where, key, "task"))
        if key == "satisfaction_callback":
            after = _secs(block.get("after"))
    params = OutageParams(
        lead_seconds=r.positive(c, where, "lead"),
        channels=tuple(str(x) for x in c.get("channels", [])),
        pre_negotiation_required=bool(c.get("pre_negotiation_required", False)),
        negotiation=blocks["pre_negotiation"],
        satisfaction_callback_required=bool(c.get("satisfaction_callback_required", False)),
        satisfaction_after_seconds=after,
        satisfaction=blocks["satisfaction_callback"],
    )
    return params if r.ok else None


def build_one_task(doc: Document, issues: list[PolicyIssue]) -> dict[str, TaskParams]:
    """The typed parameters of each one-task process that builds without issues."""
    out: dict[str, TaskParams] = {}
    for name in ONE_TASK:
        c = _section(doc, name)
        if c is None:
            continue
        r = _Checks(doc, issues)
        params = TaskParams(task=r.task_of(c.get("task"), (name, "task")))
        if r.ok:
            out[name] = params
    return out
