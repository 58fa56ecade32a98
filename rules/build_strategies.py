"""Semantic checks and compilation of strategies.yaml, processes.yaml, calendars.yaml and
points.yaml (after schema validation): parameter types and combine policies, segment
selectors, process links, durations, calendar dates and points tiers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rules.durations import is_duration
from rules.errors import PolicyIssue, did_you_mean
from rules.model import Parameter, PointsRules, PrepaymentTier, ProcessLink, Source, Strategy
from rules.record import ABC_CLASSES, CATEGORIES, is_int, is_number
from rules.yamlpos import Document, Path, dotted

_COMBINE_TYPES = {
    "any": {"boolean"},
    "all": {"boolean"},
    "min": {"integer", "number", "duration"},
    "max": {"integer", "number", "duration"},
    "union": {"list"},
    "first": {"boolean", "integer", "number", "duration", "string", "list"},
}


def _value_error(param: Parameter, values: list[str] | None, value: Any) -> str | None:
    t = param.type
    if t == "boolean" and not isinstance(value, bool):
        return f"parameter {param.name!r} takes true or false, got {value!r}"
    if t == "integer" and not is_int(value):
        return f"parameter {param.name!r} takes an integer, got {value!r}"
    if t == "number" and not is_number(value):
        return f"parameter {param.name!r} takes a number, got {value!r}"
    if t == "duration" and not is_duration(value):
        return f"invalid ISO 8601 duration {value!r} (e.g. P3D, PT48H, P3M)"
    if t == "string" and not isinstance(value, str):
        return f"parameter {param.name!r} takes a string, got {value!r}"
    if t == "list" and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return f"parameter {param.name!r} takes a list of strings, got {value!r}"
    items = value if t == "list" else [value] if t == "string" else []
    for item in items:
        if values is not None and item not in values:
            return (
                f"{item!r} is not an allowed value of {param.name!r}"
                f"{did_you_mean(item, values)}; expected one of {', '.join(values)}"
            )
    return None


def build_parameters(
    doc: Document, section: Any, issues: list[PolicyIssue]
) -> dict[str, Parameter]:
    out: dict[str, Parameter] = {}
    for name, spec in (section if isinstance(section, dict) else {}).items():
        if not isinstance(spec, dict) or spec.get("type") not in _COMBINE_TYPES["first"]:
            continue
        combine = spec.get("combine")
        if combine not in _COMBINE_TYPES:
            continue
        if spec["type"] not in _COMBINE_TYPES[combine]:
            issues.append(
                doc.issue(
                    ("parameters", name, "combine"),
                    f"combine {combine!r} does not apply to {spec['type']} parameters",
                )
            )
            continue
        param = Parameter(name, spec["type"], combine, spec.get("default"))
        if "default" in spec:
            err = _value_error(param, spec.get("values"), spec["default"])
            if err:
                issues.append(doc.issue(("parameters", name, "default"), err))
        out[name] = param
    return out


def build_strategies(
    doc: Document,
    params: dict[str, Parameter],
    selectors: dict[str, tuple[str, ...] | None],
    issues: list[PolicyIssue],
) -> tuple[Strategy, ...]:
    data = doc.data if isinstance(doc.data, dict) else {}
    raw_params: dict[str, Any] = (
        data["parameters"] if isinstance(data.get("parameters"), dict) else {}
    )
    out: list[Strategy] = []
    seen: set[str] = set()
    section = data.get("strategies")
    for i, strat in enumerate(section if isinstance(section, list) else []):
        base: Path = ("strategies", i)
        if not isinstance(strat, dict) or not isinstance(strat.get("applies_to"), dict):
            continue
        sid = str(strat.get("id"))
        if sid in seen:
            issues.append(doc.issue((*base, "id"), f"duplicate strategy id {sid!r}"))
        seen.add(sid)
        applies = strat["applies_to"]
        if len(applies) != 1:
            continue
        dim, raw = next(iter(applies.items()))
        values: list[str] = [] if dim == "all" else [raw] if isinstance(raw, str) else list(raw)
        ok = True
        for j, value in enumerate(values):
            allowed = selectors.get(dim, ())
            if allowed is not None and value not in allowed:
                vpath: Path = (*base, "applies_to", dim) + ((j,) if isinstance(raw, list) else ())
                issues.append(
                    doc.issue(vpath, f"unknown {dim} {value!r}{did_you_mean(str(value), allowed)}")
                )
                ok = False
        actions = strat.get("actions")
        for pname, value in (actions if isinstance(actions, dict) else {}).items():
            apath: Path = (*base, "actions", pname)
            if pname not in params:
                if pname not in raw_params:
                    issues.append(
                        doc.issue(
                            apath,
                            f"unknown parameter {pname!r}{did_you_mean(pname, raw_params)}",
                            at_key=True,
                        )
                    )
                ok = False
                continue
            spec = raw_params.get(pname, {})
            err = _value_error(params[pname], spec.get("values"), value)
            if err:
                issues.append(doc.issue(apath, err))
                ok = False
        if ok and isinstance(actions, dict):
            src = Source(doc.file, doc.values.get(base, (1, 1))[0], dotted(base))
            out.append(Strategy(sid, dim, frozenset(values), dict(actions), src))
    return tuple(out)


def build_links(
    doc: Document, params: dict[str, Parameter], process_names: set[str], issues: list[PolicyIssue]
) -> tuple[ProcessLink, ...]:
    data = doc.data if isinstance(doc.data, dict) else {}
    section = data.get("processes")
    # declared names, even of parameters rejected for another reason (no cascading errors)
    raw = data.get("parameters")
    declared = set(raw) if isinstance(raw, dict) else set(params)
    out: list[ProcessLink] = []
    for name, link in (section if isinstance(section, dict) else {}).items():
        if name not in process_names:
            issues.append(
                doc.issue(
                    ("processes", name),
                    f"unknown process {name!r}{did_you_mean(name, process_names)}",
                    at_key=True,
                )
            )
            continue
        if not isinstance(link, dict) or not isinstance(link.get("parameters"), dict):
            continue
        ok = True
        refs = [(("processes", name, "enabled_by"), link.get("enabled_by"))] + [
            (("processes", name, "parameters", k), v) for k, v in link["parameters"].items()
        ]
        for path, ref in refs:
            if ref is not None and ref not in declared:
                issues.append(
                    doc.issue(path, f"unknown parameter {ref!r}{did_you_mean(str(ref), params)}")
                )
                ok = False
        if ok:
            out.append(ProcessLink(name, link.get("enabled_by"), dict(link["parameters"])))
    return tuple(out)


def check_processes(doc: Document, issues: list[PolicyIssue]) -> dict[str, dict[str, Any]]:
    """Process parameters go to workflows as written; check cross-field constraints only."""
    data = doc.data if isinstance(doc.data, dict) else {}
    arrears = data.get("arrears")
    steps = arrears.get("steps") if isinstance(arrears, dict) else None
    for i, step in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(step, dict):
            continue
        lo, hi = step.get("notice_min_days"), step.get("notice_max_days")
        if isinstance(lo, int) and isinstance(hi, int) and lo > hi:
            issues.append(
                doc.issue(
                    ("arrears", "steps", i, "notice_max_days"),
                    f"notice_max_days ({hi}) must be >= notice_min_days ({lo})",
                )
            )
    return {k: v for k, v in data.items() if isinstance(v, dict)}


def check_calendars(doc: Document, issues: list[PolicyIssue]) -> dict[str, Any]:
    data = doc.data if isinstance(doc.data, dict) else {}
    window = data.get("disconnection_window")
    if isinstance(window, dict):
        start, end = window.get("start"), window.get("end")
        if isinstance(start, str) and isinstance(end, str) and start >= end:
            issues.append(
                doc.issue(
                    ("disconnection_window", "end"), f"end {end!r} must be after start {start!r}"
                )
            )
    for section in ("holidays", "moratorium"):
        periods = data.get(section)
        for i, period in enumerate(periods if isinstance(periods, list) else []):
            if not isinstance(period, dict):
                continue
            days = []
            for key in ("from", "to"):
                try:
                    days.append(dt.date.fromisoformat(str(period.get(key))))
                except ValueError:
                    issues.append(doc.issue((section, i, key), f"invalid date {period.get(key)!r}"))
            if len(days) == 2 and days[0] > days[1]:
                issues.append(
                    doc.issue((section, i, "to"), f"'to' ({days[1]}) is before 'from' ({days[0]})")
                )
    return dict(data)


def build_points(doc: Document, issues: list[PolicyIssue]) -> PointsRules:
    data = doc.data if isinstance(doc.data, dict) else {}
    channels: dict[str, Any] = data["channels"] if isinstance(data.get("channels"), dict) else {}
    tiers: list[PrepaymentTier] = []
    raw = data.get("prepayment_tiers")
    for t in raw if isinstance(raw, list) else []:
        if (
            isinstance(t, dict)
            and is_number(t.get("min_amount"))
            and is_number(t.get("points_per_yuan"))
        ):
            tiers.append(
                PrepaymentTier(str(t["id"]), float(t["min_amount"]), float(t["points_per_yuan"]))
            )
    if tiers and min(t.min_amount for t in tiers) != 0:
        issues.append(
            doc.issue(
                ("prepayment_tiers",),
                "one tier must have min_amount 0 so every top-up matches exactly one tier",
            )
        )
    amounts = [t.min_amount for t in tiers]
    if len(set(amounts)) != len(amounts):
        issues.append(doc.issue(("prepayment_tiers",), "min_amount values must be distinct"))
    tiers.sort(key=lambda t: -t.min_amount)
    events: dict[str, Any] = data["events"] if isinstance(data.get("events"), dict) else {}

    def section(parent: dict[str, Any], key: str) -> dict[str, Any]:
        value = parent.get(key)
        return value if isinstance(value, dict) else {}

    ledger = section(data, "ledger")
    redeem = section(ledger, "redemptions")
    credit, services = section(redeem, "bill_credit"), section(redeem, "services")
    return PointsRules(
        {str(k): float(v) for k, v in channels.items() if is_number(v)},
        tuple(tiers),
        {str(k): int(v) for k, v in events.items() if is_int(v)},
        tuple(str(c) for c in ledger.get("eligible_categories") or ("residential",)),
        str(ledger.get("expire_after", "P24M")),
        int(credit.get("points_per_yuan", 100)) if is_int(credit.get("points_per_yuan")) else 100,
        {str(k): dict(v) for k, v in services.items() if isinstance(v, dict)},
    )


def selectors_for(
    tags: tuple[str, ...] | None, tiers: tuple[str, ...] | None
) -> dict[str, tuple[str, ...] | None]:
    """Allowed values per selector dimension; None = unknown (its section is broken)."""
    return {
        "all": (),
        "category": CATEGORIES,
        "abc_class": ABC_CLASSES,
        "tag": tags,
        "points_tier": tiers,
    }
