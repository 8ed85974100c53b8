"""The engine's reference for time to page: a workflow per alert that pages at once.

`python -m bench.bare_paging TARGET TASK_QUEUE RECEIVER_URL` runs the worker until
killed. Each `BarePageWorkflow` is started for one alert and runs one activity that
POSTs a page to the receiver, as an incident's first escalation level runs one delivery
activity: the least Temporal work that durably opens something for an alert and pages
for it, with nothing of Vagt's (no alert group, no read model, no rules). The benchmark
starts one per new dedup key at Vagt's load, on the same server, to show what bare
Temporal and a minimal worker achieve for that load on this machine.
"""

import asyncio
import sys
from datetime import datetime, timedelta

import httpx
from pydantic import BaseModel
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

# The receiver's path for the bare pages, apart from Vagt's.
BARE_PAGE_PATH = "/bare-page"


class BarePage(BaseModel):
    key: str  # the alert's dedup key, sent as the page's Idempotency-Key
    at: datetime | None = None  # workflow.now() when the workflow fired the page


@activity.defn(name="bare_page_post")
async def post(page: BarePage) -> None:
    raise NotImplementedError  # replaced in the worker by one bound to the receiver's URL


@workflow.defn
class BarePageWorkflow:
    @workflow.run
    async def run(self, page: BarePage) -> None:
        await workflow.execute_activity(
            post,
            BarePage(key=page.key, at=workflow.now()),
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_attempts=1),
        )


async def _work(target: str, task_queue: str, url: str) -> None:
    client = await Client.connect(target, data_converter=pydantic_data_converter)
    async with httpx.AsyncClient(trust_env=False, timeout=10) as http:

        @activity.defn(name="bare_page_post")
        async def post_to_receiver(page: BarePage) -> None:
            body = page.model_dump(mode="json")
            headers = {"Idempotency-Key": page.key}
            answer = await http.post(f"{url}{BARE_PAGE_PATH}", json=body, headers=headers)
            answer.raise_for_status()

        # Configured as Vagt's worker is: no sandbox, a cache for every workflow.
        async with Worker(
            client,
            task_queue=task_queue,
            workflows=[BarePageWorkflow],
            activities=[post_to_receiver],
            workflow_runner=UnsandboxedWorkflowRunner(),
            max_cached_workflows=10_000,
        ):
            await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(_work(sys.argv[1], sys.argv[2], sys.argv[3]))
