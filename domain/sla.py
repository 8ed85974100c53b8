"""SLA clocks: time to acknowledge, resolve and review, counted on a calendar.

A clock counts open time on its calendar while it runs. Pausing banks the time
spent so far; re-targeting (a priority change) keeps it. Deadlines and warning
times are derived from the banked time and the running segment, never stored, so
a hold, a priority change or a reopen can never lose or double-count time.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

from domain.calendars import Calendar
from domain.durations import Duration
from domain.priority import Priority

ZERO = timedelta(0)


class ClockName(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    REVIEW = "review"


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    MET = "met"
    BREACHED = "breached"


class SlaTargets(BaseModel):
    """Targets of one priority; a missing target means that clock does not run."""

    acknowledge: Duration | None = None
    resolve: Duration | None = None
    review: Duration | None = None
    calendar: str = Field(default="24x7", description="A calendar of the process, or 24x7.")

    def target(self, clock: ClockName) -> timedelta | None:
        value: timedelta | None = getattr(self, clock.value)
        return value


Fraction = Annotated[float, Field(gt=0, lt=1)]


def _default_targets() -> dict[Priority, SlaTargets]:
    def t(ack: str, resolve: str, review: str) -> SlaTargets:
        return SlaTargets.model_validate({"acknowledge": ack, "resolve": resolve, "review": review})

    return {
        Priority.P1: t("5m", "4h", "5d"),
        Priority.P2: t("15m", "8h", "5d"),
        Priority.P3: t("1h", "3d", "10d"),
        Priority.P4: t("4h", "5d", "10d"),
        Priority.P5: t("1d", "10d", "20d"),
    }


class SlaPolicy(BaseModel):
    """Targets per priority and when to warn before a breach."""

    warn_at: list[Fraction] = Field(default_factory=lambda: [0.5, 0.75])
    targets: dict[Priority, SlaTargets] = Field(default_factory=_default_targets)

    @field_validator("warn_at")
    @classmethod
    def _sorted_unique(cls, fractions: list[float]) -> list[float]:
        return sorted(set(fractions))

    def targets_for(self, priority: Priority) -> SlaTargets:
        return self.targets.get(priority, SlaTargets())


class ClockAlarm(StrEnum):
    WARNING = "warning"
    BREACH = "breach"


class DueAlarm(BaseModel):
    """A warning or breach of one clock, and when it falls due."""

    clock: ClockName
    alarm: ClockAlarm
    fraction: float
    at: datetime


class SlaClock(BaseModel):
    """One clock of one incident."""

    name: ClockName
    target: Duration
    calendar: str
    epoch: int = Field(description="Sequence number of the event that started this clock.")
    started_at: datetime
    # Plain timedelta, not Duration: workflow time has milliseconds, and Duration's
    # JSON form ("20m") would drop them when the incident is carried across
    # continue-as-new.
    banked: timedelta = ZERO
    running_since: datetime | None = None
    warned: list[float] = []
    breached_at: datetime | None = None
    met_at: datetime | None = None

    @property
    def state(self) -> ClockState:
        if self.breached_at is not None:
            return ClockState.BREACHED
        if self.met_at is not None:
            return ClockState.MET
        return ClockState.RUNNING if self.running_since else ClockState.PAUSED

    def elapsed(self, now: datetime, calendar: Calendar) -> timedelta:
        if self.running_since is None:
            return self.banked
        return self.banked + calendar.open_time_between(self.running_since, now)

    def deadline(self, calendar: Calendar) -> datetime | None:
        """When the target is reached if the clock keeps running; None while stopped."""
        return self._when(self.target, calendar)

    def due(self, calendar: Calendar, warn_at: Sequence[float]) -> list[DueAlarm]:
        """Alarms still to fire, each with the instant it falls due."""
        if self.running_since is None:
            return []
        alarms = [
            DueAlarm(clock=self.name, alarm=ClockAlarm.WARNING, fraction=f, at=at)
            for f in warn_at
            if f not in self.warned and (at := self._when(self.target * f, calendar))
        ]
        if self.breached_at is None and (at := self._when(self.target, calendar)):
            alarms.append(DueAlarm(clock=self.name, alarm=ClockAlarm.BREACH, fraction=1.0, at=at))
        return alarms

    def pause(self, now: datetime, calendar: Calendar) -> None:
        self.banked = self.elapsed(now, calendar)
        self.running_since = None

    def resume(self, now: datetime) -> None:
        if self.met_at is None and self.running_since is None:
            self.running_since = now

    def meet(self, now: datetime, calendar: Calendar) -> None:
        self.pause(now, calendar)
        self.met_at = now

    def restart(self, now: datetime) -> None:
        """Run again after being met (a reopened incident), keeping the time spent."""
        self.met_at = None
        self.running_since = now

    def retarget(self, target: timedelta, calendar: str, now: datetime, old: Calendar) -> None:
        """A new target and calendar from now on; the time spent so far is kept."""
        running = self.running_since is not None
        self.banked = self.elapsed(now, old)
        self.running_since = now if running else None
        self.target, self.calendar = target, calendar

    def record(self, alarm: DueAlarm) -> None:
        if alarm.alarm is ClockAlarm.BREACH:
            self.breached_at = alarm.at
        else:
            self.warned = sorted({*self.warned, alarm.fraction})

    def _when(self, amount: timedelta, calendar: Calendar) -> datetime | None:
        if self.running_since is None:
            return None
        return calendar.add_open_time(self.running_since, max(amount - self.banked, ZERO))
