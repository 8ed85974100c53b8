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

from pydantic import BaseModel
from temporalio import workflow

from bench.bare_worker import post_once, serve


class BareTimer(BaseModel):
    key: str
    due: datetime


class BareFired(BaseModel):
    key: str
    due: datetime
    at: datetime  # workflow.now() when the timer woke the workflow


@workflow.defn
class BareTimerWorkflow:
    @workflow.run
    async def run(self, timer: BareTimer) -> None:
        waiting = max((timer.due - workflow.now()).total_seconds(), 0.0)
        await workflow.sleep(timedelta(milliseconds=max(math.ceil(waiting * 1000), 1)))
        fired = BareFired(key=timer.key, due=timer.due, at=workflow.now())
        await post_once("bare_timer_post", fired)


if __name__ == "__main__":
    target, task_queue, url = sys.argv[1:4]
    asyncio.run(
        serve(target, task_queue, BareTimerWorkflow, "bare_timer_post", f"{url}/bare-timer")
    )
