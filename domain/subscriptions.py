"""Subscriptions: who follows which incidents, to hear their news without asking.

A subscriber is a person (reached on their contact methods from the process) or a
channel (a status page's webhook, a team's Slack, a stakeholders' mailing list). A
subscription follows a service, a range of priorities, or one incident; it hears of
a new incident, a priority change, every public status update (internal ones too if
it asked), a resolution, a reopening and the closure.
"""

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.escalation import EscalationTarget
from domain.priority import Priority

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
ServiceName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]

_ORDER = list(Priority)


class Subscriber(BaseModel):
    """Exactly one of: a person, a channel."""

    model_config = ConfigDict(extra="forbid")

    user: Name | None = None
    channel: Name | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.user is None) == (self.channel is None):
            raise ValueError("a subscriber is a user or a channel: name exactly one")
        return self

    def target(self) -> EscalationTarget:
        return EscalationTarget(user=self.user, channel=self.channel)

    def __str__(self) -> str:
        return f"user:{self.user}" if self.user else f"channel:{self.channel}"


class PriorityRange(BaseModel):
    """Priorities from `highest` down to `lowest`, both included: P1 to P2 is both."""

    model_config = ConfigDict(extra="forbid")

    highest: Priority = Priority.P1
    lowest: Priority

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if _ORDER.index(self.highest) > _ORDER.index(self.lowest):
            raise ValueError(
                f"highest ({self.highest}) must not be below lowest ({self.lowest}); "
                "P1 is the highest priority"
            )
        return self

    def bounds(self) -> tuple[int, int]:
        """1 for P1 up to 5 for P5: the stored form."""
        return _ORDER.index(self.highest) + 1, _ORDER.index(self.lowest) + 1

    @classmethod
    def from_bounds(cls, highest: int, lowest: int) -> "PriorityRange":
        """The range `bounds` gave."""
        return cls(highest=_ORDER[highest - 1], lowest=_ORDER[lowest - 1])

    def __contains__(self, priority: object) -> bool:
        low, high = self.bounds()
        return isinstance(priority, Priority) and low <= _ORDER.index(priority) + 1 <= high


class SubscriptionScope(BaseModel):
    """Exactly one of: a service, a priority range, one incident."""

    model_config = ConfigDict(extra="forbid")

    service: ServiceName | None = None
    priorities: PriorityRange | None = None
    incident_id: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        given = [self.service, self.priorities, self.incident_id]
        if sum(value is not None for value in given) != 1:
            raise ValueError(
                "a subscription follows exactly one of: service, priorities, incident_id"
            )
        return self

    def __str__(self) -> str:
        if self.service is not None:
            return f"service:{self.service}"
        if self.priorities is not None:
            return f"priorities:{self.priorities.highest}-{self.priorities.lowest}"
        return f"incident:{self.incident_id}"


class SubscriptionRequest(BaseModel):
    """What a person sends to subscribe; without a subscriber, they subscribe themselves."""

    model_config = ConfigDict(extra="forbid")

    subscriber: Subscriber | None = None
    scope: SubscriptionScope
    include_internal: bool = Field(
        default=False, description="Also hear status updates marked internal."
    )


class Subscription(BaseModel):
    id: int
    subscriber: Subscriber
    scope: SubscriptionScope
    include_internal: bool
    created_by: str
    created_at: datetime

    def follows(
        self, incident_id: int, service: str | None, priority: Priority, public: bool
    ) -> bool:
        """Whether this subscription hears news of that kind about that incident."""
        if not public and not self.include_internal:
            return False
        scope = self.scope
        if scope.incident_id is not None:
            return scope.incident_id == incident_id
        if scope.service is not None:
            return scope.service == service
        assert scope.priorities is not None  # exactly one scope
        return priority in scope.priorities


class SubscriberQuery(BaseModel):
    """Who follows this incident, for news that is public or not."""

    incident_id: int
    service: str | None
    priority: Priority
    public: bool
