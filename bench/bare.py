"""The engine's ceiling: a workflow that does nothing, and a worker that runs only it.

`python -m bench.bare TARGET TASK_QUEUE` runs the worker until killed; the benchmarks
start, signal and update these workflows on the same server Vagt uses.
"""

import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any

from temporalio import workflow
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker


@workflow.defn
class BareWorkflow:
    def __init__(self) -> None:
        self._seen = 0

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._seen < 0)  # until terminated

    @workflow.signal
    def poke(self) -> None:
        self._seen += 1

    @workflow.update
    def add(self, count: int) -> int:
        self._seen += count
        return self._seen


async def work(
    target: str,
    task_queue: str,
    workflows: Sequence[type],
    activities: Sequence[Callable[..., Any]] = (),
) -> None:
    """Run `workflows` (and `activities`) on `task_queue` until killed: the bare
    benchmarks' worker."""
    client = await Client.connect(target, data_converter=pydantic_data_converter)
    # Configured as Vagt's worker is: no sandbox, a cache for every workflow.
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=workflows,
        activities=activities,
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_cached_workflows=10_000,
    ):
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(work(sys.argv[1], sys.argv[2], [BareWorkflow]))
