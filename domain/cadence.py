"""Status update cadence: how often an open incident owes the people around it news.

The process sets an interval per priority (`status_updates.every`). From the
declaration, and again from every status update, the incident owes its next update
one interval later. When that moment passes without one, its commander is reminded;
when `status_updates.grace` passes after the reminder still without one, the next
level of its escalation policy is told, and the count starts again. Holding the
incident pauses the cadence (a resume starts a fresh interval); resolving it ends it.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from domain.durations import Duration
from domain.priority import Priority


class StatusUpdatePolicy(BaseModel):
    """How often open incidents need a status update, by priority."""

    every: dict[Priority, Duration] = Field(
        default_factory=dict,
        description="The longest an open incident of each priority may go without a "
        "status update; priorities left out need none.",
    )
    grace: Duration = Field(
        default=timedelta(minutes=15),
        description="After the commander is reminded, how long until the next escalation "
        "level is told that the update is still missing.",
    )


class CadenceAlarm(StrEnum):
    REMINDER = "reminder"
    OVERDUE = "overdue"


class DueUpdate(BaseModel):
    """A moment of the cadence that fell due: remind the commander, or tell the next level."""

    alarm: CadenceAlarm
    at: datetime
    round: int = Field(description="Counts the cycles without an update, for idempotency.")
    since: datetime = Field(description="When the incident last had news (or was declared).")


class UpdateCadence(BaseModel):
    """The cadence of one incident."""

    every: timedelta
    since: datetime = Field(description="The moment the current interval counts from.")
    last_update_at: datetime | None = None
    reminded_at: datetime | None = None
    paused: bool = False
    round: int = 0

    def next_at(self, grace: timedelta) -> datetime | None:
        if self.paused:
            return None
        if self.reminded_at is None:
            return self.since + self.every
        return self.reminded_at + grace

    def fire(self, grace: timedelta, now: datetime) -> list[DueUpdate]:
        """Everything due by `now`, in order; a cadence overdue for several intervals
        (a worker down for hours) reminds and escalates once for the latest cycle."""
        fired: list[DueUpdate] = []
        while (at := self.next_at(grace)) is not None and at <= now:
            news = self.last_update_at or self.since
            if self.reminded_at is None:
                self.round += 1
                self.reminded_at = at
                fired.append(
                    DueUpdate(alarm=CadenceAlarm.REMINDER, at=at, round=self.round, since=news)
                )
            else:
                self.reminded_at = None
                self.since = at
                fired.append(
                    DueUpdate(alarm=CadenceAlarm.OVERDUE, at=at, round=self.round, since=news)
                )
        # Only the last cycle speaks: the ones before it fell due while nobody could act.
        last_round = fired[-1].round if fired else 0
        return [due for due in fired if due.round == last_round]

    def updated(self, now: datetime) -> None:
        """A status update: the next one is owed one interval from now."""
        self.since = self.last_update_at = now
        self.reminded_at = None

    def pause(self) -> None:
        self.paused = True
        self.reminded_at = None

    def resume(self, now: datetime) -> None:
        self.paused = False
        self.since = now
        self.reminded_at = None
