"""The rules command line: segment (JSONL / CSV, bad records skipped), explain, impact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rules.cli import main
from rules.loader import FILES
from tests.rules.conftest import POLICIES


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_segment_jsonl_skips_bad_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", [
        '{"customer_id": "a1", "capacity_kva": 400, "annual_revenue": 10}',
        '{"customer_id": "a2", "overdue_days": "50"}',
        "not json",
        '{"customer_id": "a3", "tariff": "residential", "points_12m": 6000}',
        '{"customer_id": "a1"}',
    ])  # fmt: skip
    out = tmp_path / "out.jsonl"
    assert main(["segment", str(src), "--policies", str(POLICIES), "--out", str(out)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"{src}:2: overdue_days: expected an integer, got the string '50'"
    assert err[1].startswith(f"{src}:3: -: invalid JSON")
    assert err[2] == f"{src}:5: customer_id: duplicate 'a1'"
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["customer_id"] for line in lines] == ["a1", "a3"]
    a1, a3 = lines
    assert (a1["category"], a1["abc_class"], a1["points_tier"]) == ("large", "A", "standard")
    assert a3["category"] == "residential" and a3["points_tier"] == "gold"
    assert set(a1) == {"customer_id", "category", "abc_class", "tags", "points_tier", "actions",
                       "processes", "policy_version"}  # fmt: skip
    assert a1["tags"] == sorted(a1["tags"]) and "high_value" in a1["tags"]


def test_segment_csv_with_explanations(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "in.csv", [
        "customer_id,capacity_kva,overdue_days,backup_power_compliant,category,contacts",
        'c1,314.9,61,false,,"{""phone"": ""123""}"',
        "c2,315,,,important,",
        "c3,abc,1,,,",
    ])  # fmt: skip
    assert main(["segment", str(src), "--policies", str(POLICIES), "--explain"]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == f"{src}:4: capacity_kva: expected a number, got the string 'abc'"
    c1, c2 = (json.loads(line) for line in captured.out.splitlines())
    assert c1["category"] == "other" and "arrears_high_risk" in c1["tags"]
    assert c2["category"] == "important" and "safety_high_risk" not in c2["tags"]
    exp = c1["explanation"]
    assert exp["tags"]["arrears_high_risk"]["values"]["overdue_days"] == 61
    assert exp["abc_class"]["rank"] == 0 and exp["abc_class"]["n"] == 2  # c2 revenue unknown too


def test_segment_all_good_exits_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "in.jsonl", ['{"customer_id": "x"}'])
    assert main(["segment", str(src), "--policies", str(POLICIES)]) == 0
    assert json.loads(capsys.readouterr().out)["abc_class"] == "A"


def test_segment_with_broken_policies_exits_two(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "in.jsonl", ['{"customer_id": "x"}'])
    assert main(["segment", str(src), "--policies", str(tmp_path / "nope")]) == 2
    assert "not a policy directory" in capsys.readouterr().err


def test_impact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    new = tmp_path / "new"
    new.mkdir()
    for name in FILES:
        (new / name).write_text((POLICIES / name).read_text())
    seg = new / "segments.yaml"
    seg.write_text(seg.read_text().replace("op: gt, value: 60}", "op: gt, value: 30}"))
    src = _write(tmp_path / "in.jsonl", [
        '{"customer_id": "a1", "overdue_days": 45, "offline_interactions_12m": 1}',
        '{"customer_id": "a2", "overdue_days": 10, "offline_interactions_12m": 1}',
    ])  # fmt: skip
    args = ["policy", "impact", "--from", str(POLICIES), "--to", str(new), str(src)]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["customers"] == 2 and report["changed"] == 1
    assert report["tags"] == {"arrears_high_risk": {"added": 1}}
    change = report["customers_changed"][0]
    assert change["customer_id"] == "a1"
    assert change["tags"] == [["high_value"], ["arrears_high_risk", "high_value"]]
    assert change["actions"]["onsite_collection"] == [None, True]
    assert report["processes"] == {"start": {}, "stop": {}}
    assert report["transitions"]["abc_class"] == {"A -> A": 1, "C -> C": 1}
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "1 of 2 customers change" in text and "arrears_high_risk: +1 -0" in text
