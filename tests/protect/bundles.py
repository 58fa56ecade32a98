"""The shipped bundle under each jurisdiction, and the law-breaking edits of issue 11.

`texts_for("au_nerr")` is the shipped bundle made lawful under the NERR pack (warning 7..14
days, window Mon-Thu 08:00-15:00, Sydney time); each `BREAKS` entry edits processes.yaml
the way a new user did and names the key it lands on and the floor rule it breaks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from rules.loader import FILES

POLICIES = Path(__file__).resolve().parents[2] / "policies"
JURISDICTIONS = ("cn", "au_nerr")


def texts_for(jurisdiction: str) -> dict[str, str]:
    texts = {name: (POLICIES / name).read_text(encoding="utf-8") for name in FILES}
    if jurisdiction == "au_nerr":
        p = texts["processes.yaml"]
        p = p.replace("jurisdiction: cn", "jurisdiction: au_nerr")
        p = p.replace("notice_min_days: 3, notice_max_days: 7, lead: P5D",
                      "notice_min_days: 7, notice_max_days: 14, lead: P8D")  # fmt: skip
        p = p.replace("reconnection_within: PT24H", "reconnection_within: PT24H")
        texts["processes.yaml"] = p
        c = texts["calendars.yaml"].replace("timezone: Asia/Shanghai", "timezone: Australia/Sydney")
        c = c.replace("weekdays: [mon, tue, wed, thu, fri]", "weekdays: [mon, tue, wed, thu]")
        c = c.replace('end: "17:00"', 'end: "15:00"')
        texts["calendars.yaml"] = c
    return texts


def _sub(pattern: str, repl: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        out, n = re.subn(pattern, repl, text, count=1)
        assert n == 1, pattern
        return out

    return edit


def _move_cut_first(text: str) -> str:
    cut = "    - {step: disconnection, task: disconnection, assignee_role: inspector}\n"
    assert cut in text
    text = text.replace(cut, "")
    anchor = "    - {step: disconnection_notice"
    return text.replace(anchor, cut + anchor, 1)


# (case, edit of processes.yaml, text on the line the issue must point at, rule broken)
BREAKS: list[tuple[str, Callable[[str], str], str, str]] = [
    ("notice_0_days", _sub(r"notice_min_days: \d+", "notice_min_days: 0"),
     "notice_min_days: 0", "notice_lead"),
    ("notice_30_days", _sub(r"notice_max_days: \d+, lead: P\d+D",
                            "notice_max_days: 30, lead: P30D"),
     "notice_max_days: 30", "notice_lead"),
    ("renotice_5_minutes", _sub(r"before: PT30M", "before: PT5M"), "before: PT5M", "renotice"),
    ("no_renotice_step", _sub(r"    - \{step: renotice[^\n]*\n", ""), "  steps:", "step_order"),
    ("cut_before_notice", _move_cut_first, "{step: disconnection, task", "step_order"),
    ("life_support_disconnectable", _sub(r"disconnect: false", "disconnect: true"),
     "disconnect: true", "never_disconnect"),
    ("calendar_off", _sub(r"respect_calendar: true", "respect_calendar: false"),
     "respect_calendar: false", "protected_periods"),
    ("no_authority_filing", _sub(r"authority_filing_categories: \[important\]",
                                 "authority_filing_categories: []"),
     "authority_filing_categories: []", "authority_filing"),
    ("reconnection_5_days", _sub(r"reconnection_within: PT24H", "reconnection_within: P5D"),
     "reconnection_within: P5D", "reconnection"),
]  # fmt: skip

# What each pack does not make unlawful (said in the pack): NERR has no authority filing.
LAWFUL_UNDER = {("au_nerr", "no_authority_filing")}


def line_of(text: str, needle: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)
