"""Disconnection calendar: pure, deterministic slot logic for the arrears ladder.

Regulation (供电营业规则 art. 67) and our protections, as the policy parameterises them:
the disconnection notice reaches the customer between `min_lead` and `max_lead` before the
cut-off (3..7 days by default), the customer is told again at least `renotice_lead` before
it (30 minutes), and no cut-off happens on a blocked day (holiday or moratorium), on a
weekday the policy does not allow, or outside the allowed local hours.

Everything here is a pure function of its arguments (no clock, no I/O besides the IANA
time zone database), so workflows may call it (imported through `imports_passed_through`,
because the sandbox proxies `zoneinfo` objects) and hypothesis can test it directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

# How far ahead to look for an allowed slot. A safety bound, not a business parameter: a
# calendar that blocks every day for two years means "never", and the ladder waits instead.
SEARCH_DAYS = 731


@dataclass
class CutoffCalendar:
    """When a cut-off may happen (local dates and times in `timezone`)."""

    timezone: str
    blocked_dates: list[str] = field(default_factory=list)  # ISO dates: holidays, moratorium
    weekdays: list[int] = field(default_factory=lambda: [1, 2, 3, 4, 5])  # ISO 1=Mon..7=Sun
    start: str = "00:00"  # allowed local hours [start, end)
    end: str = "24:00"


@dataclass
class NoticeWindow:
    """Lead times of the disconnection notice and the re-notice, in seconds."""

    min_lead: float
    max_lead: float
    renotice_lead: float
    target_lead: float = 0.0  # the planned lead (policy `lead`); 0 means min_lead

    @property
    def planned(self) -> float:
        """The lead the cut-off is planned at, clamped into [min_lead, max_lead]."""
        return min(max(self.target_lead, self.min_lead), self.max_lead)


@dataclass
class CutoffPlan:
    """Result of `plan_cutoff`: the slot, or when a fresh notice must be served first."""

    cutoff: datetime | None
    fresh_notice_at: datetime | None = None


@lru_cache(maxsize=32)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@lru_cache(maxsize=64)
def _blocked(dates: tuple[str, ...]) -> frozenset[date]:
    return frozenset(date.fromisoformat(d) for d in dates)


def _clock(value: str) -> timedelta:
    hours, minutes = value.split(":")
    return timedelta(hours=int(hours), minutes=int(minutes))


def is_blocked_day(day: date, cal: CutoffCalendar) -> bool:
    """True when no cut-off may happen at all on local date `day`."""
    return day in _blocked(tuple(cal.blocked_dates)) or day.isoweekday() not in cal.weekdays


def _window(day: date, cal: CutoffCalendar) -> tuple[datetime, datetime]:
    # Local midnight plus an offset keeps "24:00" expressible; DST gaps resolve via zoneinfo.
    midnight = datetime.combine(day, time(0), tzinfo=_zone(cal.timezone))
    start = (midnight + _clock(cal.start)).astimezone(UTC)
    end = (midnight + _clock(cal.end)).astimezone(UTC)
    return start, end


def is_allowed(instant: datetime, cal: CutoffCalendar) -> bool:
    """True when a cut-off may happen at `instant` (aware datetime)."""
    day = instant.astimezone(_zone(cal.timezone)).date()
    if is_blocked_day(day, cal):
        return False
    start, end = _window(day, cal)
    return start <= instant < end


def next_slot(earliest: datetime, cal: CutoffCalendar) -> datetime | None:
    """The first allowed instant at or after `earliest`; None when there is none."""
    first = earliest.astimezone(_zone(cal.timezone)).date()
    for offset in range(SEARCH_DAYS):
        day = first + timedelta(days=offset)
        if is_blocked_day(day, cal):
            continue
        start, end = _window(day, cal)
        candidate = max(start, earliest)
        if candidate < end:
            return candidate
    return None


def notice_valid(delivered: datetime, cutoff: datetime, window: NoticeWindow) -> bool:
    """The notice delivered at `delivered` is within the legal lead before `cutoff`."""
    lead = (cutoff - delivered).total_seconds()
    return window.min_lead <= lead <= window.max_lead


def plan_cutoff(delivered: datetime, cal: CutoffCalendar, window: NoticeWindow) -> CutoffPlan:
    """The cut-off after a notice delivered at `delivered`.

    The earliest candidate is `delivered + planned lead`, moved to the next allowed slot. If
    that slot is more than `max_lead` after the delivery, the notice would be stale at the
    cut-off: a fresh notice must be served at `cutoff - planned lead` (then `plan_cutoff` of
    that delivery keeps the same slot).
    """
    lead = timedelta(seconds=window.planned)
    cutoff = next_slot(delivered + lead, cal)
    if cutoff is None:
        return CutoffPlan(None)
    if notice_valid(delivered, cutoff, window):
        return CutoffPlan(cutoff)
    return CutoffPlan(cutoff, fresh_notice_at=cutoff - lead)


def renotice_at(cutoff: datetime, window: NoticeWindow) -> datetime:
    """When the re-notice before the cut-off is served."""
    return cutoff - timedelta(seconds=window.renotice_lead)


def confirm_cutoff(
    cutoff: datetime,
    notice_delivered: datetime,
    renotice_delivered: datetime,
    cal: CutoffCalendar,
    window: NoticeWindow,
) -> datetime | None:
    """The final cut-off once the re-notice is confirmed; None when the notice is stale.

    A re-notice confirmed late (a slow channel, a person delivering it) pushes the cut-off so
    that it still comes at least `renotice_lead` after the re-notice, in an allowed slot.
    """
    earliest = max(cutoff, renotice_delivered + timedelta(seconds=window.renotice_lead))
    final = next_slot(earliest, cal)
    if final is None or not notice_valid(notice_delivered, final, window):
        return None
    return final


def cutoff_permitted(
    at: datetime,
    notice_delivered: datetime | None,
    renotice_delivered: datetime | None,
    cal: CutoffCalendar,
    window: NoticeWindow,
) -> bool:
    """The last guard before a disconnection order: every regulatory condition at `at`."""
    if notice_delivered is None or renotice_delivered is None:
        return False
    if not notice_valid(notice_delivered, at, window):
        return False
    if (at - renotice_delivered).total_seconds() < window.renotice_lead:
        return False
    return is_allowed(at, cal)


def replan_cutoff(
    delivered: datetime,
    held_seconds: float,
    now: datetime,
    cal: CutoffCalendar,
    window: NoticeWindow,
) -> CutoffPlan:
    """The cut-off after a notice delivered at `delivered`, with the time spent on hold since
    re-anchored (the customer keeps the whole planned lead), never sooner than a re-notice
    can still precede it. When the slot is too far from the delivery for the notice to stand
    (stale), a fresh notice is due at `cutoff - planned lead`, or now when that has passed.
    """
    lead = timedelta(seconds=window.planned + held_seconds)
    earliest = max(delivered + lead, now + timedelta(seconds=window.renotice_lead))
    cutoff = next_slot(earliest, cal)
    if cutoff is None:
        return CutoffPlan(None)
    if notice_valid(delivered, cutoff, window):
        return CutoffPlan(cutoff)
    fresh = max(now, cutoff - timedelta(seconds=window.planned))
    return CutoffPlan(cutoff, fresh_notice_at=fresh)
