"""The arrears-risk strategy of a customer for the arrears ladder (workflows/arrears_strategy.py):
the strategy's flags (`strategies.yaml` link `arrears`, defaults in `processes.yaml` `arrears`)
and the policy's mechanics (`processes.yaml` `arrears_strategy`), durations in seconds."""

from __future__ import annotations

from typing import Any

import rules
from rules.durations import is_duration, parse_duration
from store.models import Assignment

FLAGS = ("early_reminder", "onsite_collection_early", "prepayment_recommended", "tracking")


def params(bundle: rules.Bundle, row: Assignment) -> dict[str, Any]:
    """Flags (policy default, then the customer's strategy) and mechanics."""
    defaults = bundle.processes.get("arrears", {})
    mine = (row.processes or {}).get("arrears", {})
    out: dict[str, Any] = {f: bool(mine.get(f, defaults.get(f, False))) for f in FLAGS}
    mechanics = bundle.processes.get("arrears_strategy", {})
    out.update({k: v for k, v in mechanics.items() if k != "description"})
    # the one duration of the section (its schema says so), as seconds for the workflow
    wait = mechanics.get("early_reminder_wait")
    if is_duration(wait):
        out["early_reminder_wait_seconds"] = parse_duration(str(wait)).total_seconds()
    return out
