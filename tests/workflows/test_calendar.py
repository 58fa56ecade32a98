"""Property tests of the disconnection calendar (pure slot logic, many examples)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from workflows.calendar import (
    CutoffCalendar,
    NoticeWindow,
    confirm_cutoff,
    cutoff_permitted,
    is_allowed,
    is_blocked_day,
    next_slot,
    notice_valid,
    plan_cutoff,
    renotice_at,
)

DAY = 86400.0
BASE = datetime(2026, 1, 1, tzinfo=UTC)
WINDOW = NoticeWindow(min_lead=3 * DAY, max_lead=7 * DAY, renotice_lead=1800.0)
PLANNED = NoticeWindow(
    min_lead=3 * DAY, max_lead=7 * DAY, renotice_lead=1800.0, target_lead=5 * DAY
)
windows = st.sampled_from([WINDOW, PLANNED])

instants = st.floats(min_value=0, max_value=400 * DAY).map(lambda s: BASE + timedelta(seconds=s))


@st.composite
def calendars(draw: st.DrawFn) -> CutoffCalendar:
    start_h = draw(st.integers(0, 20))
    end_h = draw(st.integers(start_h + 1, 24))
    weekdays = draw(st.lists(st.integers(1, 7), min_size=1, max_size=7, unique=True))
    blocked = draw(
        st.lists(st.integers(0, 420).map(lambda d: BASE.date() + timedelta(days=d)), max_size=60)
    )
    # runs of blocked days (moratorium of extreme weather)
    run_start = draw(st.integers(0, 400))
    run_len = draw(st.integers(0, 12))
    blocked += [BASE.date() + timedelta(days=run_start + i) for i in range(run_len)]
    return CutoffCalendar(
        timezone=draw(st.sampled_from(["Asia/Shanghai", "UTC", "Europe/Berlin"])),
        blocked_dates=sorted({d.isoformat() for d in blocked}),
        weekdays=sorted(weekdays),
        start=f"{start_h:02d}:{draw(st.sampled_from([0, 30])):02d}",
        end=f"{end_h:02d}:00",
    )


@settings(max_examples=400, deadline=None)
@given(calendars(), instants)
def test_next_slot_is_the_first_allowed_instant(cal: CutoffCalendar, at: datetime) -> None:
    slot = next_slot(at, cal)
    assert slot is not None
    assert slot >= at and is_allowed(slot, cal)
    # nothing allowed in between: windows start on whole or half hours, so probing every
    # half-hour boundary between `at` and `slot` finds any earlier allowed instant
    probe = at.replace(minute=(at.minute // 30) * 30, second=0, microsecond=0)
    while probe < slot:
        if probe >= at:
            assert not is_allowed(probe, cal)
        probe += timedelta(minutes=30)
    if slot > at:
        assert not is_allowed(slot - timedelta(seconds=1), cal)


@settings(max_examples=400, deadline=None)
@given(calendars(), instants, windows)
def test_plan_cutoff_obeys_the_notice_window(
    cal: CutoffCalendar, delivered: datetime, window: NoticeWindow
) -> None:
    plan = plan_cutoff(delivered, cal, window)
    assert plan.cutoff is not None and is_allowed(plan.cutoff, cal)
    assert (plan.cutoff - delivered).total_seconds() >= window.planned
    if plan.fresh_notice_at is None:
        assert notice_valid(delivered, plan.cutoff, window)
    else:
        # a fresh notice served when asked keeps the slot and needs no further notice
        again = plan_cutoff(plan.fresh_notice_at, cal, window)
        assert again.cutoff == plan.cutoff and again.fresh_notice_at is None
        assert plan.fresh_notice_at > delivered


@settings(max_examples=300, deadline=None)
@given(calendars(), instants, st.floats(min_value=0, max_value=2 * DAY))
def test_confirmed_cutoff_respects_every_rule(
    cal: CutoffCalendar, delivered: datetime, renotice_delay: float
) -> None:
    plan = plan_cutoff(delivered, cal, WINDOW)
    assert plan.cutoff is not None
    notice = plan.fresh_notice_at or delivered
    cutoff = plan_cutoff(notice, cal, WINDOW).cutoff
    assert cutoff is not None
    renotice = renotice_at(cutoff, WINDOW) + timedelta(seconds=renotice_delay)
    final = confirm_cutoff(cutoff, notice, renotice, cal, WINDOW)
    if final is not None:
        assert cutoff_permitted(final, notice, renotice, cal, WINDOW)
        assert final >= cutoff
    if renotice_delay == 0:
        assert final == cutoff


@settings(max_examples=200, deadline=None)
@given(calendars(), instants)
def test_blocked_days_never_allowed(cal: CutoffCalendar, at: datetime) -> None:
    for d in cal.blocked_dates[:5]:
        day = date.fromisoformat(d)
        assert is_blocked_day(day, cal)
    if is_allowed(at, cal):
        local = at.astimezone(__import__("zoneinfo").ZoneInfo(cal.timezone))
        assert local.date().isoformat() not in cal.blocked_dates
        assert local.isoweekday() in cal.weekdays


def test_everything_blocked_means_no_slot() -> None:
    cal = CutoffCalendar(
        "UTC",
        weekdays=[1],
        start="09:00",
        end="17:00",
        blocked_dates=[(BASE.date() + timedelta(days=d)).isoformat() for d in range(800)],
    )
    assert next_slot(BASE, cal) is None
    assert plan_cutoff(BASE, cal, WINDOW).cutoff is None
    assert not cutoff_permitted(BASE, None, None, cal, WINDOW)


def test_holiday_week_forces_a_fresh_notice() -> None:
    # Notice delivered Mon 2026-09-28; 3 days later is the National Day golden week.
    cal = CutoffCalendar(
        "Asia/Shanghai",
        start="09:00",
        end="17:00",
        blocked_dates=[f"2026-10-0{d}" for d in range(1, 9)],
    )
    delivered = datetime(2026, 9, 28, 2, 0, tzinfo=UTC)  # 10:00 local
    plan = plan_cutoff(delivered, cal, WINDOW)
    assert plan.cutoff == datetime(2026, 10, 9, 1, 0, tzinfo=UTC)  # Fri 09:00 local
    assert plan.fresh_notice_at == plan.cutoff - timedelta(days=3)
