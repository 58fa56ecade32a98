"""The disconnection calendar in force at a moment: the strictest of every source.

A cut-off obeys the pinned policy's calendar, the calendar of the policy active NOW (a
holiday or moratorium added by a later version counts), the moratoria declared at run time
(store table) and the jurisdiction's protected periods (e.g. NERR r108: Mon-Thu 08:00-15:00,
no day before a public holiday, no 20-31 December). Blocked dates are unioned, weekdays
and the daily window intersected.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

import rules
from activities.process_activities import calendar_of
from rules.jurisdiction import Floor
from store.models import Moratorium
from workflows.calendar import CutoffCalendar

ALL_WEEK = [1, 2, 3, 4, 5, 6, 7]
YEARS_AROUND = 2  # annual blocked days are expanded for this many years either side


def _days(first: date, last: date) -> set[str]:
    return {(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)}


def holidays_of(bundle: rules.Bundle) -> set[date]:
    """Public holidays of a bundle's calendars.yaml (not its moratoria)."""
    out: set[date] = set()
    for entry in bundle.calendars.get("holidays") or []:
        first = date.fromisoformat(str(entry["from"]))
        last = date.fromisoformat(str(entry.get("to", entry["from"])))
        out |= {first + timedelta(days=i) for i in range((last - first).days + 1)}
    return out


def moratoria(session: Session) -> list[Moratorium]:
    """Moratoria declared at run time and not lifted."""
    return list(session.scalars(select(Moratorium).where(Moratorium.status == "active")))


def current_calendar(
    session: Session, bundles: list[rules.Bundle], floor: Floor, around: date
) -> CutoffCalendar:
    """The calendar a cut-off near `around` must obey (first bundle: the pinned one)."""
    respect = floor.respect_calendar or any(
        b.arrears is None or b.arrears.respect_calendar for b in bundles
    )
    cals = [calendar_of(b) for b in bundles] if respect else []
    blocked: set[str] = set()
    weekdays = set(ALL_WEEK)
    start, end = "00:00", "24:00"
    for c in cals:
        blocked |= set(c.blocked_dates)
        weekdays &= set(c.weekdays)
        start, end = max(start, c.start), min(end, c.end)
    for m in moratoria(session):
        blocked |= _days(m.first_day, m.last_day)
    if respect:
        if floor.weekdays is not None:
            weekdays &= set(floor.weekdays)
        start = max(start, floor.earliest_start or start)
        end = min(end, floor.latest_end or end)
        for year in range(around.year - YEARS_AROUND, around.year + YEARS_AROUND + 1):
            blocked |= {f"{year}-{md}" for md in floor.blocked_days}
        if floor.day_before_holiday:
            for b in bundles:
                blocked |= {(d - timedelta(days=1)).isoformat() for d in holidays_of(b)}
    timezone = cals[0].timezone if cals else str(bundles[0].calendars.get("timezone", "UTC"))
    return CutoffCalendar(
        timezone=timezone,
        blocked_dates=sorted(blocked),
        weekdays=sorted(weekdays),
        start=start,
        end=end,
    )


def moratorium_on(session: Session, day: date) -> Moratorium | None:
    """The declared moratorium covering `day`, if any (for the reason of a postponement)."""
    for m in moratoria(session):
        if m.first_day <= day <= m.last_day:
            return m
    return None
