"""Escalation policies: who is paged, in what order, until someone acknowledges.

A policy is frozen into the incident with its process definition. Its run is a
small state machine advanced by the workflow's timers: each firing notifies one
level and schedules the next; after the last level the policy repeats from a
chosen level a set number of times.
"""

from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from domain.durations import Duration


class StopWhen(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EscalationTarget(BaseModel):
    """Exactly one of: a user, an on-call schedule, a notification channel."""

    user: str | None = None
    schedule: str | None = None
    channel: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> "EscalationTarget":
        if sum(value is not None for value in (self.user, self.schedule, self.channel)) != 1:
            raise ValueError("a target names exactly one of: user, schedule, channel")
        return self

    def __str__(self) -> str:
        kind = "user" if self.user else "schedule" if self.schedule else "channel"
        return f"{kind}:{self.user or self.schedule or self.channel}"


class EscalationLevel(BaseModel):
    targets: list[EscalationTarget] = Field(min_length=1)
    delay: Duration = Field(
        default=timedelta(minutes=15),
        description="How long to wait after notifying this level before the next one.",
    )


class EscalationPolicy(BaseModel):
    levels: list[EscalationLevel] = Field(min_length=1)
    repeat: int = Field(default=0, ge=0, le=20, description="Rounds after the first one.")
    repeat_from_level: int = Field(default=1, ge=1)
    stop_when: StopWhen = StopWhen.ACKNOWLEDGED
    start_after: Duration = Field(
        default=timedelta(0),
        description="Wait before the first level; with stop_when resolved this gives "
        "'escalate if not resolved within ...'.",
    )

    @model_validator(mode="after")
    def _repeat_level_exists(self) -> "EscalationPolicy":
        if self.repeat_from_level > len(self.levels):
            raise ValueError(
                f"repeat_from_level is {self.repeat_from_level} but the policy has "
                f"{len(self.levels)} level(s)"
            )
        return self


class LevelPage(BaseModel):
    """One level notified: which round, which level, whom."""

    policy: str
    epoch: int
    round: int
    level: int
    targets: list[EscalationTarget]
    manual: bool = False


class EscalationRun(BaseModel):
    """How far one policy has got for one incident.

    `stopped` means its stop condition was met (or the incident is closing);
    `exhausted` means every level of every round has been notified. A stopped run
    can still be escalated by hand; an exhausted one has no level left.
    """

    policy: str
    epoch: int = Field(description="Sequence number of the event that started this run.")
    stop_when: StopWhen
    round: int = 1
    next_level: int = 1
    next_at: datetime | None = None
    # Plain timedelta, not Duration: a hold's milliseconds must survive continue-as-new.
    paused_for: timedelta | None = None
    stopped: bool = False
    exhausted: bool = False

    @classmethod
    def start(
        cls, name: str, policy: EscalationPolicy, epoch: int, now: datetime
    ) -> "EscalationRun":
        return cls(
            policy=name, epoch=epoch, stop_when=policy.stop_when, next_at=now + policy.start_after
        )

    def fire(self, policy: EscalationPolicy, now: datetime, manual: bool = False) -> LevelPage:
        """Notify the next level now and plan the one after it."""
        level = policy.levels[self.next_level - 1]
        page = LevelPage(
            policy=self.policy,
            epoch=self.epoch,
            round=self.round,
            level=self.next_level,
            targets=level.targets,
            manual=manual,
        )
        self._advance(policy)
        if self.exhausted or self.stopped:
            self.next_at = None
        elif self.paused_for is not None:
            self.paused_for = level.delay
        else:
            self.next_at = now + level.delay
        return page

    def _advance(self, policy: EscalationPolicy) -> None:
        if self.next_level < len(policy.levels):
            self.next_level += 1
        elif self.round <= policy.repeat:
            self.round += 1
            self.next_level = policy.repeat_from_level
        else:
            self.exhausted = True

    def stop(self) -> None:
        self.stopped = True
        self.next_at = None
        self.paused_for = None

    def pause(self, now: datetime) -> None:
        if self.next_at is not None:
            self.paused_for = max(self.next_at - now, timedelta(0))
            self.next_at = None

    def resume(self, now: datetime) -> None:
        if self.paused_for is not None:
            self.next_at = now + self.paused_for
            self.paused_for = None
