"""`vagt export-history`: an incident's history into the replay suite, replayable as is."""

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from domain.process import ProcessDefinition
from domain.requests import DeclareRequest
from domain.roles import Actor, Role
from store.db import Database
from tests.temporal_fixtures import RunWorker
from vagt.histories import ExportError, code_label, export_history, workflow_id_of
from workflows import contracts
from workflows.alert_group import AlertGroupWorkflow
from workflows.incident import IncidentWorkflow

ALICE = Actor(name="alice", roles=frozenset({Role.RESPONDER}))


class TestExport:
    async def test_an_incidents_history_is_written_and_replays(
        self,
        time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
        tmp_path: Path,
    ) -> None:
        client = time_skipping.client
        incident_id = uuid.uuid4().int % 1_000_000_000
        declaration = contracts.Declaration(
            incident_id=incident_id,
            request=DeclareRequest(title="Checkout is down", impact=1, urgency=1),
            actor=ALICE,
            declared_at=datetime(2030, 1, 1, 9, 0, tzinfo=UTC),
            process=ProcessDefinition(),
        )
        async with run_worker(client, sqlite_database) as settings:
            handle = await client.start_workflow(
                IncidentWorkflow.run,
                contracts.IncidentInput(declaration=declaration, revision=contracts.CODE_REVISION),
                id=contracts.workflow_id(incident_id),
                task_queue=settings.task_queue,
            )
            await handle.execute_update(
                IncidentWorkflow.acknowledge, contracts.AcknowledgeCommand(actor=ALICE)
            )

            path = await export_history(client, str(incident_id), tmp_path, label="test")
            with pytest.raises(ExportError, match="exists"):
                await export_history(client, str(incident_id), tmp_path, label="test")

        assert path == tmp_path / "incident-test.json"
        replayer = Replayer(
            workflows=[IncidentWorkflow, AlertGroupWorkflow], data_converter=pydantic_data_converter
        )
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        result = await replayer.replay_workflow(history)
        assert result.replay_failure is None

    async def test_an_unknown_workflow_is_named_in_the_refusal(
        self, time_skipping: WorkflowEnvironment, tmp_path: Path
    ) -> None:
        with pytest.raises(ExportError, match="incident-999999999"):
            await export_history(time_skipping.client, "999999999", tmp_path)
        assert os.listdir(tmp_path) == []


def test_numbers_name_incidents_and_anything_else_is_a_workflow_id() -> None:
    assert workflow_id_of("12") == "incident-12"
    assert workflow_id_of("alerts-abc-def") == "alerts-abc-def"


def test_the_label_is_the_code_commit_or_a_timestamp(tmp_path: Path) -> None:
    assert code_label(tmp_path)[:8].isdigit()  # not a git checkout: a UTC timestamp
    label = code_label()
    assert len(label.rstrip("+")) == 7
