"""An independent checker of disconnections: from the outbox, the audit log and the store's
protection tables only, never from the workflow's own flags or code.

For every `disconnect` order in the outbox it finds the protection check that authorised it
(`check_id`) and asserts, with the rules in force at that check (audit order):
- a disconnection notice delivered within the jurisdiction's lead (and the policy's);
- a re-notice delivered at least the floor's re-notice lead before;
- the instant allowed by the calendar rebuilt here from calendars.yaml, the moratoria and the
  pack's protected periods (own code, not `activities.protection_calendar`);
- no life-support / medical registration active at the check, no open hold at the check;
- the customer's bill not settled before it (a settling payment step precedes no cut-off).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from activities import policy_store
from rules.jurisdiction import WEEKDAYS, load_pack
from store.models import AuditEntry, Hold, Moratorium, OutboxMessage, Registration
from tests.workflows.conftest import Rig

DAY = 86400.0


def _days(first: Any, last: Any) -> set[date]:
    a, b = date.fromisoformat(str(first)), date.fromisoformat(str(last))
    return {a + timedelta(days=i) for i in range((b - a).days + 1)}


def allowed(at: datetime, calendars: dict[str, Any], pack: Any, moratoria: set[date]) -> bool:
    """Whether a cut-off at `at` respects the calendar, the moratoria and the pack."""
    local = at.astimezone(ZoneInfo(str(calendars["timezone"])))
    day = local.date()
    holidays: set[date] = set()
    for h in calendars.get("holidays") or []:
        holidays |= _days(h["from"], h.get("to", h["from"]))
    blocked = set(holidays) | moratoria
    for m in calendars.get("moratorium") or []:
        blocked |= _days(m["from"], m.get("to", m["from"]))
    window = calendars["disconnection_window"]
    days = {WEEKDAYS[str(d)[:3]] for d in window["weekdays"]}
    start, end = window["start"], window["end"]
    if pack.weekdays is not None:
        days &= set(pack.weekdays)
    start = max(start, pack.earliest_start or start)
    end = min(end, pack.latest_end or end)
    if f"{day:%m-%d}" in pack.blocked_days:
        return False
    if pack.day_before_holiday and day + timedelta(days=1) in holidays:
        return False
    return day not in blocked and day.isoweekday() in days and start <= f"{local:%H:%M}" < end


def check_cutoffs(rig: Rig, wid: str) -> list[datetime]:
    """Assert every cut-off of `wid` was lawful at its moment; return the cut-off times."""
    with rig.sessions() as s:
        audit = list(
            s.scalars(
                select(AuditEntry)
                .where(AuditEntry.target == f"workflow:{wid}")
                .order_by(AuditEntry.seq)
            )
        )
        orders = list(
            s.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.workflow_id == wid, OutboxMessage.action == "disconnect"
                )
            )
        )
        regs = list(s.scalars(select(Registration)))
        holds = list(s.scalars(select(Hold)))
        moratoria = list(s.scalars(select(Moratorium)))
        ladder_seq = {e.seq: e for e in s.scalars(select(AuditEntry))}
        bundle = policy_store.bundle_of_version(s, audit[0].policy_version or rig.version)
    t = datetime.fromisoformat
    notices = [
        t(e.detail["delivered_at"])
        for e in audit
        if e.action.startswith("workflow.notice") and e.action.endswith(".delivered")
    ]
    renotices = [
        t(e.detail["delivered_at"])
        for e in audit
        if e.action.startswith("workflow.renotice") and e.action.endswith(".delivered")
    ]
    settled = [e.seq for e in audit if e.action == "workflow.payment" and e.detail["settles"]]
    cuts: list[datetime] = []
    for order in orders:
        p = order.payload["data"]
        at = t(order.payload["at"])
        pack = load_pack(p["jurisdiction"])
        check = next(
            e
            for e in audit
            if e.action == "protection.check" and e.detail["check_id"] == p["check_id"]
        )
        assert check.detail["decision"] == "proceed" and check.detail["step"] == "disconnection"
        customer = check.customer_id
        lo, hi = pack.notice_min_days * DAY, pack.notice_max_days * DAY
        assert any(lo <= (at - n).total_seconds() <= hi for n in notices), (at, notices)
        assert any((at - r).total_seconds() >= pack.renotice_min_seconds for r in renotices)
        declared = set()
        for m in moratoria:
            made = _seq_of(ladder_seq, f"moratorium:{m.moratorium_id}", "moratorium.declared")
            lifted = _seq_of(ladder_seq, f"moratorium:{m.moratorium_id}", "moratorium.lifted")
            if made < check.seq and (lifted is None or lifted > check.seq):
                declared |= _days(m.first_day, m.last_day)
        # a calendar edit: the version active at the check adds its holidays and moratoria
        activated = [
            e for e in ladder_seq.values() if e.action == "policy.activated" and e.seq < check.seq
        ]
        if activated:
            with rig.sessions() as s:
                current = policy_store.bundle_of_version(
                    s, max(activated, key=lambda e: e.seq).target.removeprefix("policy:")
                )
            for h in [
                *(current.calendars.get("holidays") or []),
                *(current.calendars.get("moratorium") or []),
            ]:
                declared |= _days(h["from"], h.get("to", h["from"]))
        assert allowed(at, bundle.calendars, pack, declared), at
        for r in regs:
            made = _seq_of(ladder_seq, f"registration:{r.registration_id}", "registration.created")
            ended = _seq_of(ladder_seq, f"registration:{r.registration_id}", "registration.ended")
            if r.customer_id == customer and made < check.seq:
                assert ended is not None and ended < check.seq, f"cut off under {r.registration_id}"
        for h in holds:
            made = _seq_of(ladder_seq, f"hold:{h.hold_id}", "hold.opened")
            gone = _seq_of(ladder_seq, f"hold:{h.hold_id}", "hold.resolved")
            if h.customer_id == customer and made < check.seq:
                assert gone is not None and gone < check.seq, f"cut off under hold {h.hold_id}"
        assert not settled or settled[0] > check.seq, "cut off after settlement"
        cuts.append(at)
    return cuts


def _seq_of(entries: dict[int, AuditEntry], target: str, action: str) -> Any:
    found = [seq for seq, e in entries.items() if e.target == target and e.action == action]
    return min(found) if found else None
