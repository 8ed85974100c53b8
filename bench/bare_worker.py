"""The minimal worker of the bare Temporal references (`bare_timers`, `bare_paging`).

Configured as Vagt's worker is (no sandbox, a cache for every workflow), it runs one
workflow and one activity, named `activity_name`, that POSTs its argument (a model
with a `key`) as JSON to a URL, the key as its Idempotency-Key, as a delivery does.
"""

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


async def post_once(activity_name: str, item: BaseModel) -> None:
    """From the workflow: POST `item` once, through the worker's activity."""
    await workflow.execute_activity(
        activity_name,
        item,
        start_to_close_timeout=timedelta(seconds=60),
        retry_policy=RetryPolicy(maximum_attempts=1),
    )


async def serve(target: str, task_queue: str, workflow: type, activity_name: str, url: str) -> None:
    """Run the worker until cancelled."""
    client = await Client.connect(target, data_converter=pydantic_data_converter)
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:

        @activity.defn(name=activity_name)
        async def post(item: dict[str, Any]) -> None:
            headers = {"Idempotency-Key": str(item["key"])}
            (await http.post(url, json=item, headers=headers)).raise_for_status()

        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[workflow],
            activities=[post],
            workflow_runner=UnsandboxedWorkflowRunner(),
            max_cached_workflows=10_000,
        ):
            await asyncio.Event().wait()
