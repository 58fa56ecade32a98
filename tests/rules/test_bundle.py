"""The shipped policy bundle loads, carries the process parameters and validates via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rules
from rules.cli import main
from rules.loader import FILES
from tests.rules.conftest import POLICIES


def test_shipped_bundle_loads(bundle: rules.Bundle) -> None:
    assert bundle.version.startswith("sha256:") and len(bundle.version) == 7 + 16
    assert set(bundle.texts) == set(FILES)
    assert [t.id for t in bundle.tags] == [
        "high_value", "outage_sensitive", "arrears_high_risk", "channel_active",
        "channel_silent", "safety_high_risk",
    ]  # fmt: skip
    assert [r.label for r in bundle.category_rules] == [
        "important", "key_attention", "large", "residential",
    ]  # fmt: skip
    assert bundle.category_default == "other"
    assert bundle.tier_names == ("platinum", "gold", "silver", "standard")
    assert bundle.abc.to_json() == {
        "metric": "annual_revenue", "cuts": {"A": 0.05, "B": 0.2}, "rest": "C",
        "partition_by": None,
    }  # fmt: skip


def test_every_file_has_its_schema_header() -> None:
    for name in FILES:
        first = (POLICIES / name).read_text().splitlines()[0]
        assert first == f"# yaml-language-server: $schema=./schema/{name[:-5]}.schema.json"
        schema = json.loads((POLICIES / "schema" / f"{name[:-5]}.schema.json").read_text())
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _walk_schema(node: object, path: str) -> list[str]:
    missing: list[str] = []
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            if node.get("additionalProperties") is not False:
                missing.append(f"{path}: additionalProperties is not false")
            for key, sub in props.items():
                if "description" not in sub:
                    missing.append(f"{path}.{key}: no description")
        for key, sub in node.items():
            missing += _walk_schema(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            missing += _walk_schema(sub, f"{path}[{i}]")
    return missing


@pytest.mark.parametrize("name", FILES)
def test_schemas_describe_every_property(name: str) -> None:
    schema = json.loads((POLICIES / "schema" / f"{name[:-5]}.schema.json").read_text())
    assert _walk_schema(schema, name) == []


def test_process_parameters_for_workflows(bundle: rules.Bundle) -> None:
    procs = bundle.processes
    assert set(procs) == {
        "callback", "key_account_visit", "service_request", "outage_notice", "arrears",
        "hazard", "closure", "service_follow_up", "key_account_meeting", "record_verification",
        "special_inspection", "electrician_training", "routing", "outage_plan_review",
        "population_run",
        "arrears_strategy", "forecast",
    }  # fmt: skip
    cb = procs["callback"]
    assert (cb["period"], cb["jitter"], cb["retry_after"], cb["max_tries"]) == (
        "P3M", "P7D", "P3D", 3,
    )  # fmt: skip
    assert cb["task"] == {"kind": "callback_call", "assignee_role": "agent", "due": "P5D"}
    assert cb["escalation"] == {"after": "PT48H", "to_role": "supervisor"}
    steps = [s["step"] for s in procs["arrears"]["steps"]]
    assert steps == [
        "sms_reminder", "wechat_reminder", "phone_reminder", "onsite_collection",
        "prepayment_conversion", "disconnection_notice", "renotice", "disconnection",
    ]  # fmt: skip
    notice = procs["arrears"]["steps"][5]
    assert (notice["notice_min_days"], notice["notice_max_days"]) == (3, 7)
    assert procs["arrears"]["steps"][6]["before"] == "PT30M"
    assert procs["arrears"]["reconnection_within"] == "PT24H"
    assert procs["arrears"]["supervisor_approval_categories"] == ["important", "key_attention"]
    assert procs["arrears"]["authority_filing_categories"] == ["important"]
    assert procs["hazard"]["deadline"] == {"general": "P30D", "serious": "P15D", "critical": "P3D"}
    assert procs["hazard"]["rounds_before_authority_report"] == 2
    assert procs["service_request"]["warn_at"] == 0.75
    assert procs["outage_notice"]["lead"] == "P7D"
    json.dumps(procs)  # JSON-able as it is, for workflow payloads


def test_calendars(bundle: rules.Bundle) -> None:
    cal = bundle.calendars
    assert cal["timezone"] == "Asia/Shanghai"
    assert cal["disconnection_window"] == {
        "weekdays": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00",
    }  # fmt: skip
    assert {"name": "National Day 2026", "from": "2026-10-01", "to": "2026-10-07"} in cal[
        "holidays"
    ]
    json.dumps(cal)


def test_durations() -> None:
    assert rules.parse_duration("P3M").days == 91
    assert rules.parse_duration("PT48H").total_seconds() == 48 * 3600
    assert rules.parse_duration("PT30M").total_seconds() == 1800
    with pytest.raises(ValueError, match="P3X"):
        rules.parse_duration("P3X")


def test_version_ignores_comments_but_not_content() -> None:
    texts = {name: (POLICIES / name).read_text() for name in FILES}
    base = rules.load_bundle_from_texts(texts).version
    commented = dict(texts, **{"points.yaml": texts["points.yaml"] + "\n# a comment\n"})
    assert rules.load_bundle_from_texts(commented).version == base
    changed = dict(
        texts, **{"points.yaml": texts["points.yaml"].replace("survey: 50", "survey: 60")}
    )
    assert rules.load_bundle_from_texts(changed).version != base


def test_cli_validate_shipped(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "validate", str(POLICIES)]) == 0
    assert "ok (sha256:" in capsys.readouterr().out


def test_cli_validate_reports_issues(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in FILES:
        (tmp_path / name).write_text((POLICIES / name).read_text())
    seg = tmp_path / "segments.yaml"
    seg.write_text(seg.read_text().replace("op: gte, value: 315", "op: gtee, value: 315"))
    assert main(["policy", "validate", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        f"{tmp_path}/segments.yaml:27:39: category.rules[2].when.op: unknown op 'gtee' "
        "(did you mean 'gte'?); expected one of eq, ne, gt, gte, lt, lte, in, not_in, exists, "
        "missing"
    )
