"""Jurisdiction packs: the regulatory floor of disconnections, as data.

A pack (`policies/jurisdictions/<id>.yaml`, schema `jurisdiction.schema.json`) states the
minimums a policy bundle may tighten but never weaken: notice lead, re-notice lead, required
step order, authority filing, approval, never-disconnect classes, protected periods,
reconnection deadline and what holds the ladder. Each rule cites the article it encodes so a
rejection can name it. `Floor` is the typed, JSON-able form the validator, the protection
checks and (through the arrears plan) the workflow all read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from rules.durations import parse_duration
from rules.errors import PolicyError, PolicyIssue, did_you_mean
from rules.yamlpos import load_document

PACK_DIR = Path(__file__).resolve().parent.parent / "policies" / "jurisdictions"
SCHEMA = Path(__file__).resolve().parent.parent / "policies" / "schema" / "jurisdiction.schema.json"
DEFAULT = "cn"
# Where packs are looked up: the shipped ones, then any directory a deployment adds for drills
# and fault tests (Settings.extra_jurisdictions_dir); a shipped id is never shadowed.
PACK_DIRS: list[Path] = [PACK_DIR]
WEEKDAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


@dataclass(frozen=True)
class Citation:
    """Which rule of which pack, and the article it encodes."""

    rule: str
    article: str
    basis: str
    text: str


@dataclass(frozen=True)
class Floor:
    """A jurisdiction's minimums (durations in seconds, weekdays ISO 1=Mon..7=Sun)."""

    jurisdiction: str
    name: str
    notice_min_days: int
    notice_max_days: int
    renotice_min_seconds: float
    sequence: tuple[str, ...]
    before_notice: tuple[str, ...]
    filing_categories: tuple[str, ...]
    approval_categories: tuple[str, ...]
    never_disconnect: tuple[str, ...]
    respect_calendar: bool
    weekdays: tuple[int, ...] | None
    earliest_start: str | None
    latest_end: str | None
    blocked_days: tuple[str, ...]  # MM-DD, every year
    day_before_holiday: bool
    reconnection_max_seconds: float
    hold_kinds: tuple[str, ...]
    citations: dict[str, Citation] = field(default_factory=dict)

    def cite(self, rule: str) -> str:
        """`cn/notice_lead (供电营业规则 art. 67(2))` for messages and audit records."""
        c = self.citations.get(rule)
        return f"{self.jurisdiction}/{rule}" + (f" ({c.article})" if c else "")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def add_pack_dir(directory: Path) -> None:
    """Also look for packs in `directory` (after the shipped ones)."""
    if directory not in PACK_DIRS:
        PACK_DIRS.append(directory)


def _path(jurisdiction: str) -> Path | None:
    for directory in PACK_DIRS:
        candidate = directory / f"{jurisdiction}.yaml"
        if candidate.is_file():
            return candidate
    return None


def available() -> list[str]:
    """Ids of the packs found (shipped ones in policies/jurisdictions/ first)."""
    return sorted({p.stem for d in PACK_DIRS for p in d.glob("*.yaml")})


@cache
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))


def load_pack(jurisdiction: str) -> Floor:
    """The floor of a shipped pack; PolicyError (file:line:col) when the pack is broken."""
    path = _path(jurisdiction)
    if path is None:
        hint = did_you_mean(jurisdiction, available())
        shown = str(PACK_DIR / f"{jurisdiction}.yaml")
        raise PolicyError([PolicyIssue(shown, 1, 1, "", f"unknown jurisdiction{hint}")])
    return _load(str(path), path.read_text(encoding="utf-8"))


@cache
def _load(file: str, text: str) -> Floor:
    from rules.loader import schema_issues  # the loader imports this module

    doc, issues = load_document(file, text)
    if doc is None:
        raise PolicyError(issues)
    issues = schema_issues(doc, _validator())
    if issues:
        raise PolicyError(issues)
    return floor_of(doc.data)


def floor_of(data: dict[str, Any]) -> Floor:
    """The typed floor of a schema-valid pack."""
    r: dict[str, dict[str, Any]] = data["rules"]
    cites = {
        name: Citation(name, str(v["article"]), str(v["basis"]), " ".join(str(v["text"]).split()))
        for name, v in r.items()
    }
    periods = r["protected_periods"]
    days = periods.get("weekdays")
    return Floor(
        jurisdiction=str(data["id"]),
        name=str(data["name"]),
        notice_min_days=int(r["notice_lead"]["min_days"]),
        notice_max_days=int(r["notice_lead"]["max_days"]),
        renotice_min_seconds=parse_duration(r["renotice"]["min_lead"]).total_seconds(),
        sequence=tuple(r["step_order"]["sequence"]),
        before_notice=tuple(r["step_order"].get("before_notice", [])),
        filing_categories=tuple(r.get("authority_filing", {}).get("categories", [])),
        approval_categories=tuple(r.get("approval", {}).get("categories", [])),
        never_disconnect=tuple(r["never_disconnect"]["classes"]),
        respect_calendar=bool(periods["respect_calendar"]),
        weekdays=tuple(WEEKDAYS[d] for d in days) if days else None,
        earliest_start=periods.get("earliest_start"),
        latest_end=periods.get("latest_end"),
        blocked_days=tuple(periods.get("blocked_days", [])),
        day_before_holiday=bool(periods.get("day_before_holiday", False)),
        reconnection_max_seconds=parse_duration(r["reconnection"]["max"]).total_seconds(),
        hold_kinds=tuple(r["holds"]["kinds"]),
        citations=cites,
    )
