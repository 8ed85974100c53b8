"""What an alert group needs from outside the workflow to open an incident."""

from pydantic import BaseModel
from temporalio import activity

from domain.process import ProcessDefinition
from store.db import Database
from store.incidents import IncidentRepository


class PreparedIncident(BaseModel):
    """A new incident number, and the process in force on this worker right now."""

    incident_id: int
    process: ProcessDefinition


class IncidentActivities:
    def __init__(self, database: Database, process: ProcessDefinition) -> None:
        self._database = database
        self._process = process

    @activity.defn(name="prepare_incident")
    async def prepare_incident(self) -> PreparedIncident:
        # A retry after a crash may burn a number; numbers only need to be unique.
        async with self._database.session() as session:
            incident_id = await IncidentRepository(session).allocate_id()
            await session.commit()
        return PreparedIncident(incident_id=incident_id, process=self._process)
