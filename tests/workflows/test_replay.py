"""Every recorded history replays on the current workflow code."""

import json
from pathlib import Path

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer
from temporalio.workflow import NondeterminismError

from tests.workflows.history_tasks import tasks_with_no_command
from workflows.alert_group import AlertGroupWorkflow
from workflows.contracts import IncidentInput, IncidentOutcome
from workflows.incident import IncidentWorkflow
from workflows.reports import ActionItemRemindersWorkflow, WeeklyDigestWorkflow
from workflows.what_if import WhatIfWorkflow

HISTORIES = {
    path.stem: path.read_text()
    for path in sorted((Path(__file__).parent / "histories").glob("*.json"))
}


def test_there_are_histories_to_replay() -> None:
    assert HISTORIES


@pytest.mark.parametrize("name", HISTORIES)
async def test_recorded_history_replays_on_current_code(name: str) -> None:
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    # The sandbox on, as in every test: replay also refuses non-deterministic calls.
    replayer = Replayer(
        workflows=[
            IncidentWorkflow,
            AlertGroupWorkflow,
            WhatIfWorkflow,
            ActionItemRemindersWorkflow,
            WeeklyDigestWorkflow,
        ],
        data_converter=pydantic_data_converter,
    )

    result = await replayer.replay_workflow(history)  # raises on any mismatch

    assert result.replay_failure is None


@workflow.defn(name="IncidentWorkflow")
class _ChangedIncidentWorkflow(IncidentWorkflow):
    """The incident workflow with a change made without a patch or a revision: a signal
    to another workflow before everything else, a command no recorded run starts with."""

    @workflow.run
    async def run(self, input: IncidentInput) -> IncidentOutcome:
        await workflow.get_external_workflow_handle("elsewhere").signal("changed")
        return await super().run(input)


async def test_the_suite_catches_a_change_that_breaks_running_workflows() -> None:
    incidents = [name for name in HISTORIES if name.startswith("incident-")]
    assert incidents
    replayer = Replayer(
        workflows=[_ChangedIncidentWorkflow, AlertGroupWorkflow],
        data_converter=pydantic_data_converter,
    )

    for name in incidents:
        with pytest.raises(NondeterminismError):
            await replayer.replay_workflow(WorkflowHistory.from_json(name, HISTORIES[name]))


def _revision(history: WorkflowHistory) -> int:
    started = history.events[0].workflow_execution_started_event_attributes
    return int(json.loads(started.input.payloads[0].data).get("revision", 0))


# Incident runs started at revision 6 or later, when the guard came in.
GUARDED = [
    name
    for name in HISTORIES
    if name.startswith("incident-")
    and _revision(WorkflowHistory.from_json(name, HISTORIES[name])) >= 6
]


@pytest.mark.parametrize("name", GUARDED)
def test_incidents_of_revision_6_leave_no_task_that_brought_them_something_without_a_command(
    name: str,
) -> None:
    """The guard against Temporal's SDK handing a step over out of order
    (tests/workflows/test_sdk_hazards.py), on every recorded path."""
    history = WorkflowHistory.from_json(name, HISTORIES[name])
    assert tasks_with_no_command(history) == []
