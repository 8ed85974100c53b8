"""The lifecycle's ceiling: a workflow taking an incident's five steps as no-op updates.

Vagt declares an incident with `start_workflow` and sends each later step (triage,
acknowledge, resolve, review, approve) as one `execute_update`; this workflow is
started and updated the same way, does nothing in its handlers, and completes at the
last step, as an incident completes at the approval of its review.

`python -m bench.bare_lifecycle TARGET TASK_QUEUE` runs its worker until killed.
"""

import asyncio
import sys

from temporalio import workflow

from bench.bare import work

# The updates after the start, in order; the last one completes the workflow.
STEPS = ("triage", "acknowledge", "resolve", "review", "approve")


@workflow.defn
class BareLifecycleWorkflow:
    def __init__(self) -> None:
        self._taken = 0

    @workflow.run
    async def run(self) -> int:
        await workflow.wait_condition(lambda: self._taken >= len(STEPS))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._taken

    @workflow.update
    def step(self, name: str) -> int:
        self._taken += 1
        return self._taken


if __name__ == "__main__":
    asyncio.run(work(sys.argv[1], sys.argv[2], [BareLifecycleWorkflow]))
