"""Writes each incident's transitions into the relational read model, and reads the
subscriptions an incident's news goes to."""

from temporalio import activity

from store.db import Database
from store.projection import Followers, ProjectionInput, ProjectionWriter


class ReadModelActivities:
    """Activities bound to one database; safe to retry and to replay."""

    def __init__(self, database: Database) -> None:
        self._writer = ProjectionWriter(database)

    @activity.defn(name="project_incident")
    async def project_incident(self, projection: ProjectionInput) -> None:
        # Idempotent by event id, and an older snapshot never overwrites a newer
        # one, so a retried attempt, a replay or a concurrent late write is harmless.
        await self._writer.write(projection)

    @activity.defn(name="project_incident_and_find_followers")
    async def project_and_find_followers(self, projection: ProjectionInput) -> Followers:
        """`project_incident`, answering also who follows the incident for each piece
        of news in `followers_of`: the workflow records the answer, so a replay sends
        to exactly the same people."""
        return await self._writer.write(projection)
