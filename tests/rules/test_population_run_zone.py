"""The population run's time zone is checked when the bundle loads (rules/population_run.py):
an unknown IANA name is a policy error at its file:line:col, not a failure at Schedule time."""

from __future__ import annotations

import pytest

import rules
from rules.loader import FILES
from rules.population_run import known_zone
from tests.rules.conftest import POLICIES

SHIPPED = "  timezone: Asia/Shanghai\n"


def _with_zone(zone: str) -> tuple[dict[str, str], int]:
    texts = {name: (POLICIES / name).read_text() for name in FILES}
    text = texts["processes.yaml"]
    section = text.index("\npopulation_run:\n")
    at = text.index(SHIPPED, section)
    texts["processes.yaml"] = text[:at] + f"  timezone: {zone}\n" + text[at + len(SHIPPED) :]
    return texts, text.count("\n", 0, at) + 1  # the line of the timezone key


@pytest.mark.parametrize(
    "zone", ["Asia/Shangai", "Mars/Olympus", "../../etc/passwd", "'asia/shanghai'"]
)
def test_unknown_time_zone_is_a_policy_error_at_its_place(zone: str) -> None:
    texts, line = _with_zone(zone)
    with pytest.raises(rules.PolicyError) as info:
        rules.load_bundle_from_texts(texts)
    shown = zone.strip("'")
    assert [str(i) for i in info.value.issues] == [
        f"processes.yaml:{line}:13: population_run.timezone: unknown time zone {shown!r} "
        "(an IANA name such as Asia/Shanghai or UTC)"
    ]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires"])
def test_known_time_zones_load(zone: str) -> None:
    texts, _ = _with_zone(zone)
    bundle = rules.load_bundle_from_texts(texts)
    assert bundle.processes["population_run"]["timezone"] == zone


def test_known_zone_refuses_paths_and_blanks() -> None:
    assert known_zone("Asia/Shanghai")
    assert not any(known_zone(z) for z in ["", " UTC", "/etc/localtime", "Asia/", "Etc/../UTC"])
