"""The API's gateway to Temporal, on the time-skipping server with a real worker: when
the read model refuses the API's own write, the declaration or step still stands and
the incident's workflow writes it within the hold; a step shows the whole incident,
though its answer names the process only by digest."""

import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.gateway import _ANSWER, IncidentGateway
from domain.incident import Incident
from domain.lifecycle import IncidentState
from domain.process import ProcessDefinition
from domain.requests import DeclareRequest, NoteRequest
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
PAYMENTS = ProcessDefinition(name="payments", version=3, categories=["database", "network"])


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

    assert started is not None
    assert incident.state is IncidentState.ACKNOWLEDGED
    assert len(refused) == 2  # the declaration's write and the step's
    assert all("workflow writes them within 2 s" in message for message in refused)
    assert kinds == [EventKind.DECLARED, EventKind.ACKNOWLEDGED]


async def _has_acknowledged(database: Database, incident_id: int) -> bool:
    return EventKind.ACKNOWLEDGED in await _kinds(database, incident_id)


async def test_a_step_shows_the_whole_incident_whoever_declared_it(
    own_time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
) -> None:
    # Steps answer with their process's digest. The gateway that declared an incident
    # knows its process; another (a second API, or this one restarted) reads it from
    # the read model or, without one, from the workflow, and shows the same incident.
    env = own_time_skipping
    process = PAYMENTS
    declaration = _declaration(process)
    async with run_worker(env.client, sqlite_database) as settings:
        declaring = IncidentGateway(
            env.client,
            settings.task_queue,
            10,
            writer=ProjectionWriter(sqlite_database, facts=False),
            batch_seconds=BATCH,
            database=sqlite_database,
        )
        declared = await declaring.start(_input(declaration))
        assert declared is not None and declared.process == process
        incident_id = declaration.incident_id
        answers = []
        for gateway in (
            declaring,
            IncidentGateway(env.client, settings.task_queue, 10, database=sqlite_database),
            IncidentGateway(env.client, settings.task_queue, 10),
        ):
            answers.append(
                await gateway.take_step(
                    incident_id,
                    IncidentWorkflow.note,
                    contracts.NoteCommand(actor=ALICE, request=NoteRequest(text="still 500s")),
                )
            )
        live = await env.client.get_workflow_handle(contracts.workflow_id(incident_id)).query(
            IncidentWorkflow.incident
        )

    assert [answer.process for answer in answers] == [process] * 3
    assert [len(answer.timeline) for answer in answers] == [2, 3, 4]
    assert answers[-1].model_dump(exclude={"announcements"}) == live.model_dump(
        exclude={"announcements"}
    )


async def test_a_step_answer_keeps_the_process_out_of_the_history(
    own_time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
) -> None:
    env = own_time_skipping
    process = PAYMENTS
    declaration = _declaration(process)
    async with run_worker(env.client, sqlite_database) as settings:
        gateway = IncidentGateway(env.client, settings.task_queue, 10)
        await gateway.start(_input(declaration))
        handle = env.client.get_workflow_handle(contracts.workflow_id(declaration.incident_id))
        brief = await handle.execute_update(
            IncidentWorkflow.note,
            contracts.NoteCommand(
                actor=ALICE, request=NoteRequest(text="brief"), brief_answer=True
            ),
        )
        whole = await gateway.take_step(
            declaration.incident_id,
            IncidentWorkflow.note,
            contracts.NoteCommand(actor=ALICE, request=NoteRequest(text="through the API")),
        )
        history = await handle.fetch_history()

    assert isinstance(brief, contracts.StepAnswer)
    assert brief.process_digest == process.digest()
    assert len(brief.incident.timeline) == 2
    answers = [
        event.workflow_execution_update_completed_event_attributes.outcome.success.payloads[0].data
        for event in history.events
        if event.HasField("workflow_execution_update_completed_event_attributes")
    ]
    assert len(answers) == 2
    assert all(b"priority_matrix" not in answer for answer in answers)
    assert whole.process == process and len(whole.timeline) == 3


def test_a_worker_from_before_brief_answers_is_understood() -> None:
    # During an upgrade an old worker ignores the ask and answers with the whole Incident.
    incident = _declaration(ProcessDefinition()).incident()
    converter = pydantic_data_converter.payload_converter
    [payload] = converter.to_payloads([incident])
    [decoded] = converter.from_payloads([payload], [_ANSWER])
    assert isinstance(decoded, Incident)
    assert decoded == incident


def _declaration(process: ProcessDefinition) -> contracts.Declaration:
    return contracts.Declaration(
        incident_id=uuid.uuid4().int % 1_000_000_000,
        request=DeclareRequest(title="Payments time out", impact=2, urgency=2),
        actor=ALICE,
        declared_at=datetime.now(UTC),
        process=process,
    )


def _input(declaration: contracts.Declaration) -> contracts.IncidentInput:
    return contracts.IncidentInput(declaration=declaration, revision=contracts.CODE_REVISION)
