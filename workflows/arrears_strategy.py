"""How an arrears-risk strategy (paper 002) changes the ladder; pure, used by the workflow.

`plan.customer["strategy"]` (from activities/arrears_strategy.py) carries the customer's
strategy flags and the policy's mechanics (`processes.yaml` `arrears_strategy`):
- `early_reminder` (early_bill_reminder): the waits after the message reminders shrink to
  `early_reminder_wait`, so every reminder goes out earlier;
- `onsite_collection_early` (onsite_collection): the on-site collection step moves up to
  right after the `onsite_collection_after` step;
- `tracking` (arrears_tracking): the ladder is recorded as habitual arrears and the CRM told.
The jurisdiction's floor is applied to the ladder before and after (never weakened here: only
waits BEFORE the notice phase change, and the notice phase keeps its own leads).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from workflows.arrears_payloads import ArrearsPlan


def adjust(plan: ArrearsPlan) -> tuple[ArrearsPlan, dict[str, Any]]:
    """The plan with the strategy applied, and what changed (empty when nothing did)."""
    strategy: dict[str, Any] = plan.customer.get("strategy") or {}
    ladder = list(plan.ladder)
    changes: dict[str, Any] = {}
    if strategy.get("early_reminder") and strategy.get("early_reminder_wait_seconds") is not None:
        wait = float(strategy["early_reminder_wait_seconds"])
        ladder = [
            dataclasses.replace(s, wait_seconds=min(s.wait_seconds, wait)) if s.channel else s
            for s in ladder
        ]
        changes["early_reminder_wait_seconds"] = wait
    after = strategy.get("onsite_collection_after")
    if strategy.get("onsite_collection_early") and after:
        names = [s.step for s in ladder]
        if "onsite_collection" in names and after in names:
            step = ladder.pop(names.index("onsite_collection"))
            ladder.insert([s.step for s in ladder].index(after) + 1, step)
            changes["onsite_collection_after"] = after
    if strategy.get("tracking"):
        changes["tracking"] = True
    if not changes:
        return plan, {}
    changes["ladder"] = [s.step for s in ladder]
    return dataclasses.replace(plan, ladder=ladder), changes
