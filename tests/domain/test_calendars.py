"""SLA calendars: how much open time lies between two instants, and when it runs out."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from domain.calendars import ALWAYS, BusinessHours, Calendar, Weekday

H = timedelta(hours=1)
M = timedelta(minutes=1)
OSLO = ZoneInfo("Europe/Oslo")
EVERY_DAY = list(Weekday)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def office(timezone: str = "UTC", holidays: tuple[str, ...] = (), **hours: object) -> Calendar:
    return Calendar.model_validate(
        {"timezone": timezone, "business_hours": hours, "holidays": holidays}
    )


def all_day(timezone: str, weekdays: list[Weekday] = EVERY_DAY) -> Calendar:
    return office(timezone, weekdays=weekdays, opens="00:00", closes="23:59")


OFFICE = office()  # Mon-Fri 09:00-17:00 UTC


class TestAlwaysOpen:
    def test_open_time_is_elapsed_time(self) -> None:
        assert ALWAYS.open_time_between(utc(2026, 1, 3, 10), utc(2026, 1, 5, 12, 30)) == 50.5 * H

    def test_adding_is_plain_arithmetic(self) -> None:
        assert ALWAYS.add_open_time(utc(2026, 1, 3, 22), 5 * H) == utc(2026, 1, 4, 3)

    def test_always_open(self) -> None:
        assert ALWAYS.is_open(utc(2026, 1, 4, 3))

    def test_results_are_in_utc(self) -> None:
        # 10:00+02:00 is 08:00 UTC.
        start = datetime(2026, 6, 1, 10, tzinfo=ZoneInfo("Europe/Oslo"))

        deadline = ALWAYS.add_open_time(start, H)

        assert deadline == utc(2026, 6, 1, 9)
        assert deadline.tzinfo is UTC

    def test_nothing_between_an_instant_and_an_earlier_one(self) -> None:
        assert ALWAYS.open_time_between(utc(2026, 1, 5), utc(2026, 1, 4)) == timedelta()

    def test_a_zone_without_hours_is_still_24x7(self) -> None:
        calendar = Calendar(timezone="Europe/Oslo")

        # Sunday 29 March 2026 loses an hour in Oslo; elapsed time does not.
        assert calendar.open_time_between(utc(2026, 3, 28, 12), utc(2026, 3, 29, 12)) == 24 * H


class TestWeekdayHours:
    def test_defaults_are_weekdays_nine_to_five(self) -> None:
        hours = BusinessHours()

        assert hours.weekdays == [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI]
        assert (hours.opens, hours.closes) == (time(9), time(17))

    def test_only_open_hours_count(self) -> None:
        # Mon 5 Jan 08:00 -> Tue 10:30: Mon 09:00-17:00 (8h) + Tue 09:00-10:30 (1.5h).
        assert OFFICE.open_time_between(utc(2026, 1, 5, 8), utc(2026, 1, 6, 10, 30)) == 9.5 * H

    def test_adding_before_opening_starts_at_opening(self) -> None:
        assert OFFICE.add_open_time(utc(2026, 1, 5, 7), 2 * H) == utc(2026, 1, 5, 11)

    def test_opening_time_is_open_closing_time_is_not(self) -> None:
        assert OFFICE.is_open(utc(2026, 1, 5, 9))
        assert OFFICE.is_open(utc(2026, 1, 5, 16, 59))
        assert not OFFICE.is_open(utc(2026, 1, 5, 17))
        assert not OFFICE.is_open(utc(2026, 1, 5, 8, 59))

    def test_hours_are_read_in_the_calendar_zone(self) -> None:
        # 09:00 in New York in January is 14:00 UTC (EST, UTC-5).
        new_york = office("America/New_York")

        assert not new_york.is_open(utc(2026, 1, 5, 13, 59))
        assert new_york.is_open(utc(2026, 1, 5, 14))
        assert new_york.add_open_time(utc(2026, 1, 5, 9), 8 * H) == utc(2026, 1, 5, 22)

    def test_times_are_accepted_as_strings(self) -> None:
        hours = BusinessHours.model_validate({"opens": "08:30", "closes": "16:15"})

        assert (hours.opens, hours.closes) == (time(8, 30), time(16, 15))


class TestFridayTickets:
    def test_opened_at_closing_time_with_8h_breaches_monday_at_closing(self) -> None:
        # Fri 9 Jan 17:00: nothing left on Friday, the weekend is closed, Monday has 8h.
        assert OFFICE.add_open_time(utc(2026, 1, 9, 17), 8 * H) == utc(2026, 1, 12, 17)

    def test_opened_an_hour_before_closing_with_2h_breaches_monday_10(self) -> None:
        # Fri 16:00-17:00 is one hour; the second is Mon 09:00-10:00.
        assert OFFICE.add_open_time(utc(2026, 1, 9, 16), 2 * H) == utc(2026, 1, 12, 10)

    def test_time_running_out_at_closing_lands_on_closing_time(self) -> None:
        assert OFFICE.add_open_time(utc(2026, 1, 9, 16), H) == utc(2026, 1, 9, 17)

    def test_adding_zero_returns_the_start_even_when_closed(self) -> None:
        assert OFFICE.add_open_time(utc(2026, 1, 10, 12), timedelta()) == utc(2026, 1, 10, 12)


class TestWeekends:
    def test_weekend_counts_nothing(self) -> None:
        # Fri 12:00-17:00 (5h) + Mon 09:00-12:00 (3h).
        assert OFFICE.open_time_between(utc(2026, 1, 9, 12), utc(2026, 1, 12, 12)) == 8 * H

    def test_closed_on_saturday(self) -> None:
        assert not OFFICE.is_open(utc(2026, 1, 10, 12))

    def test_time_added_on_sunday_starts_monday(self) -> None:
        assert OFFICE.add_open_time(utc(2026, 1, 11, 12), 30 * M) == utc(2026, 1, 12, 9, 30)

    def test_a_weekend_only_calendar(self) -> None:
        weekend = office(weekdays=["sat", "sun"], opens="10:00", closes="14:00")

        # Fri 9 Jan -> Sat 10:00-14:00 (4h) + Sun 10:00-11:00.
        assert weekend.add_open_time(utc(2026, 1, 9, 12), 5 * H) == utc(2026, 1, 11, 11)
        assert not weekend.is_open(utc(2026, 1, 12, 12))


class TestHolidays:
    def test_holiday_on_monday_after_a_weekend(self) -> None:
        calendar = office(holidays=("2026-01-05",))

        # Fri 2 Jan 16:00-17:00, weekend, Mon 5 Jan holiday, Tue 09:00-10:00.
        assert calendar.add_open_time(utc(2026, 1, 2, 16), 2 * H) == utc(2026, 1, 6, 10)
        assert calendar.open_time_between(utc(2026, 1, 2, 9), utc(2026, 1, 7, 9)) == 16 * H
        assert not calendar.is_open(utc(2026, 1, 5, 12))

    def test_holidays_parse_from_iso_dates(self) -> None:
        calendar = office(holidays=("2026-12-24", "2026-12-25"))

        # Wed 23 Dec 17:00: Thu 24 and Fri 25 are holidays, so Mon 28 09:00-12:00.
        assert calendar.add_open_time(utc(2026, 12, 23, 17), 3 * H) == utc(2026, 12, 28, 12)

    def test_holidays_are_local_days(self) -> None:
        calendar = office(
            "Asia/Tokyo", ("2026-01-01",), weekdays=EVERY_DAY, opens="00:00", closes="23:59"
        )

        # 31 Dec 16:00 UTC is already 1 Jan 01:00 in Tokyo (UTC+9).
        assert calendar.is_open(utc(2025, 12, 31, 14, 58))
        assert not calendar.is_open(utc(2025, 12, 31, 16))
        # Open again from 1 Jan 15:00 UTC (2 Jan 00:00 JST).
        assert calendar.add_open_time(utc(2025, 12, 31, 16), H) == utc(2026, 1, 1, 16)


class TestOsloDaylightSaving:
    def test_spring_forward_weekend_keeps_local_hours(self) -> None:
        calendar = office("Europe/Oslo")
        # Fri 27 Mar 16:00 CET is 15:00 UTC; clocks go forward on Sunday 29 Mar at 02:00;
        # Mon 30 Mar 10:00 CEST is 08:00 UTC.
        assert calendar.add_open_time(utc(2026, 3, 27, 15), 2 * H) == utc(2026, 3, 30, 8)
        # Fri 09:00 CET (08:00 UTC) -> Mon 17:00 CEST (15:00 UTC): two whole 8h days.
        assert calendar.open_time_between(utc(2026, 3, 27, 8), utc(2026, 3, 30, 15)) == 16 * H
        assert calendar.add_open_time(utc(2026, 3, 27, 8), 16 * H) == utc(2026, 3, 30, 15)

    def test_fall_back_weekend_keeps_local_hours(self) -> None:
        calendar = office("Europe/Oslo")
        # Fri 23 Oct 16:00 CEST is 14:00 UTC; clocks go back on Sunday 25 Oct at 03:00;
        # Mon 26 Oct 10:00 CET is 09:00 UTC.
        assert calendar.add_open_time(utc(2026, 10, 23, 14), 2 * H) == utc(2026, 10, 26, 9)
        # Fri 09:00 CEST (07:00 UTC) -> Mon 17:00 CET (16:00 UTC).
        assert calendar.open_time_between(utc(2026, 10, 23, 7), utc(2026, 10, 26, 16)) == 16 * H

    def test_open_time_on_the_change_days_is_real_elapsed_time(self) -> None:
        sundays = all_day("Europe/Oslo", [Weekday.SUN])

        # 29 Mar 00:00 CET (28 Mar 23:00 UTC) -> 23:59 CEST (21:59 UTC): 22h59m.
        spring = sundays.open_time_between(utc(2026, 3, 28), utc(2026, 3, 30))
        # 25 Oct 00:00 CEST (24 Oct 22:00 UTC) -> 23:59 CET (22:59 UTC): 24h59m.
        autumn = sundays.open_time_between(utc(2026, 10, 24), utc(2026, 10, 26))

        assert (spring, autumn) == (22 * H + 59 * M, 24 * H + 59 * M)


class TestNonexistentOpeningTime:
    """Opening at 02:30 in Oslo: on 29 March 2026 02:00-03:00 does not exist."""

    calendar = office("Europe/Oslo", weekdays=EVERY_DAY, opens="02:30", closes="10:00")

    def test_opening_moves_forward_by_the_gap(self) -> None:
        # 02:30 "CET" is 01:30 UTC, which is 03:30 CEST on the wall.
        assert not self.calendar.is_open(utc(2026, 3, 29, 1, 15))
        assert self.calendar.is_open(utc(2026, 3, 29, 1, 30))

    def test_that_day_is_an_hour_shorter(self) -> None:
        # 01:30 UTC -> 10:00 CEST (08:00 UTC) is 6h30m, against 7h30m on Saturday.
        day = self.calendar.open_time_between(utc(2026, 3, 29), utc(2026, 3, 29, 12))
        saturday = self.calendar.open_time_between(utc(2026, 3, 28), utc(2026, 3, 28, 12))

        assert (day, saturday) == (6.5 * H, 7.5 * H)

    def test_deadline_past_saturday_closing(self) -> None:
        # Saturday closes at 10:00 CET (09:00 UTC); 30 min more runs from 01:30 UTC Sunday.
        assert self.calendar.add_open_time(utc(2026, 3, 28, 9), 30 * M) == utc(2026, 3, 29, 2)

    def test_hours_inside_the_gap_move_forward_together(self) -> None:
        calendar = office("Europe/Oslo", weekdays=EVERY_DAY, opens="02:15", closes="02:45")

        # 02:15 and 02:45 both move forward by an hour, keeping 30 real minutes.
        assert calendar.open_time_between(utc(2026, 3, 29), utc(2026, 3, 30)) == 30 * M
        assert calendar.is_open(utc(2026, 3, 29, 1, 15))

    def test_opening_shifted_past_closing_leaves_the_day_closed(self) -> None:
        calendar = office("Europe/Oslo", weekdays=EVERY_DAY, opens="02:30", closes="03:15")

        # 02:30 moves to 03:30 CEST, after closing at 03:15 CEST: nothing that day.
        assert calendar.open_time_between(utc(2026, 3, 29), utc(2026, 3, 30)) == timedelta()
        assert calendar.open_time_between(utc(2026, 3, 28), utc(2026, 3, 29)) == 45 * M


class TestUsDaylightSavingInsideOpenHours:
    """Open every day 00:00-23:59 in New York, so the 02:00 change falls inside open hours."""

    calendar = all_day("America/New_York")

    def test_spring_forward_day_has_22h59m(self) -> None:
        # Sun 8 Mar 2026 00:00 EST is 05:00 UTC; 23:59 EDT is 9 Mar 03:59 UTC, and the
        # next day opens at 00:00 EDT = 04:00 UTC.
        assert self.calendar.open_time_between(utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)) == (
            22 * H + 59 * M
        )

    def test_fall_back_day_has_24h59m(self) -> None:
        # Sun 1 Nov 2026 00:00 EDT is 04:00 UTC; 23:59 EST is 2 Nov 04:59 UTC, and the
        # next day opens at 00:00 EST = 05:00 UTC.
        assert self.calendar.open_time_between(utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)) == (
            24 * H + 59 * M
        )

    def test_deadline_counts_real_hours_not_wall_hours(self) -> None:
        # From 8 Mar 05:00 UTC (00:00 EST), 22 real hours end at 03:00 UTC = 23:00 EDT.
        assert self.calendar.add_open_time(utc(2026, 3, 8, 5), 22 * H) == utc(2026, 3, 9, 3)
        # From 1 Nov 04:00 UTC (00:00 EDT), 24 real hours end at 04:00 UTC = 23:00 EST.
        assert self.calendar.add_open_time(utc(2026, 11, 1, 4), 24 * H) == utc(2026, 11, 2, 4)

    def test_the_minute_before_midnight_is_closed(self) -> None:
        # 23:59 EST on 1 Nov is 04:59 UTC on 2 Nov; 00:00 EST on 2 Nov is 05:00 UTC.
        assert not self.calendar.is_open(utc(2026, 11, 2, 4, 59))
        assert self.calendar.is_open(utc(2026, 11, 2, 5))


class TestAddingIsTheInverseOfCounting:
    CALENDARS = (
        ALWAYS,
        OFFICE,
        office("Europe/Oslo"),
        office("Europe/Oslo", weekdays=EVERY_DAY, opens="02:30", closes="10:00"),
        all_day("America/New_York", [Weekday.SAT, Weekday.SUN]),
        office("Asia/Kolkata", weekdays=["mon", "wed", "sat"], opens="07:45", closes="12:10"),
        office("Europe/Oslo", ("2026-03-30",)),
    )
    AMOUNTS = (M, 3 * H, 8 * H, 8 * H + M, 40 * H, 100 * H + 7 * M)

    def starts(self) -> list[datetime]:
        # Every 7h13m across both daylight-saving changes, so starts fall open and closed.
        return [
            first + n * (7 * H + 13 * M)
            for first in (utc(2026, 3, 20), utc(2026, 10, 18), utc(2026, 10, 28))
            for n in range(40)
        ]

    def test_counting_up_to_the_deadline_gives_the_amount_back(self) -> None:
        for calendar in self.CALENDARS:
            for start in self.starts():
                for amount in self.AMOUNTS:
                    deadline = calendar.add_open_time(start, amount)

                    assert calendar.open_time_between(start, deadline) == amount
                    # The earliest such instant: a second earlier is short of it.
                    assert calendar.open_time_between(start, deadline - timedelta(seconds=1)) < (
                        amount
                    )

    def test_adding_what_was_counted_lands_no_later_than_the_end(self) -> None:
        for calendar in self.CALENDARS:
            for start in self.starts():
                end = start + 61 * H
                counted = calendar.open_time_between(start, end)
                deadline = calendar.add_open_time(start, counted)

                assert deadline <= end
                assert calendar.open_time_between(deadline, end) == timedelta()


class TestLargeAmounts:
    def test_a_year_of_business_time(self) -> None:
        # 52 weeks of 40h from Mon 5 Jan 2026 09:00 run out at closing on the Friday
        # before Mon 4 Jan 2027: Fri 1 Jan 2027 17:00.
        deadline = OFFICE.add_open_time(utc(2026, 1, 5, 9), 52 * 40 * H)

        assert deadline == utc(2027, 1, 1, 17)
        assert OFFICE.open_time_between(utc(2026, 1, 5, 9), deadline) == 52 * 40 * H

    def test_thirty_business_days_in_oslo(self) -> None:
        # 30 days of 8h from Mon 2 Mar 09:00 CET: six weeks, ending at closing on
        # Fri 10 Apr 17:00 CEST = 15:00 UTC, across the spring change.
        assert office("Europe/Oslo").add_open_time(utc(2026, 3, 2, 8), 30 * 8 * H) == utc(
            2026, 4, 10, 15
        )


class TestRefusals:
    def test_naive_datetimes_are_refused(self) -> None:
        naive = datetime(2026, 1, 5, 9)

        for calendar in (ALWAYS, OFFICE):
            with pytest.raises(ValueError, match="timezone-aware"):
                calendar.is_open(naive)
            with pytest.raises(ValueError, match="timezone-aware"):
                calendar.add_open_time(naive, H)
            with pytest.raises(ValueError, match="timezone-aware"):
                calendar.open_time_between(utc(2026, 1, 5), naive)

    def test_unknown_zone_is_refused(self) -> None:
        for name in ("Europe/Osloo", "Mars/Olympus", "", "../etc/passwd", "Europe"):
            with pytest.raises(ValidationError, match="unknown time zone"):
                Calendar(timezone=name)

    def test_overnight_hours_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="overnight hours"):
            BusinessHours.model_validate({"opens": "22:00", "closes": "06:00"})

    def test_closing_at_opening_time_is_refused(self) -> None:
        with pytest.raises(ValidationError, match="must be after opens"):
            BusinessHours(opens=time(9), closes=time(9))

    def test_holidays_on_a_24x7_calendar_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="holidays need business hours"):
            Calendar.model_validate({"holidays": ["2026-12-25"]})

    def test_weekdays_must_be_listed_once_and_at_least_one(self) -> None:
        with pytest.raises(ValidationError, match="at least one weekday"):
            BusinessHours(weekdays=[])
        with pytest.raises(ValidationError, match="listed twice"):
            BusinessHours.model_validate({"weekdays": ["mon", "mon"]})

    def test_opening_hours_with_an_offset_are_refused(self) -> None:
        with pytest.raises(ValidationError, match="local wall time"):
            BusinessHours.model_validate({"opens": "09:00+02:00"})

    def test_negative_amounts_are_refused(self) -> None:
        with pytest.raises(ValueError, match="negative"):
            OFFICE.add_open_time(utc(2026, 1, 5), -H)
