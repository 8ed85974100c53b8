"""`local_first`: one quick local attempt, else a regular activity; and every history
either way replays, the SDK's different failure on replay included."""

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from workflows.local import local_first

_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=0)


@dataclass
class _Writes:
    """An activity that behaves as `mode` says when run locally, and succeeds when run
    as a regular activity; records how each attempt ran."""

    attempts: list[tuple[str, bool]] = field(default_factory=list)

    @activity.defn(name="local_first_write")
    async def write(self, mode: str) -> str:
        local = activity.info().is_local
        self.attempts.append((mode, local))
        if mode == "refused":
            raise ApplicationError("no such incident", type="Refused", non_retryable=True)
        if local and mode == "slow":
            await asyncio.sleep(3)
        if local and mode == "down":
            raise RuntimeError("the database is down")
        return "local" if local else "regular"


@workflow.defn(sandboxed=False)
class _LocalFirstWorkflow:
    @workflow.run
    async def run(self, mode: str) -> str:
        before = workflow.now()
        try:
            ran = await local_first(
                _Writes.write, mode, retry_policy=_RETRY, attempt_timeout=timedelta(seconds=5)
            )
        except ApplicationError as error:
            ran = f"refused: {error.type}"
        # A command that depends on the time before the activity: replays only if the
        # replay runs that activation at the time it first ran.
        await workflow.sleep(timedelta(milliseconds=10 + before.microsecond % 2))
        return ran


async def _run(env: WorkflowEnvironment, mode: str) -> tuple[str, list[tuple[str, bool]], Any]:
    writes = _Writes()
    task_queue = f"vagt-test-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=task_queue,
        workflows=[_LocalFirstWorkflow],
        activities=[writes.write],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        handle = await env.client.start_workflow(
            _LocalFirstWorkflow.run,
            mode,
            id=f"local-first-{uuid.uuid4()}",
            task_queue=task_queue,
            task_timeout=timedelta(seconds=2),  # a local attempt gets 1 s
        )
        result = await handle.result()
        history = await handle.fetch_history()
    await Replayer(
        workflows=[_LocalFirstWorkflow], workflow_runner=UnsandboxedWorkflowRunner()
    ).replay_workflow(history)
    return result, writes.attempts, history


def _scheduled(history: Any) -> int:
    return sum(
        event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED for event in history.events
    )


async def test_a_quick_activity_runs_locally_once(dev_server: WorkflowEnvironment) -> None:
    result, attempts, history = await _run(dev_server, "quick")
    assert result == "local"
    assert attempts == [("quick", True)]
    assert _scheduled(history) == 0  # nothing for Temporal to schedule


async def test_a_slow_local_attempt_is_given_up_at_half_the_task_and_run_regularly(
    dev_server: WorkflowEnvironment,
) -> None:
    result, attempts, history = await _run(dev_server, "slow")
    assert result == "regular"
    assert attempts == [("slow", True), ("slow", False)]
    assert _scheduled(history) == 1
    # Given up after 1 s, not kept alive past the task's 2 s: no task timed out or
    # completed early to keep the local activity going.
    kinds = [event.event_type for event in history.events]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT not in kinds


async def test_a_failing_local_attempt_is_run_regularly_not_retried_locally(
    dev_server: WorkflowEnvironment,
) -> None:
    result, attempts, _ = await _run(dev_server, "down")
    assert result == "regular"
    assert attempts == [("down", True), ("down", False)]


async def test_a_refusal_is_raised_once_not_run_again(dev_server: WorkflowEnvironment) -> None:
    result, attempts, history = await _run(dev_server, "refused")
    assert result == "refused: Refused"
    assert attempts == [("refused", True)]
    assert _scheduled(history) == 0
