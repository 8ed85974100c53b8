"""A hazard in Temporal's SDK (temporalio 1.35) that Vagt's workflows are exposed to,
shown on the smallest workflow that has it; this fails once the SDK stops doing it.

Two workflow tasks that complete with no command (here: a signal that changes
nothing, then an activity's end, after which the workflow only waits), then a task
that carries an update, on a worker that no longer holds the workflow in memory (a
restart, an eviction; here a cache of 0): the worker rebuilds the workflow and hands
it the activity's end again, as new, together with the update, update first. The
workflow then decides as if the update had come before the activity's end, records
that, and the next rebuild (or any replay) decides the other way: a nondeterminism
error, the workflow stuck. Checked by hand: with one task of no command before the
update (no signal), or a signal in place of the update, the jobs come in their own
order; and a memo upserted in each of the two tasks (so that neither ends with no
command) keeps the order too (the second test): the guard revision 6 of the incident
workflow keeps.

It is what `make fuzz` finds in the incident workflow (tests/workflows/unreplayable/:
a held step written at once live and held on replay), where a task with no command
comes from a signal or an activity's end that changes nothing to write.
"""

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from tests.workflows.history_tasks import tasks_with_no_command


@activity.defn(name="sdk_hazard_wait")
async def wait(seconds: float) -> None:
    await asyncio.sleep(seconds)


@workflow.defn(name="SdkHazardUpdateAfterEmptyTask")
class UpdateAfterEmptyTask:
    @workflow.init
    def __init__(self, guarded: bool) -> None:
        self.guarded = guarded  # no task ends with no command: a memo upserted instead
        self.steps = 0
        self.done = False

    @workflow.run
    async def run(self, guarded: bool) -> int:
        await workflow.execute_activity(wait, 2.0, start_to_close_timeout=timedelta(seconds=10))
        seen = self.steps  # steps taken before the activity ended
        if seen:
            await workflow.sleep(0.01)  # a command only in that case
        elif self.guarded:
            workflow.upsert_memo({"activity": "ended"})
        await workflow.wait_condition(lambda: self.done)
        return seen

    @workflow.signal
    def nothing(self) -> None:
        if self.guarded:
            workflow.upsert_memo({"nothing": "heard"})

    @workflow.update
    def step(self) -> None:
        self.steps += 1

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def _run_the_scene(dev_server: WorkflowEnvironment, guarded: bool) -> WorkflowHistory:
    """The signal, the activity's end and the step, on a worker with no cache; the
    workflow's history, or a skip if the host was too slow to set the scene."""
    task_queue = f"vagt-test-{uuid.uuid4()}"
    worker = Worker(
        dev_server.client,
        task_queue=task_queue,
        workflows=[UpdateAfterEmptyTask],
        activities=[wait],
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_cached_workflows=0,  # every task rebuilds the workflow from its history
    )
    async with worker:
        handle = await dev_server.client.start_workflow(
            UpdateAfterEmptyTask.run,
            guarded,
            id=f"sdk-hazard-{uuid.uuid4()}",
            task_queue=task_queue,
        )
        await asyncio.sleep(0.5)
        await handle.signal(UpdateAfterEmptyTask.nothing)  # a task with no command
        await asyncio.sleep(2.5)  # the activity has ended, in a task with no command
        await handle.execute_update(UpdateAfterEmptyTask.step)
        await handle.signal(UpdateAfterEmptyTask.finish)
        await asyncio.sleep(2)  # the finishing task (unguarded: it fails, and keeps failing)
        history = await handle.fetch_history()
        if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
            await handle.terminate()

    kinds = [event.event_type for event in history.events]
    signalled = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    ended = kinds.index(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED not in kinds[signalled:ended]:
        pytest.skip("the signal and the activity's end came in one task: no scene")
    return history


def _replayer() -> Replayer:
    return Replayer(
        workflows=[UpdateAfterEmptyTask],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


async def test_an_update_after_a_task_with_no_command_is_handled_before_that_tasks_jobs(
    dev_server: WorkflowEnvironment,
) -> None:
    history = await _run_the_scene(dev_server, guarded=False)

    assert len(tasks_with_no_command(history)) >= 2  # the signal's, the activity end's
    kinds = [event.event_type for event in history.events]
    # Live, the step's task decided the step came first: it set the timer.
    assert EventType.EVENT_TYPE_TIMER_STARTED in kinds
    # Replayed in the history's order, the step comes after: no timer, and the SDK
    # refuses the history.
    result = await _replayer().replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "Nondeterminism" in str(result.replay_failure)


async def test_no_task_ending_with_no_command_keeps_the_historys_order(
    dev_server: WorkflowEnvironment,
) -> None:
    history = await _run_the_scene(dev_server, guarded=True)

    kinds = [event.event_type for event in history.events]
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED) == 2  # the guard
    assert tasks_with_no_command(history) == []
    # Live as in the history, the step came after the activity's end: no timer, and
    # the workflow ended, counting no step before the activity's end.
    assert EventType.EVENT_TYPE_TIMER_STARTED not in kinds
    assert kinds[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED
    await _replayer().replay_workflow(history)


_UNREPLAYABLE = Path(__file__).parent / "unreplayable"
# Left by queries to evicted workflows (README there): another hazard.
_QUERY_CAUSED = {"incident-rev3-stale-time-1.json", "incident-rev5b-query-stale-time.json"}


_CAUSED_BY_EMPTY_TASKS = sorted(
    path.name for path in _UNREPLAYABLE.glob("*.json") if path.name not in _QUERY_CAUSED
)


@pytest.mark.parametrize("name", _CAUSED_BY_EMPTY_TASKS)
def test_every_other_history_the_fuzz_could_not_replay_had_tasks_with_no_command(
    name: str,
) -> None:
    """Each has tasks that brought the workflow something and ended with no command,
    which revision 6's guard never leaves (the revision-3 heartbeat ones too, whose
    cause revision 4 removed)."""
    history = WorkflowHistory.from_json(name, (_UNREPLAYABLE / name).read_text())
    assert tasks_with_no_command(history)
