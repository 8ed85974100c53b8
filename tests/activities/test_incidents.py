"""Preparing an incident an alert opens: a fresh number and the process version in force."""

from activities.incidents import IncidentActivities
from domain.process import ProcessDefinition
from store.db import Database
from store.processes import ProcessCatalog, ProcessVersionRepository, adopt_process_file

FILE = ProcessDefinition(name="ops")


class TestPrepareIncident:
    async def test_numbers_are_new_and_the_version_published_last_is_taken(
        self, database: Database
    ) -> None:
        now = [0.0]
        activities = IncidentActivities(
            database, FILE, ProcessCatalog(database, ttl=5, clock=lambda: now[0])
        )

        first = await activities.prepare_incident()
        assert first.process == FILE  # nothing published: the file's definition

        await adopt_process_file(database, FILE)
        async with database.session() as session:
            repository = ProcessVersionRepository(session)
            draft = await repository.create_draft(
                FILE.model_copy(update={"categories": ["database"]}), "olive"
            )
            await repository.publish("ops", draft.version, "olive")
            await session.commit()
        now[0] = 6  # what the catalog remembered has expired

        second = await activities.prepare_incident()
        assert second.incident_id > first.incident_id
        assert (second.process.version, second.process.categories) == (2, ["database"])
