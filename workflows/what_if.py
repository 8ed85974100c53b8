"""A what-if: a process version walked again over past incidents, page by page.

The run's request and its results live in the read model (store.what_if); the workflow
drives the pages, retries what fails, and keeps going across worker restarts. It
continues as new every so many pages, so a run over a year of incidents keeps a short
history. Only the `what_if_page` activity touches data, and only the run's own rows.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.what_if import WhatIfActivities, WhatIfFailure, WhatIfPage, WhatIfProgress
    from workflows.contracts import WhatIfInput

# A page that fails this many times in a row fails the run (a bug, or a read model that
# stays unreachable); the run's record then says why.
_PAGE_RETRY = RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=10)


@workflow.defn
class WhatIfWorkflow:
    @workflow.init
    def __init__(self, input: WhatIfInput) -> None:
        self._progress = WhatIfProgress(
            run_id=input.run_id, cursor=input.after, examined=0, total=0, done=False
        )

    @workflow.run
    async def run(self, input: WhatIfInput) -> WhatIfProgress:
        for _ in range(input.pages_per_run):
            page = WhatIfPage(
                run_id=input.run_id, after=self._progress.cursor, size=input.page_size
            )
            try:
                self._progress = await workflow.execute_activity_method(
                    WhatIfActivities.examine_page,
                    page,
                    start_to_close_timeout=timedelta(minutes=5),
                    retry_policy=_PAGE_RETRY,
                )
            except ActivityError as error:
                reason = str(error.cause or error)
                await workflow.execute_activity_method(
                    WhatIfActivities.record_failure,
                    WhatIfFailure(run_id=input.run_id, error=reason),
                    start_to_close_timeout=timedelta(minutes=1),
                )
                raise ApplicationError(
                    f"what-if {input.run_id} failed: {reason}", non_retryable=True
                ) from error
            if self._progress.done:
                return self._progress
            if workflow.info().is_continue_as_new_suggested():
                break
        workflow.continue_as_new(input.model_copy(update={"after": self._progress.cursor}))

    @workflow.query
    def progress(self) -> WhatIfProgress:
        """Where the run stands as of its last page: incidents examined so far, of the
        `total` that matched when it was asked, and whether it is done."""
        return self._progress
