"""The lifecycle's ceiling: a workflow taking an incident's five steps as no-op updates.

Vagt declares an incident with `start_workflow` and sends each later step (triage,
acknowledge, resolve, review, approve) as one `execute_update`; this workflow is
started and updated the same way, does nothing in its handlers, and completes at the
last step, as an incident completes at the approval of its review.

Beside it, the same workflow writing a read model as Vagt does, with nothing to write:
after the start and after each step it runs a local activity that returns at once, in
the workflow task that took the step. It is the ceiling of any design that writes its
read model from the workflow within each step (a second activation of the workflow per
step, and the local activity's own handling), whatever the write itself costs.

`python -m bench.bare_lifecycle TARGET TASK_QUEUE` runs their worker until killed.
"""

import asyncio
import sys
from datetime import timedelta

from temporalio import activity, workflow

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


@activity.defn
async def project_nothing(taken: int) -> int:
    return taken


@workflow.defn
class ProjectingLifecycleWorkflow(BareLifecycleWorkflow):
    """The bare workflow's steps (its update handler is inherited), each written."""

    def __init__(self) -> None:
        super().__init__()
        self._projected = -1  # the start is written too, as Vagt writes the declaration

    @workflow.run
    async def run(self) -> int:
        while self._projected < len(STEPS):
            await workflow.wait_condition(lambda: self._taken > self._projected)
            self._projected = await workflow.execute_local_activity(
                project_nothing, self._taken, start_to_close_timeout=timedelta(seconds=30)
            )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._taken


if __name__ == "__main__":
    asyncio.run(
        work(
            sys.argv[1],
            sys.argv[2],
            [BareLifecycleWorkflow, ProjectingLifecycleWorkflow],
            [project_nothing],
        )
    )
