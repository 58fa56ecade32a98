"""The regulatory-floor validator: every law-breaking bundle of issue 11 is rejected, under
each jurisdiction, with file:line:col at the offending key and the rule + article broken."""

from __future__ import annotations

from collections.abc import Callable

import pytest

import rules
from rules.jurisdiction import available, load_pack
from tests.protect.bundles import BREAKS, JURISDICTIONS, LAWFUL_UNDER, line_of, texts_for


@pytest.mark.parametrize("jurisdiction", JURISDICTIONS)
def test_lawful_bundle_loads_with_its_floor(jurisdiction: str) -> None:
    bundle = rules.load_bundle_from_texts(texts_for(jurisdiction))
    assert bundle.floor is not None and bundle.floor.jurisdiction == jurisdiction
    assert bundle.arrears is not None and bundle.arrears.jurisdiction == jurisdiction
    assert bundle.arrears.renotice_before_seconds == 1800.0


@pytest.mark.parametrize("jurisdiction", JURISDICTIONS)
@pytest.mark.parametrize(("case", "edit", "needle", "rule"), BREAKS, ids=[b[0] for b in BREAKS])
def test_law_breaking_bundle_is_rejected(
    jurisdiction: str, case: str, edit: Callable[[str], str], needle: str, rule: str
) -> None:
    texts = texts_for(jurisdiction)
    texts["processes.yaml"] = edit(texts["processes.yaml"])
    floor = load_pack(jurisdiction)
    if (jurisdiction, case) in LAWFUL_UNDER:
        rules.load_bundle_from_texts(texts)  # the pack has no such rule: accepted
        assert rule not in floor.citations
        return
    with pytest.raises(rules.PolicyError) as info:
        rules.load_bundle_from_texts(texts)
    cited = [i for i in info.value.issues if f"breaks {floor.cite(rule)}" in i.message]
    assert cited, [str(i) for i in info.value.issues]
    issue = cited[0]
    assert issue.file == "processes.yaml"
    assert issue.line == line_of(texts["processes.yaml"], needle), str(issue)
    assert issue.path.startswith("arrears"), str(issue)
    assert floor.citations[rule].article in str(issue)


def test_messages_name_rule_and_article() -> None:
    texts = texts_for("cn")
    texts["processes.yaml"] = texts["processes.yaml"].replace(
        "notice_min_days: 3", "notice_min_days: 0"
    )
    with pytest.raises(rules.PolicyError) as info:
        rules.load_bundle_from_texts(texts)
    line = line_of(texts["processes.yaml"], "notice_min_days: 0")
    col = texts["processes.yaml"].splitlines()[line - 1].index("notice_min_days: 0") + 18
    assert [str(i) for i in info.value.issues] == [
        f"processes.yaml:{line}:{col}: arrears.steps[5].notice_min_days: 0 is weaker than the "
        "floor (at least 3 days): breaks cn/notice_lead (供电营业规则 art. 67(2))"
    ]


def test_calendar_wider_than_the_nerr_window_is_rejected() -> None:
    texts = texts_for("au_nerr")
    texts["calendars.yaml"] = (
        texts["calendars.yaml"]
        .replace("weekdays: [mon, tue, wed, thu]", "weekdays: [mon, tue, wed, thu, fri]")
        .replace('end: "15:00"', 'end: "17:00"')
    )
    with pytest.raises(rules.PolicyError) as info:
        rules.load_bundle_from_texts(texts)
    got = [str(i) for i in info.value.issues]
    assert len(got) == 2 and all("breaks au_nerr/protected_periods (NERR r108)" in g for g in got)
    assert got[0].startswith("calendars.yaml:") and "disconnection_window.weekdays: fri" in got[0]


def test_unknown_jurisdiction_is_reported_with_a_hint() -> None:
    texts = texts_for("cn")
    processes = texts["processes.yaml"]
    texts["processes.yaml"] = processes.replace("jurisdiction: cn", "jurisdiction: au")
    with pytest.raises(rules.PolicyError) as info:
        rules.load_bundle_from_texts(texts)
    assert "unknown jurisdiction 'au'" in str(info.value)


def test_every_pack_cites_an_article_for_each_rule() -> None:
    assert set(available()) >= set(JURISDICTIONS)
    for name in available():
        floor = load_pack(name)
        assert floor.citations and all(c.article and c.text for c in floor.citations.values())
