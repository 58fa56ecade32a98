"""Policy diff: meaning-level changes with file:line on both sides, named items matched."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import cli
import rules
from config import ROOT
from rules.diff import diff_bundles


def _edit(tmp: Path, name: str, old: str, new: str) -> None:
    path = tmp / name
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def draft(tmp_path: Path) -> Path:
    target = tmp_path / "draft"
    shutil.copytree(ROOT / "policies", target)
    return target


def _line(path: Path, needle: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(i for i, text in enumerate(lines, 1) if needle in text)


def test_same_meaning_is_no_change(draft: Path) -> None:
    _edit(draft, "segments.yaml", "# Level-1 category", "# a reworded comment\n# Level-1 category")
    assert diff_bundles(rules.load_bundle(ROOT / "policies"), rules.load_bundle(draft)) == []


def test_threshold_combine_step_and_rule_changes(draft: Path) -> None:
    _edit(draft, "segments.yaml", "op: gte, value: 315}", "op: gte, value: 250}")
    _edit(draft, "strategies.yaml", "  visit_every:\n    type: duration\n    combine: min",
          "  visit_every:\n    type: duration\n    combine: max")  # fmt: skip
    _edit(draft, "processes.yaml", "    - {step: phone_reminder, channel: phone, wait: P3D}\n", "")
    _edit(draft, "processes.yaml", "{step: wechat_reminder, channel: wechat, wait: P3D}",
          "{step: wechat_reminder, channel: wechat, wait: P5D}")  # fmt: skip
    # a new first category rule: one added rule, not a cascade of edits below it
    rule = "    - id: hospital\n      category: important\n"
    rule += "      when: {field: tariff, op: eq, value: agricultural}\n"
    _edit(draft, "segments.yaml", "  rules:\n    - id: important_register",
          "  rules:\n" + rule + "    - id: important_register")  # fmt: skip
    old, new = rules.load_bundle(ROOT / "policies"), rules.load_bundle(draft)
    changes = {(c.meaning, c.change, c.path): c for c in diff_bundles(old, new)}
    assert set(changes) == {
        ("threshold", "changed", "category.rules[id=large_capacity].when.value"),
        ("rule", "added", "category.rules[id=hospital]"),
        ("combine", "changed", "parameters.visit_every.combine"),
        ("step", "removed", "arrears.steps[step=phone_reminder]"),
        ("step", "changed", "arrears.steps[step=wechat_reminder].wait"),
    }
    cap = changes[("threshold", "changed", "category.rules[id=large_capacity].when.value")]
    assert (cap.old, cap.new) == (315, 250)
    old_line = _line(ROOT / "policies" / "segments.yaml", "value: 315}")
    new_line = _line(draft / "segments.yaml", "value: 250}")
    assert new_line == old_line + 3  # the inserted rule moved it down: both sides shown
    assert (cap.old_at, cap.new_at) == (f"segments.yaml:{old_line}", f"segments.yaml:{new_line}")
    gone = changes[("step", "removed", "arrears.steps[step=phone_reminder]")]
    assert gone.new_at is None
    assert (
        gone.old_at == f"processes.yaml:{_line(ROOT / 'policies/processes.yaml', 'phone_reminder')}"
    )
    added = changes[("rule", "added", "category.rules[id=hospital]")]
    assert (
        added.old_at is None
        and added.new_at == f"segments.yaml:{_line(draft / 'segments.yaml', 'id: hospital')}"
    )
    assert changes[("combine", "changed", "parameters.visit_every.combine")].new == "max"


def test_reordered_first_match_rules_are_a_move(draft: Path) -> None:
    text = (draft / "segments.yaml").read_text(encoding="utf-8")
    a = "    - tier: platinum\n      when: {field: points_12m, op: gte, value: 20000}\n"
    b = "    - tier: gold\n      when: {field: points_12m, op: gte, value: 5000}\n"
    assert a + b in text
    (draft / "segments.yaml").write_text(text.replace(a + b, b + a), encoding="utf-8")
    changes = diff_bundles(rules.load_bundle(ROOT / "policies"), rules.load_bundle(draft))
    assert [(c.meaning, c.change, c.path) for c in changes] == [
        ("rule", "moved", "points_tiers.rules")
    ]
    assert changes[0].old[:2] == ["tier=platinum", "tier=gold"]
    assert changes[0].new[:2] == ["tier=gold", "tier=platinum"]


def test_cli_diff(draft: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["policy", "diff", str(ROOT / "policies"), str(ROOT / "policies")]) == 0
    assert "no changes in meaning" in capsys.readouterr().out
    _edit(draft, "strategies.yaml", "      callback_every: P3M\n", "      callback_every: P2M\n")
    assert cli.main(["policy", "diff", str(ROOT / "policies"), str(draft), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    [change] = out["changes"]
    assert change["meaning"] == "action" and change["path"].endswith(
        "strategies[id=proactive_b].actions.callback_every"
    )
    assert cli.main(["policy", "diff", str(ROOT / "policies"), str(draft / "nope")]) == 2
