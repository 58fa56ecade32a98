"""The parameter dicts the plan activities answered before plans were typed.

Recorded histories hold them (`load_plan` / `load_process_params` results): each ISO-8601
duration `x` also appeared as `x_seconds`, at every depth. The typed plans must decode from
this shape, so the tests build it here; the service itself no longer does.
"""

from __future__ import annotations

from typing import Any

import rules
from rules.durations import is_duration


def with_seconds(params: dict[str, Any]) -> dict[str, Any]:
    """Copy of `params` where each ISO-8601 duration `x` also appears as `x_seconds`."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out[key] = with_seconds(value)
        elif isinstance(value, list):
            out[key] = [with_seconds(v) if isinstance(v, dict) else v for v in value]
        else:
            out[key] = value
            # the full grammar, not just a leading "P": free text ("Planned-outage ...") is
            # no duration
            if is_duration(value):
                out[f"{key}_seconds"] = rules.parse_duration(value).total_seconds()
    return out


def legacy_plan(
    active: bool, policy_version: str, params: dict[str, Any], reason: str = ""
) -> dict[str, Any]:
    """A plan as the activities answered it before typing (`params`: with `with_seconds`)."""
    return {"active": active, "policy_version": policy_version, "params": params, "reason": reason}
