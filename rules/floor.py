"""The regulatory-floor validator: a bundle's arrears ladder against its jurisdiction's pack.

Every value weaker than the floor, every missing or misplaced required step is one issue at
the offending key (file:line:col), naming the rule and the article it breaks, e.g.
``processes.yaml:84:50: arrears.steps[5].notice_min_days: 0 is weaker than the floor (at
least 3 days): breaks cn/notice_lead (供电营业规则 art. 67(2))``. Runs after the JSON Schema,
so types are known; anything still malformed is left to the schema's own issues.
"""

from __future__ import annotations

from typing import Any

from rules.durations import is_duration, parse_duration
from rules.errors import PolicyError, PolicyIssue, did_you_mean
from rules.jurisdiction import DEFAULT, WEEKDAYS, Floor, available, load_pack
from rules.yamlpos import Document

DAY = 86400.0


def _seconds(value: Any) -> float | None:
    return parse_duration(value).total_seconds() if is_duration(value) else None


def _fmt(seconds: float) -> str:
    if seconds % DAY == 0:
        return f"{seconds / DAY:g} days"
    if seconds % 3600 == 0:
        return f"{seconds / 3600:g} hours"
    return f"{seconds / 60:g} minutes"


class _Check:
    """Collects issues of one bundle against one floor."""

    def __init__(self, doc: Document, floor: Floor, issues: list[PolicyIssue]) -> None:
        self.doc, self.floor, self.issues = doc, floor, issues

    def breaks(self, path: tuple[str | int, ...], what: str, rule: str, key: bool = False) -> None:
        message = f"{what}: breaks {self.floor.cite(rule)}"
        self.issues.append(self.doc.issue(path, message, at_key=key))


def jurisdiction_of(doc: Document, issues: list[PolicyIssue]) -> Floor | None:
    """The pack the bundle names (`arrears.jurisdiction`, default cn); None when unknown."""
    arrears = doc.data.get("arrears") if isinstance(doc.data, dict) else None
    name = arrears.get("jurisdiction", DEFAULT) if isinstance(arrears, dict) else DEFAULT
    if not isinstance(name, str) or name not in available():
        hint = did_you_mean(str(name), available())
        issues.append(
            doc.issue(
                ("arrears", "jurisdiction"),
                f"unknown jurisdiction {name!r}{hint}; expected one of {', '.join(available())}",
            )
        )
        return None
    try:
        return load_pack(name)
    except PolicyError as err:  # a broken pack is reported where it is broken
        issues.extend(err.issues)
        return None


def check_floor(
    processes: Document, calendars: Document, issues: list[PolicyIssue]
) -> Floor | None:
    """Append an issue for every way the bundle weakens its floor; return the floor."""
    floor = jurisdiction_of(processes, issues)
    arrears = processes.data.get("arrears") if isinstance(processes.data, dict) else None
    if floor is None or not isinstance(arrears, dict):
        return floor
    check = _Check(processes, floor, issues)
    steps = arrears.get("steps")
    if isinstance(steps, list):
        _steps(check, [s if isinstance(s, dict) else {} for s in steps])
    _parameters(check, arrears)
    if isinstance(calendars.data, dict):
        _calendar(_Check(calendars, floor, issues), calendars.data)
    return floor


def _steps(check: _Check, steps: list[dict[str, Any]]) -> None:
    floor = check.floor
    where = {str(s.get("step")): i for i, s in reversed(list(enumerate(steps)))}
    base: tuple[str | int, ...] = ("arrears", "steps")
    for name in floor.sequence:
        if name not in where:
            check.breaks(base, f"required step {name!r} is missing", "step_order", key=True)
    placed = [(where[n], n) for n in floor.sequence if n in where]
    for k, (j, second) in enumerate(placed):
        earlier = [first for i, first in placed[:k] if j < i]
        if earlier:
            check.breaks(
                (*base, j, "step"), f"{second!r} comes before {earlier[0]!r}", "step_order"
            )
    notice_at = where.get("disconnection_notice")
    if (
        floor.before_notice
        and notice_at is not None
        and not any(where.get(n, notice_at) < notice_at for n in floor.before_notice)
    ):
        needed = " or ".join(repr(n) for n in floor.before_notice)
        check.breaks((*base, notice_at, "step"), f"no {needed} before the notice", "step_order")
    if notice_at is not None:
        notice = steps[notice_at]
        lo, hi = notice.get("notice_min_days"), notice.get("notice_max_days")
        path = (*base, notice_at)
        if isinstance(lo, int) and lo < floor.notice_min_days:
            check.breaks(
                (*path, "notice_min_days"),
                f"{lo} is weaker than the floor (at least {floor.notice_min_days} days)",
                "notice_lead",
            )
        if isinstance(hi, int) and hi > floor.notice_max_days:
            check.breaks(
                (*path, "notice_max_days"),
                f"{hi} is weaker than the floor (at most {floor.notice_max_days} days)",
                "notice_lead",
            )
        lead = _seconds(notice.get("lead"))
        if lead is not None and not (
            floor.notice_min_days * DAY <= lead <= floor.notice_max_days * DAY
        ):
            check.breaks(
                (*path, "lead"),
                f"{notice['lead']} is outside the floor's {floor.notice_min_days}.."
                f"{floor.notice_max_days} days",
                "notice_lead",
            )
    if "renotice" in where:
        before = _seconds(steps[where["renotice"]].get("before"))
        path = (*base, where["renotice"], "before")
        if before is None:
            check.breaks(path, "the re-notice has no 'before' lead", "renotice")
        elif before < floor.renotice_min_seconds:
            check.breaks(
                path,
                f"{steps[where['renotice']]['before']} is weaker than the floor "
                f"(at least {_fmt(floor.renotice_min_seconds)} before the cut-off)",
                "renotice",
            )


def _covers(
    check: _Check, arrears: dict[str, Any], key: str, need: tuple[str, ...], rule: str
) -> None:
    have = arrears.get(key)
    missing = [c for c in need if not isinstance(have, list) or c not in have]
    if missing:
        check.breaks(("arrears", key), f"must include {', '.join(missing)}", rule)


def _parameters(check: _Check, arrears: dict[str, Any]) -> None:
    floor = check.floor
    _covers(check, arrears, "authority_filing_categories", floor.filing_categories,
            "authority_filing")  # fmt: skip
    _covers(check, arrears, "supervisor_approval_categories", floor.approval_categories,
            "approval")  # fmt: skip
    life = arrears.get("life_support")
    if (
        "life_support" in floor.never_disconnect
        and isinstance(life, dict)
        and life.get("disconnect") is not False
    ):
        check.breaks(
            ("arrears", "life_support", "disconnect"),
            "life-support customers must never be disconnected (disconnect: false)",
            "never_disconnect",
        )
    if floor.respect_calendar and arrears.get("respect_calendar", True) is not True:
        check.breaks(
            ("arrears", "respect_calendar"),
            "the calendar (holidays, moratoria, window) cannot be switched off",
            "protected_periods",
        )
    within = _seconds(arrears.get("reconnection_within"))
    if within is not None and within > floor.reconnection_max_seconds:
        check.breaks(
            ("arrears", "reconnection_within"),
            f"{arrears['reconnection_within']} is weaker than the floor "
            f"(at most {_fmt(floor.reconnection_max_seconds)})",
            "reconnection",
        )


def _calendar(check: _Check, data: dict[str, Any]) -> None:
    floor = check.floor
    window = data.get("disconnection_window")
    if not isinstance(window, dict):
        return
    base = ("disconnection_window",)
    days = window.get("weekdays")
    if floor.weekdays is not None and isinstance(days, list):
        extra = [d for d in days if WEEKDAYS.get(str(d)[:3].lower()) not in floor.weekdays]
        if extra:
            check.breaks((*base, "weekdays"), f"{', '.join(map(str, extra))} not allowed",
                         "protected_periods")  # fmt: skip
    start, end = window.get("start"), window.get("end")
    if floor.earliest_start and isinstance(start, str) and start < floor.earliest_start:
        check.breaks((*base, "start"), f"{start} is before {floor.earliest_start}",
                     "protected_periods")  # fmt: skip
    if floor.latest_end and isinstance(end, str) and end > floor.latest_end:
        check.breaks((*base, "end"), f"{end} is after {floor.latest_end}", "protected_periods")
