"""What an alert group needs from outside the workflow to open an incident."""

from pydantic import BaseModel
from temporalio import activity

from domain.process import ProcessDefinition
from store.db import Database
from store.incidents import allocate_incident_id
from store.processes import ProcessCatalog


class PreparedIncident(BaseModel):
    """A new incident number, and the version of the process in force right now."""

    incident_id: int
    process: ProcessDefinition


class IncidentActivities:
    def __init__(
        self, database: Database, process: ProcessDefinition, catalog: ProcessCatalog | None = None
    ) -> None:
        """Incidents take the current version of `process`'s process (the one published
        last), or `process` itself while none is published."""
        self._database = database
        self._process = process
        self._catalog = catalog or ProcessCatalog(database)

    @activity.defn(name="prepare_incident")
    async def prepare_incident(self) -> PreparedIncident:
        # A retry after a crash may burn a number; numbers only need to be unique.
        incident_id = await allocate_incident_id(self._database)
        current = await self._catalog.by_key(self._process.name)
        return PreparedIncident(incident_id=incident_id, process=current or self._process)
