"""Every action parameter of the shipped bundle has a consumer that reads it (or is removed).

Fails when a parameter is added to strategies.yaml with nothing acting on it, when the file
named as its consumer stops reading the key, when a process link the inventory relies on
is missing, and when docs/policies.md does not say what the action does.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

import rules
from rules.consumers import CONSUMERS, PENDING
from tests.rules.conftest import POLICIES

ROOT = POLICIES.parent


@cache
def _constants(file: str) -> set[str]:
    """Every string constant of a Python file (the keys it reads)."""
    tree = ast.parse((ROOT / file).read_text(encoding="utf-8"))
    return {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def test_every_shipped_parameter_has_a_consumer(bundle: rules.Bundle) -> None:
    missing = sorted(set(bundle.parameters) - set(CONSUMERS))
    assert not missing, f"shipped parameters nothing acts on: {missing}"
    stale = sorted(set(CONSUMERS) - set(bundle.parameters))
    assert not stale, f"inventory names parameters the bundle no longer ships: {stale}"


@pytest.mark.parametrize("name", sorted(CONSUMERS))
def test_consumer_reads_the_key(bundle: rules.Bundle, name: str) -> None:
    consumer = CONSUMERS[name]
    if name in PENDING:
        where = ROOT / consumer.where
        read = where.is_file() and consumer.reads in _constants(consumer.where)
        assert not read, f"{name} is consumed now: remove it from rules.consumers.PENDING"
        return
    assert (ROOT / consumer.where).is_file(), f"{name}: no file {consumer.where}"
    assert consumer.reads in _constants(consumer.where), (
        f"{name}: {consumer.where} never reads {consumer.reads!r}"
    )
    if consumer.via is not None:
        links = {link.name: link for link in bundle.process_links}
        assert consumer.via in links, f"{name}: no process link {consumer.via!r}"
        link = links[consumer.via]
        carried = {p for p in link.parameters.values()} | {link.enabled_by}
        assert name in carried, f"{name}: process link {consumer.via!r} does not carry it"


def test_docs_say_what_each_action_does(bundle: rules.Bundle) -> None:
    text = (ROOT / "docs" / "policies.md").read_text(encoding="utf-8")
    section = text.split("## What each action does", 1)
    assert len(section) == 2, "docs/policies.md has no 'What each action does' section"
    undocumented = [p for p in bundle.parameters if f"`{p}`" not in section[1]]
    assert not undocumented, f"docs/policies.md does not describe {undocumented}"


def test_a_parameter_without_consumer_is_caught(tmp_path: Path) -> None:
    """The inventory check itself fails for a parameter that nothing reads."""
    text = (POLICIES / "strategies.yaml").read_text(encoding="utf-8")
    text = text.replace(
        "parameters:\n",
        "parameters:\n  loyalty_gift:\n    type: boolean\n    combine: any\n"
        "    description: A gift nobody hands out.\n",
        1,
    )
    for f in POLICIES.glob("*.yaml"):
        (tmp_path / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "schema").mkdir()
    for f in (POLICIES / "schema").glob("*.json"):
        (tmp_path / "schema" / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "strategies.yaml").write_text(text, encoding="utf-8")
    drafted = rules.load_bundle(tmp_path)
    assert "loyalty_gift" in drafted.parameters
    assert sorted(set(drafted.parameters) - set(CONSUMERS)) == ["loyalty_gift"]
