"""Writes each incident's transitions into the relational read model."""

from collections.abc import Sequence

from pydantic import BaseModel
from temporalio import activity

from domain.incident import Incident
from domain.timeline import TimelineEvent
from store.db import Database
from store.incidents import IncidentRepository


class ProjectionInput(BaseModel):
    """The incident as it is now, and the events the read model may not have yet."""

    incident: Incident
    events: Sequence[TimelineEvent]


class ReadModelActivities:
    """Activities bound to one database; safe to retry and to replay."""

    def __init__(self, database: Database) -> None:
        self._database = database

    @activity.defn(name="project_incident")
    async def project_incident(self, projection: ProjectionInput) -> None:
        # Idempotent by event id, and an older snapshot never overwrites a newer
        # one, so a retried attempt, a replay or a concurrent late write is harmless.
        async with self._database.session() as session:
            await IncidentRepository(session).project(projection.incident, projection.events)
            await session.commit()
