"""The API's gateway to Temporal, on the time-skipping server with a real worker: when
the read model refuses the API's own write, the declaration or step still stands and
the incident's workflow writes it within the hold."""

import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from api.gateway import IncidentGateway
from domain.lifecycle import IncidentState
from domain.process import ProcessDefinition
from domain.requests import DeclareRequest
from domain.sla import SlaPolicy
from domain.timeline import EventKind
from store.db import Database
from store.incidents import IncidentRepository
from store.projection import ProjectionWriter
from tests.polling import eventually
from tests.temporal_fixtures import RunWorker
from tests.workflows.test_incident import ALICE
from workflows import contracts
from workflows.incident import IncidentWorkflow

BATCH = 2.0


async def _kinds(database: Database, incident_id: int) -> list[EventKind]:
    async with database.session() as session:
        stored = await IncidentRepository(session).get(incident_id)
    return [] if stored is None else [event.kind for event in stored.timeline]


async def test_what_the_read_model_refuses_the_api_the_workflow_writes(
    own_time_skipping: WorkflowEnvironment,
    sqlite_database: Database,
    run_worker: RunWorker,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="vagt.api")
    env = own_time_skipping
    # A database file never migrated: every write the API tries there fails.
    broken = Database(f"sqlite+aiosqlite:///{tmp_path / 'unmigrated.db'}")
    incident_id = uuid.uuid4().int % 1_000_000_000
    declaration = contracts.Declaration(
        incident_id=incident_id,
        request=DeclareRequest(title="Login fails", impact=2, urgency=2),
        actor=ALICE,
        declared_at=datetime.now(UTC),
        process=ProcessDefinition(sla=SlaPolicy(targets={})),
    )
    try:
        async with run_worker(env.client, sqlite_database) as settings:
            gateway = IncidentGateway(
                env.client,
                settings.task_queue,
                10,
                writer=ProjectionWriter(broken, facts=False),
                batch_seconds=BATCH,
            )
            started = await gateway.start(
                contracts.IncidentInput(declaration=declaration, revision=contracts.CODE_REVISION)
            )
            incident = await gateway.take_step(
                incident_id, IncidentWorkflow.acknowledge, contracts.AcknowledgeCommand(actor=ALICE)
            )
            refused = [r.getMessage() for r in caplog.records if r.name == "vagt.api"]

            await env.sleep(timedelta(seconds=BATCH + 1))
            await eventually(
                lambda: _has_acknowledged(sqlite_database, incident_id), 30, "the workflow's write"
            )
            kinds = await _kinds(sqlite_database, incident_id)
    finally:
        await broken.dispose()

    assert started
    assert incident.state is IncidentState.ACKNOWLEDGED
    assert len(refused) == 2  # the declaration's write and the step's
    assert all("workflow writes them within 2 s" in message for message in refused)
    assert kinds == [EventKind.DECLARED, EventKind.ACKNOWLEDGED]


async def _has_acknowledged(database: Database, incident_id: int) -> bool:
    return EventKind.ACKNOWLEDGED in await _kinds(database, incident_id)
