"""Fixtures of the rules tests: the shipped bundle, one durable Engine per session."""

from __future__ import annotations

from pathlib import Path

import pytest

import rules

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.fixture(scope="session")
def bundle() -> rules.Bundle:
    return rules.load_bundle(POLICIES)


@pytest.fixture(scope="session")
def engine(bundle: rules.Bundle) -> rules.Engine:
    # one engine per session: durable rulesets cannot be unregistered
    return rules.Engine(bundle)
