"""The engine's reference for timers: a workflow that sleeps until a moment, then posts once.

`python -m bench.bare_timers TARGET TASK_QUEUE RECEIVER_URL` runs the worker until
killed. Each `BareTimerWorkflow` sleeps until its due time (whole milliseconds, rounded
up, as Vagt's incidents do) and then runs one activity that POSTs to the receiver, as an
incident's escalation runs one delivery activity: what bare Temporal and a minimal
worker achieve for the same path on the same server at the same moment.
"""

import asyncio
import math
import sys
from datetime import datetime, timedelta

import httpx
from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


class BareTimer(BaseModel):
    key: str
    due: datetime


class BareFired(BaseModel):
    key: str
    due: datetime
    at: datetime  # workflow.now() when the timer woke the workflow


@activity.defn(name="bare_timer_post")
async def post(fired: BareFired) -> None:
    raise NotImplementedError  # replaced in the worker by one bound to the receiver's URL


@workflow.defn
class BareTimerWorkflow:
    @workflow.run
    async def run(self, timer: BareTimer) -> None:
        waiting = max((timer.due - workflow.now()).total_seconds(), 0.0)
        await workflow.sleep(timedelta(milliseconds=max(math.ceil(waiting * 1000), 1)))
        fired = BareFired(key=timer.key, due=timer.due, at=workflow.now())
        await workflow.execute_activity(
            post,
            fired,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def _work(target: str, task_queue: str, url: str) -> None:
    client = await Client.connect(target, data_converter=pydantic_data_converter)
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:

        @activity.defn(name="bare_timer_post")
        async def post_to_receiver(fired: BareFired) -> None:
            body = fired.model_dump(mode="json")
            headers = {"Idempotency-Key": fired.key}
            (await http.post(f"{url}/bare-timer", json=body, headers=headers)).raise_for_status()

        # Configured as Vagt's worker is: no sandbox, a cache for every workflow.
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[BareTimerWorkflow],
            activities=[post_to_receiver],
            workflow_runner=UnsandboxedWorkflowRunner(),
            max_cached_workflows=10_000,
        ):
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_work(sys.argv[1], sys.argv[2], sys.argv[3]))
