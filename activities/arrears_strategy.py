"""The arrears-risk strategy of a customer for the arrears ladder (workflows/arrears_strategy.py):
the strategy's flags (`strategies.yaml` link `arrears`, defaults in `processes.yaml` `arrears`)
and the policy's mechanics (`processes.yaml` `arrears_strategy`), durations in seconds."""

from __future__ import annotations

from typing import Any

import rules
from activities.inbox import with_seconds
from store.models import Assignment

FLAGS = ("early_reminder", "onsite_collection_early", "prepayment_recommended", "tracking")


def params(bundle: rules.Bundle, row: Assignment) -> dict[str, Any]:
    """Flags (policy default, then the customer's strategy) and mechanics."""
    defaults = bundle.processes.get("arrears", {})
    mine = (row.processes or {}).get("arrears", {})
    out: dict[str, Any] = {f: bool(mine.get(f, defaults.get(f, False))) for f in FLAGS}
    out.update(with_seconds(bundle.processes.get("arrears_strategy", {})))
    out.pop("description", None)
    return out
