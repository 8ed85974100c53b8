"""On-call schedules: who answers a page at a given instant."""

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from domain.schedules import OnCallSchedule, Override, Rotation, Shift

TEAM = ["alice", "bob", "carol"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def schedule(
    *rotations: dict[str, Any], timezone: str = "UTC", overrides: list[dict[str, Any]] | None = None
) -> OnCallSchedule:
    return OnCallSchedule.model_validate(
        {
            "name": "platform",
            "timezone": timezone,
            "rotations": list(rotations),
            "overrides": overrides or [],
        }
    )


WEEKLY = {"members": TEAM, "length": "7d", "handoff": "2026-01-05T09:00"}  # a Monday


class TestWeeklyRotation:
    weekly = schedule(WEEKLY)

    def test_members_take_turns_in_order(self) -> None:
        assert self.weekly.on_call(utc(2026, 1, 5, 9)) == "alice"
        assert self.weekly.on_call(utc(2026, 1, 12, 8, 59)) == "alice"
        assert self.weekly.on_call(utc(2026, 1, 12, 9)) == "bob"
        assert self.weekly.on_call(utc(2026, 1, 19, 9)) == "carol"

    def test_turns_wrap_around(self) -> None:
        assert self.weekly.on_call(utc(2026, 1, 26, 9)) == "alice"
        # Mon 4 Jan 2027 09:00 starts turn 52; 52 % 3 = 1.
        assert self.weekly.on_call(utc(2027, 1, 4, 9)) == "bob"

    def test_aware_handoff_is_the_same_instant(self) -> None:
        aware = schedule({**WEEKLY, "handoff": "2026-01-05T10:00+01:00"})

        assert aware.on_call(utc(2026, 1, 12, 8, 59)) == "alice"
        assert aware.on_call(utc(2026, 1, 12, 9)) == "bob"


class TestBeforeTheFirstHandoff:
    def test_nobody_is_on_call(self) -> None:
        assert schedule(WEEKLY).on_call(utc(2026, 1, 5, 8, 59)) is None

    def test_naive_handoff_is_local_time(self) -> None:
        oslo = schedule(WEEKLY, timezone="Europe/Oslo")

        # 09:00 in Oslo in January is 08:00 UTC.
        assert oslo.on_call(utc(2026, 1, 5, 7, 59)) is None
        assert oslo.on_call(utc(2026, 1, 5, 8)) == "alice"


class TestHandoffKeepsLocalWallTime:
    """Weekly at Monday 09:00 in Oslo, from 2 March 2026 (alice, bob, carol, alice, ...)."""

    oslo = schedule({**WEEKLY, "handoff": "2026-03-02T09:00"}, timezone="Europe/Oslo")

    def test_winter_handoff_at_nine_cet(self) -> None:
        # Turn 3 (alice) starts Mon 23 Mar 09:00 CET = 08:00 UTC.
        assert self.oslo.on_call(utc(2026, 3, 23, 7, 59)) == "carol"
        assert self.oslo.on_call(utc(2026, 3, 23, 8)) == "alice"

    def test_summer_handoff_at_nine_cest(self) -> None:
        # Clocks went forward on 29 Mar; turn 4 (bob) starts Mon 30 Mar 09:00 CEST = 07:00 UTC.
        assert self.oslo.on_call(utc(2026, 3, 30, 6, 59)) == "alice"
        assert self.oslo.on_call(utc(2026, 3, 30, 7)) == "bob"

    def test_back_to_nine_cet_after_autumn(self) -> None:
        # Turn 33 (alice) starts Mon 19 Oct 09:00 CEST = 07:00 UTC; clocks go back on
        # 25 Oct; turn 34 (bob) starts Mon 26 Oct 09:00 CET = 08:00 UTC.
        assert self.oslo.on_call(utc(2026, 10, 19, 7)) == "alice"
        assert self.oslo.on_call(utc(2026, 10, 26, 7, 59)) == "alice"
        assert self.oslo.on_call(utc(2026, 10, 26, 8)) == "bob"

    def test_daily_turns_keep_wall_time_too(self) -> None:
        daily = schedule(
            {"members": ["day1", "day2"], "length": "1d", "handoff": "2026-03-28T09:00"},
            timezone="Europe/Oslo",
        )

        # Sat 28 Mar 09:00 CET = 08:00 UTC (day1); Sun 29 Mar 09:00 CEST = 07:00 UTC (day2).
        assert daily.on_call(utc(2026, 3, 29, 6, 59)) == "day1"
        assert daily.on_call(utc(2026, 3, 29, 7)) == "day2"


class TestTurnsShorterThanADay:
    def test_twelve_hour_turns_are_elapsed_time(self) -> None:
        halves = schedule(
            {"members": ["day", "night"], "length": "12h", "handoff": "2026-03-28T09:00"},
            timezone="Europe/Oslo",
        )

        # 08:00 UTC (09:00 CET) day, 20:00 UTC night, 29 Mar 08:00 UTC day again:
        # 10:00 CEST on the wall, since 12h is elapsed time, not wall time.
        assert halves.on_call(utc(2026, 3, 28, 19, 59)) == "day"
        assert halves.on_call(utc(2026, 3, 28, 20)) == "night"
        assert halves.on_call(utc(2026, 3, 29, 7, 59)) == "night"
        assert halves.on_call(utc(2026, 3, 29, 8)) == "day"


class TestOverrides:
    def test_override_wins_over_the_rotation(self) -> None:
        covered = schedule(
            WEEKLY,
            overrides=[{"user": "dave", "start": "2026-01-06T12:00", "end": "2026-01-06T18:00"}],
        )

        assert covered.on_call(utc(2026, 1, 6, 11, 59)) == "alice"
        assert covered.on_call(utc(2026, 1, 6, 12)) == "dave"
        assert covered.on_call(utc(2026, 1, 6, 17, 59)) == "dave"
        assert covered.on_call(utc(2026, 1, 6, 18)) == "alice"

    def test_later_override_wins_an_overlap(self) -> None:
        covered = schedule(
            WEEKLY,
            overrides=[
                {"user": "dave", "start": "2026-01-06T12:00", "end": "2026-01-06T18:00"},
                {"user": "erin", "start": "2026-01-06T15:00", "end": "2026-01-06T16:00"},
            ],
        )

        assert covered.on_call(utc(2026, 1, 6, 14, 59)) == "dave"
        assert covered.on_call(utc(2026, 1, 6, 15, 30)) == "erin"
        assert covered.on_call(utc(2026, 1, 6, 16)) == "dave"

    def test_naive_override_is_local_time(self) -> None:
        oslo = schedule(
            WEEKLY,
            timezone="Europe/Oslo",
            overrides=[{"user": "dave", "start": "2026-07-01T10:00", "end": "2026-07-01T12:00"}],
        )

        # 10:00-12:00 CEST is 08:00-10:00 UTC.
        assert oslo.on_call(utc(2026, 7, 1, 7, 59)) != "dave"
        assert oslo.on_call(utc(2026, 7, 1, 8)) == "dave"
        assert oslo.on_call(utc(2026, 7, 1, 10)) != "dave"

    def test_override_covers_time_before_the_first_handoff(self) -> None:
        early = schedule(
            WEEKLY,
            overrides=[{"user": "dave", "start": "2026-01-01T00:00", "end": "2026-01-02T00:00"}],
        )

        assert early.on_call(utc(2026, 1, 1, 12)) == "dave"
        assert early.on_call(utc(2026, 1, 2, 12)) is None


class TestLayers:
    layered = schedule(
        WEEKLY, {"members": ["erin", "frank"], "length": "1d", "handoff": "2026-01-20T00:00"}
    )

    def test_first_layer_answers_until_the_later_one_starts(self) -> None:
        assert self.layered.on_call(utc(2026, 1, 19, 23, 59)) == "carol"

    def test_later_layer_wins_once_it_has_someone(self) -> None:
        assert self.layered.on_call(utc(2026, 1, 20)) == "erin"
        assert self.layered.on_call(utc(2026, 1, 21, 12)) == "frank"

    def test_overrides_win_over_every_layer(self) -> None:
        covered = self.layered.model_copy(
            update={
                "overrides": [
                    Override(user="dave", start=utc(2026, 1, 21, 12), end=utc(2026, 1, 21, 13))
                ]
            }
        )

        assert covered.on_call(utc(2026, 1, 21, 12, 30)) == "dave"


class TestShifts:
    def test_shifts_are_cut_at_the_window_and_skip_nobody(self) -> None:
        daily = schedule(
            {"members": ["alice", "bob"], "length": "1d", "handoff": "2026-01-05T09:00"}
        )

        # Nobody before Mon 09:00; alice until Tue 09:00; bob until the window ends.
        assert daily.shifts(utc(2026, 1, 5), utc(2026, 1, 6, 12)) == [
            Shift(user="alice", start=utc(2026, 1, 5, 9), end=utc(2026, 1, 6, 9)),
            Shift(user="bob", start=utc(2026, 1, 6, 9), end=utc(2026, 1, 6, 12)),
        ]

    def test_override_splits_a_turn(self) -> None:
        covered = schedule(
            WEEKLY,
            overrides=[{"user": "dave", "start": "2026-01-06T12:00", "end": "2026-01-06T18:00"}],
        )

        assert covered.shifts(utc(2026, 1, 6), utc(2026, 1, 7)) == [
            Shift(user="alice", start=utc(2026, 1, 6), end=utc(2026, 1, 6, 12)),
            Shift(user="dave", start=utc(2026, 1, 6, 12), end=utc(2026, 1, 6, 18)),
            Shift(user="alice", start=utc(2026, 1, 6, 18), end=utc(2026, 1, 7)),
        ]

    def test_the_same_person_continuing_is_one_shift(self) -> None:
        # alice's own turn ends Tue 09:00, her override runs on to 12:00, and
        # bob's turn resumes; alice then has two turns in a row in the second list.
        covered = schedule(
            {"members": ["alice", "bob"], "length": "1d", "handoff": "2026-01-05T09:00"},
            overrides=[{"user": "alice", "start": "2026-01-06T09:00", "end": "2026-01-06T12:00"}],
        )
        doubled = schedule(
            {"members": ["alice", "alice", "bob"], "length": "1d", "handoff": "2026-01-05T09:00"}
        )

        assert covered.shifts(utc(2026, 1, 5, 9), utc(2026, 1, 7, 9)) == [
            Shift(user="alice", start=utc(2026, 1, 5, 9), end=utc(2026, 1, 6, 12)),
            Shift(user="bob", start=utc(2026, 1, 6, 12), end=utc(2026, 1, 7, 9)),
        ]
        assert doubled.shifts(utc(2026, 1, 5, 9), utc(2026, 1, 8, 12)) == [
            Shift(user="alice", start=utc(2026, 1, 5, 9), end=utc(2026, 1, 7, 9)),
            Shift(user="bob", start=utc(2026, 1, 7, 9), end=utc(2026, 1, 8, 9)),
            Shift(user="alice", start=utc(2026, 1, 8, 9), end=utc(2026, 1, 8, 12)),
        ]

    def test_shifts_follow_local_handoffs_across_daylight_saving(self) -> None:
        oslo = schedule({**WEEKLY, "handoff": "2026-03-16T09:00"}, timezone="Europe/Oslo")

        # Mon 23 Mar 09:00 CET = 08:00 UTC; Mon 30 Mar 09:00 CEST = 07:00 UTC.
        assert oslo.shifts(utc(2026, 3, 23), utc(2026, 3, 31)) == [
            Shift(user="alice", start=utc(2026, 3, 23), end=utc(2026, 3, 23, 8)),
            Shift(user="bob", start=utc(2026, 3, 23, 8), end=utc(2026, 3, 30, 7)),
            Shift(user="carol", start=utc(2026, 3, 30, 7), end=utc(2026, 3, 31)),
        ]

    def test_empty_window_has_no_shifts(self) -> None:
        assert schedule(WEEKLY).shifts(utc(2026, 2, 1), utc(2026, 2, 1)) == []


class TestRefusals:
    def test_naive_instants_are_refused(self) -> None:
        weekly = schedule(WEEKLY)

        with pytest.raises(ValueError, match="timezone-aware"):
            weekly.on_call(datetime(2026, 1, 6, 12))
        with pytest.raises(ValueError, match="timezone-aware"):
            weekly.shifts(datetime(2026, 1, 6), utc(2026, 1, 7))

    def test_unknown_zone_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="unknown time zone"):
            schedule(WEEKLY, timezone="Europe/Osloo")

    def test_a_schedule_needs_a_rotation(self) -> None:
        with pytest.raises(ValidationError, match="rotations"):
            schedule()

    def test_a_rotation_needs_members_and_a_length(self) -> None:
        with pytest.raises(ValidationError, match="members"):
            Rotation.model_validate({**WEEKLY, "members": []})
        with pytest.raises(ValidationError, match="must not be blank"):
            Rotation.model_validate({**WEEKLY, "members": ["alice", " "]})
        with pytest.raises(ValidationError, match="longer than zero"):
            Rotation.model_validate({**WEEKLY, "length": "0s"})

    def test_override_must_end_after_it_starts(self) -> None:
        with pytest.raises(ValidationError, match="must end after it starts"):
            Override.model_validate(
                {"user": "dave", "start": "2026-01-06T12:00", "end": "2026-01-06T12:00"}
            )

    def test_mixed_override_bounds_are_checked_in_the_schedule_zone(self) -> None:
        # 12:30 in Oslo is 11:30 UTC, before the 12:00 UTC start.
        with pytest.raises(ValidationError, match="must end after it starts"):
            schedule(
                WEEKLY,
                timezone="Europe/Oslo",
                overrides=[
                    {"user": "dave", "start": "2026-01-06T12:00Z", "end": "2026-01-06T12:30"}
                ],
            )
