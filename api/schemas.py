"""What the API answers with: incidents as a responder sees them."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.incident import Incident, Resolution, Review
from domain.lifecycle import IncidentState, Step
from domain.priority import Priority
from domain.roles import Actor, Role
from domain.timeline import TimelineEvent


class ProcessRef(BaseModel):
    name: str
    version: int


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
    allowed_steps: list[Step] = Field(description="Steps the caller may take now.")
    timeline: list[TimelineEvent]

    @classmethod
    def of(cls, incident: Incident, viewer: Actor) -> "IncidentOut":
        return cls(
            **incident.model_dump(exclude={"process", "timeline"}),
            process=ProcessRef(name=incident.process.name, version=incident.process.version),
            allowed_steps=incident.allowed_steps(viewer),
            timeline=incident.timeline,
        )


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$"
        ),
    ] = Field(description="Login name: letters, digits and . _ @ -")
    roles: list[Role] = Field(min_length=1)


class UserOut(BaseModel):
    name: str
    roles: list[Role]
    created_at: datetime
    disabled: bool


class UserCreated(BaseModel):
    user: UserOut
    token: str = Field(description="The user's bearer token; shown this once only.")
