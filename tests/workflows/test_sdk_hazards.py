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
order.

It is what `make fuzz` finds in the incident workflow (tests/workflows/unreplayable/:
a held step written at once live and held on replay), where a task with no command
comes from a signal or an activity's end that changes nothing to write.
"""

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker


@activity.defn(name="sdk_hazard_wait")
async def wait(seconds: float) -> None:
    await asyncio.sleep(seconds)


@workflow.defn(name="SdkHazardUpdateAfterEmptyTask")
class UpdateAfterEmptyTask:
    def __init__(self) -> None:
        self.steps = 0
        self.done = False

    @workflow.run
    async def run(self) -> int:
        await workflow.execute_activity(wait, 2.0, start_to_close_timeout=timedelta(seconds=10))
        seen = self.steps  # steps taken before the activity ended
        if seen:
            await workflow.sleep(0.01)  # a command only in that case
        await workflow.wait_condition(lambda: self.done)
        return seen

    @workflow.signal
    def nothing(self) -> None:
        pass

    @workflow.update
    def step(self) -> None:
        self.steps += 1

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def test_an_update_after_a_task_with_no_command_is_handled_before_that_tasks_jobs(
    dev_server: WorkflowEnvironment,
) -> None:
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
            UpdateAfterEmptyTask.run, id=f"sdk-hazard-{uuid.uuid4()}", task_queue=task_queue
        )
        await asyncio.sleep(0.5)
        await handle.signal(UpdateAfterEmptyTask.nothing)  # a task with no command
        await asyncio.sleep(2.5)  # the activity has ended, in a task with no command
        await handle.execute_update(UpdateAfterEmptyTask.step)
        await handle.signal(UpdateAfterEmptyTask.finish)
        await asyncio.sleep(2)  # the finishing task: it fails, and keeps failing
        history = await handle.fetch_history()
        await handle.terminate()

    kinds = [event.event_type for event in history.events]
    signalled = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    ended = kinds.index(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED not in kinds[signalled:ended]:
        pytest.skip("the signal and the activity's end came in one task: no scene")
    # Live, the step's task decided the step came first: it set the timer.
    assert EventType.EVENT_TYPE_TIMER_STARTED in kinds
    # Replayed in the history's order, the step comes after: no timer, and the SDK
    # refuses the history.
    replayer = Replayer(
        workflows=[UpdateAfterEmptyTask],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is not None
    assert "Nondeterminism" in str(result.replay_failure)
