"""Opening an incident an alert brings: a fresh number and the process version in force,
and its workflow started once however often the group's task runs."""

import uuid
from datetime import UTC, datetime

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from activities.incidents import NUMBER_TAKEN, OPENING_MEMO, IncidentActivities, IncidentOpening
from domain.process import ProcessDefinition
from domain.requests import DeclareRequest
from domain.roles import Actor
from store.db import Database
from store.processes import ProcessCatalog, ProcessVersionRepository, adopt_process_file
from workflows.contracts import CODE_REVISION, Declaration, IncidentInput, workflow_id

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


class TestOpeningIsIdempotent:
    """The alert group starts its incident from a local activity; a worker that dies
    before the group's task completes leaves the incident started and the group not
    knowing it. The task's retry must find that incident, not open a second."""

    async def test_an_opening_keeps_its_first_number(self, database: Database) -> None:
        activities = IncidentActivities(database, FILE)

        first = await activities.prepare_incident("opening-a")
        again = await activities.prepare_incident("opening-a")
        other = await activities.prepare_incident("opening-b")
        unnamed = [await activities.prepare_incident() for _ in range(2)]

        assert again.incident_id == first.incident_id
        assert other.incident_id > first.incident_id
        assert len({other.incident_id, *(p.incident_id for p in unnamed)}) == 3

    async def test_a_retried_start_finds_its_own_incident(
        self, dev_server: WorkflowEnvironment, database: Database
    ) -> None:
        opening = _opening("opening-a")
        environment = ActivityEnvironment(client=dev_server.client)
        activities = IncidentActivities(database, FILE)

        await environment.run(activities.start_incident, opening)
        await environment.run(activities.start_incident, opening)  # the task's retry

        handle = dev_server.client.get_workflow_handle(_id(opening))
        try:
            runs = [
                run
                async for run in dev_server.client.list_workflows(f"WorkflowId = '{_id(opening)}'")
            ]
            described = await handle.describe()
            assert len(runs) == 1
            assert (await described.memo())[OPENING_MEMO] == "opening-a"
        finally:
            await handle.terminate()

    @pytest.mark.parametrize("closed", [False, True])
    async def test_a_number_naming_another_incident_is_refused(
        self, dev_server: WorkflowEnvironment, database: Database, closed: bool
    ) -> None:
        """An older read model hands out a number Temporal has seen: running or closed,
        that incident is someone else's, and the group must take the next number."""
        opening = _opening("opening-new")
        environment = ActivityEnvironment(client=dev_server.client)
        activities = IncidentActivities(database, FILE)
        other = _opening("opening-old", incident_id=opening.input.declaration.incident_id)
        await environment.run(activities.start_incident, other)
        handle = dev_server.client.get_workflow_handle(_id(other))
        if closed:
            await handle.terminate()

        try:
            with pytest.raises(ApplicationError) as refused:
                await environment.run(activities.start_incident, opening)
            assert (refused.value.type, refused.value.non_retryable) == (NUMBER_TAKEN, True)
            described = await handle.describe()
            assert (await described.memo())[OPENING_MEMO] == "opening-old"  # untouched
        finally:
            if not closed:
                await handle.terminate()

    async def test_a_taken_number_moves_the_numbering_past_the_incidents_temporal_holds(
        self, dev_server: WorkflowEnvironment, database: Database
    ) -> None:
        """A read model restored from an older backup: the numbers it hands out next name
        incidents opened since. The group's next number is past all of them at once,
        not one collision (and two local activities in its history) per number."""
        environment = ActivityEnvironment(client=dev_server.client)
        activities = IncidentActivities(database, FILE)
        first = (await activities.prepare_incident("opening-new")).incident_id
        older = [_opening(f"opening-old-{n}", incident_id=first + n) for n in range(12)]
        handles = []
        for opening in older:
            await environment.run(activities.start_incident, opening)
            handles.append(dev_server.client.get_workflow_handle(_id(opening)))

        try:
            with pytest.raises(ApplicationError):
                await environment.run(activities.start_incident, _opening("opening-new", first))
            assert (await activities.prepare_incident("opening-next")).incident_id == first + 12
        finally:
            for handle in handles:
                await handle.terminate()


def _opening(name: str, incident_id: int | None = None) -> IncidentOpening:
    number = incident_id if incident_id is not None else uuid.uuid4().int % 1_000_000_000
    declaration = Declaration(
        incident_id=number,
        request=DeclareRequest(title="Disk full on db-1", impact=3, urgency=3),
        actor=Actor(name="alertmanager", person=False),
        declared_at=datetime.now(UTC),
        process=FILE,
    )
    # On a task queue no worker polls: the workflow is started, never run.
    return IncidentOpening(
        opening=name, input=IncidentInput(declaration=declaration, revision=CODE_REVISION)
    )


def _id(opening: IncidentOpening) -> str:
    return workflow_id(opening.input.declaration.incident_id)
