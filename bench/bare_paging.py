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
from datetime import datetime

from pydantic import BaseModel
from temporalio import workflow

from bench.bare_worker import post_once, serve

# The receiver's path for the bare pages, apart from Vagt's.
BARE_PAGE_PATH = "/bare-page"


class BarePage(BaseModel):
    key: str  # the alert's dedup key, sent as the page's Idempotency-Key
    at: datetime | None = None  # workflow.now() when the workflow fired the page


@workflow.defn
class BarePageWorkflow:
    @workflow.run
    async def run(self, page: BarePage) -> None:
        await post_once("bare_page_post", BarePage(key=page.key, at=workflow.now()))


if __name__ == "__main__":
    target, task_queue, url = sys.argv[1:4]
    asyncio.run(
        serve(target, task_queue, BarePageWorkflow, "bare_page_post", f"{url}{BARE_PAGE_PATH}")
    )
