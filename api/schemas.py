"""What the API answers with: incidents as a responder sees them."""

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.alert_groups import AlertSource, AlertStats
from domain.escalation import EscalationRun
from domain.incident import Incident, Resolution, Review
from domain.lifecycle import IncidentState, Step
from domain.priority import Priority
from domain.roles import Actor, Role
from domain.sla import ClockName, ClockState, SlaClock
from domain.timeline import EventKind, TimelineEvent
from store.passwords import MAX_LENGTH, MIN_LENGTH


class ProcessRef(BaseModel):
    name: str
    version: int


class ClockOut(BaseModel):
    """One SLA clock as it stands at the moment of the request."""

    name: ClockName
    state: ClockState
    target_seconds: float
    elapsed_seconds: float
    remaining_seconds: float = Field(description="Negative once breached.")
    deadline: datetime | None = Field(description="When it breaches if it keeps running.")
    calendar: str
    started_at: datetime
    met_at: datetime | None
    breached_at: datetime | None
    warnings_fired: list[float]

    @classmethod
    def of(cls, clock: SlaClock, incident: Incident, now: datetime) -> "ClockOut":
        calendar = incident.process.calendar(clock.calendar)
        elapsed = clock.elapsed(now, calendar)
        return cls(
            name=clock.name,
            state=clock.state,
            target_seconds=clock.target.total_seconds(),
            elapsed_seconds=elapsed.total_seconds(),
            remaining_seconds=(clock.target - elapsed) / timedelta(seconds=1),
            deadline=clock.deadline(calendar),
            calendar=clock.calendar,
            started_at=clock.started_at,
            met_at=clock.met_at,
            breached_at=clock.breached_at,
            warnings_fired=clock.warned,
        )


class StatusUpdateOut(BaseModel):
    """A status update: what the people around the incident were told, and when."""

    seq: int = Field(description="Its event's number on the incident's timeline.")
    at: datetime
    author: str
    message: str
    public: bool

    @classmethod
    def of(cls, event: TimelineEvent) -> "StatusUpdateOut":
        return cls(
            seq=event.seq,
            at=event.at,
            author=event.actor,
            message=event.details["message"],
            public=event.details["public"],
        )

    @classmethod
    def all_of(cls, incident: Incident) -> list["StatusUpdateOut"]:
        return [
            cls.of(event)
            for event in incident.timeline
            if event.kind is EventKind.STATUS_UPDATE_POSTED
        ]


class IncidentOut(BaseModel):
    """One incident: its state, roles, timeline, and the steps the caller may take now."""

    id: int
    title: str
    description: str
    state: IncidentState
    priority: Priority
    impact: int
    urgency: int
    category: str | None
    service: str | None
    commander: str | None
    responders: list[str]
    declared_by: str
    declared_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    hold_reason: str | None
    resolution: Resolution | None
    review: Review | None
    process: ProcessRef
    source: AlertSource | None = Field(description="The alert group that opened it, if any.")
    alerts: AlertStats | None = Field(description="Alert counts from its source, if any.")
    clocks: list[ClockOut]
    escalations: list[EscalationRun]
    pending_notifications: int = Field(description="Notifications still being delivered.")
    updates: list[StatusUpdateOut] = Field(description="Status updates, oldest first.")
    last_update_at: datetime | None = Field(description="When the last status update was posted.")
    next_update_due_at: datetime | None = Field(
        description="When the process's cadence next chases a status update: a reminder "
        "to the commander, or, after its grace, the next escalation level; none while on "
        "hold, once resolved, or if the priority needs no updates."
    )
    allowed_steps: list[Step] = Field(description="Steps the caller may take now.")
    timeline: list[TimelineEvent]

    @classmethod
    def of(cls, incident: Incident, viewer: Actor, now: datetime) -> "IncidentOut":
        updates = StatusUpdateOut.all_of(incident)
        cadence = incident.watch.cadence
        return cls(
            **incident.model_dump(exclude={"process", "timeline", "watch", "announcements"}),
            process=ProcessRef(name=incident.process.name, version=incident.process.version),
            clocks=[ClockOut.of(clock, incident, now) for clock in incident.watch.clocks],
            escalations=incident.watch.escalations,
            pending_notifications=len(incident.watch.outbox),
            updates=updates,
            last_update_at=updates[-1].at if updates else None,
            next_update_due_at=(
                cadence.next_at(incident.process.status_updates.grace) if cadence else None
            ),
            allowed_steps=incident.allowed_steps(viewer),
            timeline=incident.timeline,
        )


Password = Annotated[
    str,
    StringConstraints(min_length=MIN_LENGTH, max_length=MAX_LENGTH),
    Field(description=f"At least {MIN_LENGTH} characters; a passphrase is best."),
]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$"
        ),
    ] = Field(description="Login name: letters, digits and . _ @ -")
    roles: list[Role] = Field(min_length=1)
    password: Password | None = Field(
        default=None, description="For the web console; without one, the user signs in nowhere."
    )


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password


class UserOut(BaseModel):
    name: str
    roles: list[Role]
    created_at: datetime
    disabled: bool


class UserCreated(BaseModel):
    user: UserOut
    token: str = Field(description="The user's bearer token; shown this once only.")
