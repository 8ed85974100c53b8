"""The minimal worker of the bare Temporal references (`bare_timers`, `bare_paging`).

Configured as Vagt's worker is (no sandbox, a cache for every workflow), it runs one
workflow and one activity, named `activity_name`, that POSTs its argument (a model
with a `key`) as JSON to a URL, the key as its Idempotency-Key, as a delivery does.
"""

import asyncio
from typing import Any

import httpx
from temporalio import activity
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


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
