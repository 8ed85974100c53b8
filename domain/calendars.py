"""SLA calendars: which hours count towards a target, read in a named time zone.

A 24x7 calendar counts every second. A business-hours calendar counts only its
opening hours, read as local wall time in its zone, so "09:00-17:00
Europe/Oslo" stays 09:00-17:00 on both sides of a daylight-saving change, and
an hour the clocks skip or repeat inside opening hours counts as the real hour
it is (or is not).
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, Field, field_validator, model_validator

ZERO = timedelta()
ONE_DAY = timedelta(days=1)


def zone_named(name: str) -> ZoneInfo:
    """The IANA time zone `name`; a ValueError a person can act on when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as 'Europe/Oslo', "
            "'America/New_York' or 'UTC'"
        ) from error


def _known_zone(name: str) -> str:
    zone_named(name)
    return name


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]
"""An IANA time zone name, checked against the tz database when validated."""


def to_utc(value: datetime, what: str = "datetime") -> datetime:
    """`value` in UTC; refuses a naive datetime, whose instant nobody can know."""
    if value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def local_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The instant naive local `wall` time names in `zone`, in UTC.

    An ambiguous time (clocks going back) is its first occurrence (`fold=0`). A
    time that does not exist (clocks going forward) moves forward by the gap:
    02:30 on the spring-forward night in Oslo is 03:30 CEST.
    """
    # zoneinfo reads a nonexistent fold=0 time with the offset from before the
    # gap, which lands exactly "gap length" later on the new wall clock.
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


WEEKDAYS = list(Weekday)
"""In `date.weekday()` order: WEEKDAYS[day.weekday()] is that day's Weekday."""


class BusinessHours(BaseModel):
    """The same opening hours, in local wall time, on each listed weekday."""

    weekdays: list[Weekday] = Field(default_factory=lambda: WEEKDAYS[:5])
    opens: time = time(9)
    closes: time = time(17)

    @field_validator("weekdays")
    @classmethod
    def _distinct_weekdays(cls, weekdays: list[Weekday]) -> list[Weekday]:
        if not weekdays:
            raise ValueError("business hours need at least one weekday")
        if len(set(weekdays)) != len(weekdays):
            raise ValueError(f"a weekday is listed twice: {', '.join(weekdays)}")
        return weekdays

    @field_validator("opens", "closes")
    @classmethod
    def _wall_time(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError(
                "opening hours are local wall time in the calendar's time zone; "
                "write them without an offset, for example 09:00"
            )
        return value

    @model_validator(mode="after")
    def _closes_after_opens(self) -> "BusinessHours":
        if self.closes <= self.opens:
            raise ValueError(
                f"closes ({self.closes.isoformat('minutes')}) must be after opens "
                f"({self.opens.isoformat('minutes')}) on the same day; "
                "overnight hours such as 22:00-06:00 are not supported"
            )
        return self

    def open_on(self, day: date) -> bool:
        return WEEKDAYS[day.weekday()] in self.weekdays


class Calendar(BaseModel):
    """24x7 when `business_hours` is None; else only open hours count.

    Datetimes passed in must be timezone-aware; datetimes returned are in UTC.
    """

    timezone: TimeZoneName = "UTC"
    business_hours: BusinessHours | None = None
    holidays: list[date] = Field(
        default_factory=list, description="Whole local days closed; needs business hours."
    )

    @model_validator(mode="after")
    def _holidays_need_business_hours(self) -> "Calendar":
        if self.holidays and self.business_hours is None:
            raise ValueError(
                "holidays need business hours: a 24x7 calendar is never closed; "
                "add business_hours (for example every weekday 00:00-23:59) or drop the holidays"
            )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return zone_named(self.timezone)

    def is_open(self, at: datetime) -> bool:
        at = to_utc(at, "at")
        if self.business_hours is None:
            return True
        opens, _ = next(self._open_intervals(self.business_hours, at))
        return opens == at

    def open_time_between(self, start: datetime, end: datetime) -> timedelta:
        """Open time in [start, end); zero when `end` is not after `start`."""
        start, end = to_utc(start, "start"), to_utc(end, "end")
        if end <= start:
            return ZERO
        if self.business_hours is None:
            return end - start
        total = ZERO
        intervals = self._open_intervals(self.business_hours, start)
        while True:
            opens, closes = next(intervals)
            if opens >= end:
                return total
            total += min(closes, end) - opens

    def add_open_time(self, start: datetime, amount: timedelta) -> datetime:
        """The earliest instant t >= start with `open_time_between(start, t) == amount`.

        Adding zero returns `start` itself, open or not. A positive amount that
        runs out exactly at closing time lands on closing time, not on the next
        opening.
        """
        start = to_utc(start, "start")
        if amount < ZERO:
            raise ValueError(f"cannot add a negative amount of open time ({amount})")
        if self.business_hours is None or amount == ZERO:
            return start + amount
        remaining = amount
        intervals = self._open_intervals(self.business_hours, start)
        while True:
            opens, closes = next(intervals)
            if closes - opens >= remaining:
                return opens + remaining
            remaining -= closes - opens

    def _open_intervals(
        self, hours: BusinessHours, after: datetime
    ) -> Iterator[tuple[datetime, datetime]]:
        """Open [opens, closes) intervals in UTC, in order, none starting before `after`.

        Walks local days, two zone conversions each, so a year of business time
        is a few hundred steps. Whole weeks are not skipped: a week's open time
        depends on the UTC offset at each day's opening and closing, and tzdata
        has one-week daylight-saving periods (Brazil, October 2000), so checking
        that a week is ordinary costs as much as walking it.
        """
        zone, holidays = self.zone, set(self.holidays)
        # A day's hours can end past local midnight when closing time falls in
        # a forward gap, so the day before `after` may still be open.
        day = after.astimezone(zone).date() - ONE_DAY
        floor = after
        while True:
            if hours.open_on(day) and day not in holidays:
                opens = local_to_utc(datetime.combine(day, hours.opens), zone)
                closes = local_to_utc(datetime.combine(day, hours.closes), zone)
                opens = max(opens, floor)
                # An opening time shifted forward by a gap can pass closing time:
                # that day is simply closed.
                if closes > opens:
                    yield opens, closes
                    floor = closes
            day += ONE_DAY


ALWAYS = Calendar()
"""24x7 in UTC: every second counts."""
