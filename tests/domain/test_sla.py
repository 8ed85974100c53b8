"""SLA clocks: how much of a target is used, and when warnings and the breach fall due.

Every instant is worked out by hand in the comment next to it. Business hours are
weekdays 09:00-17:00; 9 January 2026 is a Friday.
"""

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.calendars import Calendar
from domain.priority import Priority
from domain.process import ProcessDefinition
from domain.sla import (
    ClockAlarm,
    ClockName,
    ClockState,
    DueAlarm,
    SlaClock,
    SlaPolicy,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)
P = Priority


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def office(timezone: str = "UTC", holidays: tuple[str, ...] = ()) -> dict[str, object]:
    return {"timezone": timezone, "business_hours": {}, "holidays": list(holidays)}


PROCESS = ProcessDefinition.model_validate(
    {
        "calendars": {
            "office": office(),
            "office-oslo": office("Europe/Oslo"),
            # Monday 12 January 2026 is a holiday.
            "office-holiday": office(holidays=("2026-01-12",)),
        },
        "sla": {
            "targets": {
                "P1": {"acknowledge": "15m", "resolve": "4h"},
                "P2": {"resolve": "8h"},
                "P3": {"resolve": "8h", "calendar": "office"},
                "P4": {"resolve": "8h", "calendar": "office-oslo"},
                "P5": {"resolve": "8h", "calendar": "office-holiday"},
            }
        },
    }
)
ALWAYS = PROCESS.calendar("24x7")
OFFICE = PROCESS.calendar("office")

MONDAY = utc(2026, 1, 5, 10)  # Monday 5 January 2026, 10:00 UTC


def started(priority: Priority, at: datetime, name: ClockName = ClockName.RESOLVE) -> SlaClock:
    """The clock `name` of an incident of `priority` opened at `at`, as the process sets it."""
    targets = PROCESS.sla.targets_for(priority)
    target = targets.target(name)
    assert target is not None
    return SlaClock(
        name=name,
        target=target,
        calendar=targets.calendar,
        epoch=1,
        started_at=at,
        running_since=at,
    )


def calendar_of(clock: SlaClock) -> Calendar:
    return PROCESS.calendar(clock.calendar)


def target_of(priority: Priority) -> timedelta:
    target = PROCESS.sla.targets_for(priority).resolve
    assert target is not None
    return target


def alarm(fraction: float, at: datetime) -> DueAlarm:
    kind = ClockAlarm.BREACH if fraction == 1.0 else ClockAlarm.WARNING
    return DueAlarm(clock=ClockName.RESOLVE, alarm=kind, fraction=fraction, at=at)


class TestAroundTheClock:
    def test_elapsed_is_wall_time(self) -> None:
        clock = started(P.P1, MONDAY)

        assert clock.elapsed(MONDAY + 90 * M, ALWAYS) == 90 * M

    def test_deadline_is_start_plus_target(self) -> None:
        clock = started(P.P1, MONDAY)

        # 10:00 + 4h
        assert clock.deadline(ALWAYS) == utc(2026, 1, 5, 14)

    def test_each_clock_has_its_own_target(self) -> None:
        clock = started(P.P1, MONDAY, ClockName.ACKNOWLEDGE)

        # 10:00 + 15m
        assert clock.deadline(ALWAYS) == utc(2026, 1, 5, 10, 15)


class TestHold:
    def test_three_hour_hold_moves_the_deadline_by_three_hours(self) -> None:
        clock = started(P.P1, MONDAY)
        before = clock.deadline(ALWAYS)

        clock.pause(MONDAY + H, ALWAYS)
        clock.resume(MONDAY + 4 * H)

        # 1h spent before the hold, 3h left from 14:00: 17:00, the old 14:00 plus 3h.
        assert before == utc(2026, 1, 5, 14)
        assert clock.deadline(ALWAYS) == utc(2026, 1, 5, 17)

    def test_paused_clock_stands_still_and_has_no_deadline(self) -> None:
        clock = started(P.P1, MONDAY)

        clock.pause(MONDAY + H, ALWAYS)

        assert clock.elapsed(MONDAY + 10 * H, ALWAYS) == H
        assert clock.deadline(ALWAYS) is None
        assert clock.due(ALWAYS, [0.5, 0.75]) == []

    def test_resume_keeps_time_already_spent(self) -> None:
        clock = started(P.P1, MONDAY)
        clock.pause(MONDAY + H, ALWAYS)

        clock.resume(MONDAY + 4 * H)

        # 1h before the hold (10-11) and 1h since (14-15).
        assert clock.elapsed(MONDAY + 5 * H, ALWAYS) == 2 * H

    def test_two_holds_add_up(self) -> None:
        clock = started(P.P1, MONDAY)
        clock.pause(MONDAY + H, ALWAYS)
        clock.resume(MONDAY + 2 * H)
        clock.pause(MONDAY + 3 * H, ALWAYS)
        clock.resume(MONDAY + 5 * H)

        # Ran 10-11 and 12-13 (2h), so 2h are left from 15:00.
        assert clock.deadline(ALWAYS) == utc(2026, 1, 5, 17)

    def test_pausing_a_paused_clock_counts_nothing_twice(self) -> None:
        clock = started(P.P1, MONDAY)
        clock.pause(MONDAY + H, ALWAYS)

        clock.pause(MONDAY + 2 * H, ALWAYS)

        assert clock.elapsed(MONDAY + 3 * H, ALWAYS) == H

    def test_resuming_a_running_clock_changes_nothing(self) -> None:
        clock = started(P.P1, MONDAY)

        clock.resume(MONDAY + 2 * H)

        assert clock.deadline(ALWAYS) == utc(2026, 1, 5, 14)


class TestPriorityChange:
    def test_running_clock_keeps_its_elapsed_time(self) -> None:
        clock = started(P.P1, MONDAY)

        clock.retarget(target_of(P.P2), "24x7", MONDAY + H, ALWAYS)

        # 1h spent on the old 4h target; the new 8h target runs out 7h after 11:00.
        assert clock.elapsed(MONDAY + H, ALWAYS) == H
        assert clock.deadline(ALWAYS) == utc(2026, 1, 5, 18)
        assert clock.state is ClockState.RUNNING

    def test_clock_on_hold_keeps_its_time_and_stays_paused(self) -> None:
        clock = started(P.P1, MONDAY)
        clock.pause(MONDAY + H, ALWAYS)

        clock.retarget(target_of(P.P2), "24x7", MONDAY + 2 * H, ALWAYS)

        assert clock.state is ClockState.PAUSED
        assert clock.elapsed(MONDAY + 3 * H, ALWAYS) == H
        clock.resume(MONDAY + 3 * H)
        # 1h banked, 7h left from 13:00.
        assert clock.deadline(ALWAYS) == utc(2026, 1, 5, 20)

    def test_target_already_exceeded_breaches_at_once(self) -> None:
        clock = started(P.P2, MONDAY)
        now = MONDAY + 5 * H  # 15:00, 5h spent

        clock.retarget(target_of(P.P1), "24x7", now, ALWAYS)

        # The new 4h target was passed an hour ago: every alarm is due now, none earlier.
        assert clock.deadline(ALWAYS) == now
        assert clock.due(ALWAYS, [0.5, 0.75]) == [alarm(0.5, now), alarm(0.75, now), alarm(1, now)]

    def test_target_exceeded_during_a_hold_breaches_on_resume(self) -> None:
        clock = started(P.P2, MONDAY)
        clock.pause(MONDAY + 5 * H, ALWAYS)

        clock.retarget(target_of(P.P1), "24x7", MONDAY + 6 * H, ALWAYS)

        assert clock.due(ALWAYS, [0.5, 0.75]) == []
        clock.resume(MONDAY + 7 * H)
        assert clock.deadline(ALWAYS) == MONDAY + 7 * H

    def test_time_so_far_is_counted_on_the_old_calendar(self) -> None:
        start = utc(2026, 1, 12, 15)  # Monday 15:00, office open until 17:00
        clock = started(P.P3, start)

        clock.retarget(target_of(P.P1), "24x7", utc(2026, 1, 12, 20), OFFICE)

        # 15:00-20:00 holds 2 office hours, not 5; 2h of the 4h are left, around the clock.
        assert clock.calendar == "24x7"
        assert clock.elapsed(utc(2026, 1, 12, 20), ALWAYS) == 2 * H
        assert clock.deadline(ALWAYS) == utc(2026, 1, 12, 22)


class TestMeet:
    def test_met_clock_stops_counting(self) -> None:
        clock = started(P.P1, MONDAY)

        clock.meet(MONDAY + 2 * H, ALWAYS)

        assert clock.state is ClockState.MET
        assert clock.met_at == MONDAY + 2 * H
        assert clock.elapsed(MONDAY + 10 * H, ALWAYS) == 2 * H
        assert clock.deadline(ALWAYS) is None
        assert clock.due(ALWAYS, [0.5, 0.75]) == []

    def test_resume_does_not_restart_a_met_clock(self) -> None:
        clock = started(P.P1, MONDAY)
        clock.meet(MONDAY + 2 * H, ALWAYS)

        clock.resume(MONDAY + 3 * H)

        assert clock.state is ClockState.MET
        assert clock.elapsed(MONDAY + 10 * H, ALWAYS) == 2 * H


class TestReopen:
    def test_restart_continues_from_the_banked_time(self) -> None:
        clock = started(P.P1, MONDAY)
        clock.meet(MONDAY + 2 * H, ALWAYS)

        clock.restart(MONDAY + 8 * H)

        # 2h spent before resolving; the 2h left run from 18:00.
        assert clock.state is ClockState.RUNNING
        assert clock.met_at is None
        assert clock.elapsed(MONDAY + 9 * H, ALWAYS) == 3 * H
        assert clock.deadline(ALWAYS) == utc(2026, 1, 5, 20)

    def test_warnings_already_sent_are_not_sent_again(self) -> None:
        clock = started(P.P1, MONDAY)
        clock.record(alarm(0.5, MONDAY + 2 * H))
        clock.meet(MONDAY + 2 * H, ALWAYS)

        clock.restart(MONDAY + 8 * H)

        # 75% (3h) is 1h after 18:00, the breach 2h after.
        assert clock.due(ALWAYS, [0.5, 0.75]) == [
            alarm(0.75, utc(2026, 1, 5, 19)),
            alarm(1, utc(2026, 1, 5, 20)),
        ]


class TestWarnings:
    def test_warnings_fall_due_at_their_share_of_the_target(self) -> None:
        clock = started(P.P1, MONDAY)

        # 50% and 75% of 4h are 2h and 3h after 10:00; the breach 4h after.
        assert clock.due(ALWAYS, [0.5, 0.75]) == [
            alarm(0.5, utc(2026, 1, 5, 12)),
            alarm(0.75, utc(2026, 1, 5, 13)),
            alarm(1, utc(2026, 1, 5, 14)),
        ]

    def test_a_recorded_warning_is_not_due_again(self) -> None:
        clock = started(P.P1, MONDAY)

        clock.record(alarm(0.5, utc(2026, 1, 5, 12)))

        assert clock.warned == [0.5]
        assert [a.fraction for a in clock.due(ALWAYS, [0.5, 0.75])] == [0.75, 1.0]

    def test_a_hold_moves_the_warnings_too(self) -> None:
        clock = started(P.P1, MONDAY)
        clock.pause(MONDAY + H, ALWAYS)
        clock.resume(MONDAY + 2 * H)

        assert [a.at for a in clock.due(ALWAYS, [0.5, 0.75])] == [
            utc(2026, 1, 5, 13),
            utc(2026, 1, 5, 14),
            utc(2026, 1, 5, 15),
        ]

    def test_recorded_breach_is_kept_with_its_due_time(self) -> None:
        clock = started(P.P1, MONDAY)

        clock.record(alarm(1, utc(2026, 1, 5, 14)))

        assert clock.breached_at == utc(2026, 1, 5, 14)
        assert [a.fraction for a in clock.due(ALWAYS, [0.5, 0.75])] == [0.5, 0.75]

    def test_policy_warns_at_half_and_three_quarters_by_default(self) -> None:
        assert SlaPolicy().warn_at == [0.5, 0.75]

    def test_policy_sorts_warnings_and_drops_repeats(self) -> None:
        assert SlaPolicy.model_validate({"warn_at": [0.9, 0.5, 0.9]}).warn_at == [0.5, 0.9]

    @pytest.mark.parametrize("fraction", [0, 1, 1.5])
    def test_warning_must_fall_before_the_breach(self, fraction: float) -> None:
        with pytest.raises(ValidationError):
            SlaPolicy.model_validate({"warn_at": [fraction]})


class TestBusinessHours:
    def test_opened_friday_at_closing_breaches_monday_at_closing(self) -> None:
        clock = started(P.P3, utc(2026, 1, 9, 17))  # Friday 17:00, just closed

        # Friday is over; Saturday and Sunday are closed; Monday 09:00-17:00 holds all
        # 8 hours, running out exactly at closing time.
        assert clock.deadline(OFFICE) == utc(2026, 1, 12, 17)

    def test_warnings_fall_inside_opening_hours(self) -> None:
        clock = started(P.P3, utc(2026, 1, 9, 17))

        # 4h and 6h into Monday's opening at 09:00.
        assert [a.at for a in clock.due(OFFICE, [0.5, 0.75])] == [
            utc(2026, 1, 12, 13),
            utc(2026, 1, 12, 15),
            utc(2026, 1, 12, 17),
        ]

    def test_the_weekend_does_not_count(self) -> None:
        clock = started(P.P3, utc(2026, 1, 9, 17))

        assert clock.elapsed(utc(2026, 1, 11, 23), OFFICE) == timedelta(0)  # Sunday night
        assert clock.elapsed(utc(2026, 1, 12, 10, 30), OFFICE) == 90 * M

    def test_opened_on_saturday_starts_counting_on_monday(self) -> None:
        clock = started(P.P3, utc(2026, 1, 10, 11))

        assert clock.elapsed(utc(2026, 1, 12, 9), OFFICE) == timedelta(0)
        assert clock.deadline(OFFICE) == utc(2026, 1, 12, 17)

    def test_target_spans_two_working_days(self) -> None:
        clock = started(P.P3, utc(2026, 1, 7, 14))  # Wednesday 14:00

        # 3h on Wednesday (14-17), the other 5h on Thursday 09:00-14:00.
        assert clock.deadline(OFFICE) == utc(2026, 1, 8, 14)

    def test_a_holiday_is_skipped(self) -> None:
        clock = started(P.P5, utc(2026, 1, 9, 17))

        # Monday 12 January is a holiday, so Tuesday holds the 8 hours.
        assert clock.deadline(calendar_of(clock)) == utc(2026, 1, 13, 17)

    def test_a_hold_over_the_weekend_costs_no_office_time(self) -> None:
        clock = started(P.P3, utc(2026, 1, 9, 13))  # Friday 13:00
        clock.pause(utc(2026, 1, 9, 15), OFFICE)
        clock.resume(utc(2026, 1, 12, 10))  # Monday 10:00

        # 2h on Friday; 6h left from Monday 10:00.
        assert clock.deadline(OFFICE) == utc(2026, 1, 12, 16)

    def test_clocks_going_forward_in_oslo(self) -> None:
        # Friday 27 March 2026 16:00 CET (UTC+1) is 15:00 UTC. Friday gives 1h (16-17);
        # Oslo moves to CEST (UTC+2) on Sunday 29 March, so Monday opens at 07:00 UTC
        # and the other 7h run out at 16:00 CEST, 14:00 UTC.
        clock = started(P.P4, utc(2026, 3, 27, 15))

        assert clock.deadline(calendar_of(clock)) == utc(2026, 3, 30, 14)

    def test_clocks_going_back_in_oslo(self) -> None:
        # Friday 23 October 2026 16:00 CEST (UTC+2) is 14:00 UTC. Friday gives 1h;
        # Oslo returns to CET (UTC+1) on Sunday 25 October, so Monday opens at 08:00
        # UTC and the other 7h run out at 16:00 CET, 15:00 UTC.
        clock = started(P.P4, utc(2026, 10, 23, 14))

        assert clock.deadline(calendar_of(clock)) == utc(2026, 10, 26, 15)


class TestState:
    def test_a_new_clock_is_running(self) -> None:
        assert started(P.P1, MONDAY).state is ClockState.RUNNING

    def test_a_held_clock_is_paused(self) -> None:
        clock = started(P.P1, MONDAY)

        clock.pause(MONDAY + H, ALWAYS)

        assert clock.state is ClockState.PAUSED

    def test_a_clock_met_in_time_is_met(self) -> None:
        clock = started(P.P1, MONDAY)

        clock.meet(MONDAY + H, ALWAYS)

        assert clock.state is ClockState.MET

    def test_a_breached_clock_stays_breached_when_met_late(self) -> None:
        clock = started(P.P1, MONDAY)
        clock.record(alarm(1, utc(2026, 1, 5, 14)))
        assert clock.state is ClockState.BREACHED

        clock.meet(utc(2026, 1, 5, 15), ALWAYS)

        assert clock.state is ClockState.BREACHED
        assert clock.met_at == utc(2026, 1, 5, 15)
