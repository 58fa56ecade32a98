"""The legacy parameter dict (tests/workflows/legacy_plans.py): ISO durations doubled as plain
seconds, as the recorded histories hold them."""

from __future__ import annotations

from tests.workflows.legacy_plans import with_seconds


def test_with_seconds_converts_durations_at_every_depth() -> None:
    out = with_seconds({"lead": "P7D", "task": {"due": "PT48H"}, "steps": [{"wait": "P3D"}]})
    assert out["lead_seconds"] == 7 * 86400.0
    assert out["task"]["due_seconds"] == 48 * 3600.0
    assert out["steps"][0]["wait_seconds"] == 3 * 86400.0


def test_with_seconds_leaves_text_starting_with_p_alone() -> None:
    # "Planned-outage ..." once matched a bare `^P` and failed the activity for ever
    text = "Planned-outage notification campaign"
    out = with_seconds({"description": text, "channel": "phone", "mode": "P"})
    assert out == {"description": text, "channel": "phone", "mode": "P"}
