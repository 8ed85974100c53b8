"""On-call schedules: rotation layers, with overrides on top.

Layers follow PagerDuty: a later layer wins whenever it has someone on call,
and an override wins over every layer. Turns that last whole days hand off at
the same local wall time every time, across daylight-saving changes; other
lengths are plain elapsed time.
"""

from datetime import UTC, datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_validator, model_validator

from domain.calendars import ONE_DAY, ZERO, TimeZoneName, local_to_utc, to_utc, zone_named
from domain.durations import Duration


def _instant(value: datetime, zone: ZoneInfo) -> datetime:
    """An aware `value` in UTC; a naive one read as local wall time in `zone`."""
    return local_to_utc(value, zone) if value.utcoffset() is None else value.astimezone(UTC)


def _wall(value: datetime, zone: ZoneInfo) -> datetime:
    """Naive local wall time in `zone`; a naive `value` already is."""
    if value.utcoffset() is None:
        return value.replace(tzinfo=None)
    return value.astimezone(zone).replace(tzinfo=None)


class Rotation(BaseModel):
    """Members take turns of `length` in list order, the first starting at `handoff`."""

    members: list[str] = Field(min_length=1)
    length: Duration
    handoff: datetime = Field(
        description="When the first turn starts; naive means local time in the schedule's zone."
    )

    @field_validator("members")
    @classmethod
    def _named_members(cls, members: list[str]) -> list[str]:
        if any(not member.strip() for member in members):
            raise ValueError("a rotation member's name must not be blank")
        return members

    @field_validator("length")
    @classmethod
    def _positive_length(cls, length: Duration) -> Duration:
        if length <= ZERO:
            raise ValueError("a rotation's turns must last longer than zero")
        return length

    @property
    def keeps_wall_time(self) -> bool:
        """Whole-day turns hand off at the same local wall time every time."""
        return self.length % ONE_DAY == ZERO

    def turn_start(self, turn: int, zone: ZoneInfo) -> datetime:
        """When turn number `turn` (0 = the first) starts, in UTC."""
        if self.keeps_wall_time:
            return local_to_utc(_wall(self.handoff, zone) + turn * self.length, zone)
        return _instant(self.handoff, zone) + turn * self.length

    def turn_at(self, at: datetime, zone: ZoneInfo) -> int:
        """The turn holding the aware instant `at`; negative before the first handoff."""
        if not self.keeps_wall_time:
            return (at - _instant(self.handoff, zone)) // self.length
        # Wall-clock arithmetic is off by at most a daylight-saving shift,
        # far less than a day, so at most a step either way corrects it.
        turn = (_wall(at, zone) - _wall(self.handoff, zone)) // self.length
        while self.turn_start(turn, zone) > at:
            turn -= 1
        while self.turn_start(turn + 1, zone) <= at:
            turn += 1
        return turn

    def on_call(self, at: datetime, zone: ZoneInfo) -> str | None:
        turn = self.turn_at(at, zone)
        return None if turn < 0 else self.members[turn % len(self.members)]

    def handoffs_between(self, start: datetime, end: datetime, zone: ZoneInfo) -> list[datetime]:
        """Instants strictly inside (start, end) where a turn starts."""
        turn = max(self.turn_at(start, zone) + 1, 0)
        handoffs = []
        while (moment := self.turn_start(turn, zone)) < end:
            handoffs.append(moment)
            turn += 1
        return handoffs


class Override(BaseModel):
    """`user` is on call from `start` to `end`, whatever the rotations say."""

    user: str = Field(min_length=1)
    start: datetime = Field(description="Naive means local time in the schedule's zone.")
    end: datetime = Field(description="Naive means local time in the schedule's zone.")

    @model_validator(mode="after")
    def _ends_after_start(self) -> "Override":
        # Mixed naive and aware bounds are compared by the schedule, which
        # knows the zone the naive one is in.
        comparable = (self.start.utcoffset() is None) == (self.end.utcoffset() is None)
        if comparable and self.end <= self.start:
            raise ValueError(f"the override for {self.user!r} must end after it starts")
        return self

    def covers(self, at: datetime, zone: ZoneInfo) -> bool:
        return _instant(self.start, zone) <= at < _instant(self.end, zone)


class Shift(BaseModel):
    """`user` is on call from `start` to `end` (UTC)."""

    user: str
    start: datetime
    end: datetime


class OnCallSchedule(BaseModel):
    """Who answers pages for a team, at any instant.

    Datetimes passed to its methods must be timezone-aware; those returned are UTC.
    """

    name: str = Field(min_length=1)
    timezone: TimeZoneName = "UTC"
    rotations: list[Rotation] = Field(
        min_length=1, description="Layers; a later layer wins when it has someone on call."
    )
    overrides: list[Override] = Field(
        default_factory=list, description="Win over every layer; a later one wins an overlap."
    )

    @model_validator(mode="after")
    def _overrides_end_after_start(self) -> "OnCallSchedule":
        zone = self.zone
        for override in self.overrides:
            if _instant(override.end, zone) <= _instant(override.start, zone):
                raise ValueError(
                    f"the override for {override.user!r} must end after it starts "
                    f"(read in {self.timezone})"
                )
        return self

    @property
    def zone(self) -> ZoneInfo:
        return zone_named(self.timezone)

    def on_call(self, at: datetime) -> str | None:
        """Who is on call at `at`; None when no override covers it and no layer has started."""
        at, zone = to_utc(at, "at"), self.zone
        for override in reversed(self.overrides):
            if override.covers(at, zone):
                return override.user
        for rotation in reversed(self.rotations):
            user = rotation.on_call(at, zone)
            if user is not None:
                return user
        return None

    def shifts(self, start: datetime, end: datetime) -> list[Shift]:
        """Who is on call when within [start, end), one shift per unbroken stretch.

        Shifts are cut at `start` and `end`; stretches with nobody on call are left out.
        """
        start, end = to_utc(start, "start"), to_utc(end, "end")
        if end <= start:
            return []
        shifts: list[Shift] = []
        bounds = sorted(self._changes_between(start, end) | {start, end})
        for left, right in pairwise(bounds):
            user = self.on_call(left)
            if user is None:
                continue
            if shifts and shifts[-1].user == user and shifts[-1].end == left:
                shifts[-1].end = right
            else:
                shifts.append(Shift(user=user, start=left, end=right))
        return shifts

    def _changes_between(self, start: datetime, end: datetime) -> set[datetime]:
        """Every instant inside (start, end) where who is on call may change."""
        zone = self.zone
        changes = {t for r in self.rotations for t in r.handoffs_between(start, end, zone)}
        for override in self.overrides:
            changes.update(
                t
                for t in (_instant(override.start, zone), _instant(override.end, zone))
                if start < t < end
            )
        return changes
