"""Local activities that stay well inside their workflow task, and run again as regular
activities when they cannot.

A local activity runs within the workflow task that scheduled it. One still running at
80% of the task's timeout makes Temporal's SDK complete the task early to keep the
workflow's turn (a task "heartbeat"), and if the workflow had nothing else to say,
that task records no command. Replaying such a history, the SDK runs the activation
that scheduled the activity at the *next* task's time, not its own (measured with
temporalio 1.35: 0.8 s later for a 1 s task timeout, 8 s for the default 10 s). A
workflow that reads `workflow.now()` there (clocks falling due, escalation levels,
steps recorded) can then decide differently on replay than it did: a nondeterminism
error, and a workflow stuck until someone resets it. A database slowed by load is
enough to cause it (tests/workflows/test_slow_projection.py).

So a local activity here gets one attempt of at most `LOCAL_SHARE` of the task's
timeout. One that fails or needs longer (a slow or unreachable database) runs again as
a regular activity: scheduled, retried and completed by Temporal, recorded in the
history, with no deadline on the workflow task (`local_first`). (One attempt, because
the SDK retries a local activity past its schedule-to-close timeout, measured.) Every
activity run this way must be idempotent, as an attempt given up may have done its
work. A workflow that must not wait for it takes the one attempt alone
(`local_attempt`) and tries again later itself: the incident's read-model write from
revision 6, so that its clocks keep firing while the database is away.
"""

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, FailureError

T = TypeVar("T")

# Of the workflow task's timeout (10 s unless a run is started with another): half,
# leaving the SDK's 80% well out of reach for the activation's own work before it.
LOCAL_SHARE = 0.5
_ONCE = RetryPolicy(maximum_attempts=1)


def local_budget() -> timedelta:
    """How long a local activity of this run may take."""
    return workflow.info().task_timeout * LOCAL_SHARE


class NotDoneLocally(Exception):
    """A local attempt (`local_attempt`) failed or ran out of time, in a way its retry
    policy would retry: the work may or may not have been done. The SDK's error is its
    `__cause__`."""


async def local_attempt(
    activity: Callable[..., Awaitable[T]], *args: Any, retry_policy: RetryPolicy
) -> T:
    """Run `activity` (a method of an activity class) on `args` once as a local activity
    within `local_budget()`. A failure `retry_policy` would not retry (non-retryable, or
    of a type it names) is raised as the activity raised it; any other failure, and
    running out of time, raises `NotDoneLocally`."""
    try:
        return await workflow.execute_local_activity_method(
            activity, args=args, start_to_close_timeout=local_budget(), retry_policy=_ONCE
        )
    except FailureError as error:
        # The SDK hands a local activity's failure over as the activity raised it, and
        # a timeout as an ActivityError when it happens but as a bare TimeoutError when
        # replayed (temporalio 1.35): both are read the same way here.
        failure = error.cause if isinstance(error, ActivityError) else error
        if isinstance(failure, CancelledError) or (
            isinstance(failure, ApplicationError)
            and (
                failure.non_retryable
                or failure.type in (retry_policy.non_retryable_error_types or ())
            )
        ):
            raise
        workflow.logger.warning(
            "%s did not finish as a local activity within %s (%s)",
            getattr(activity, "__name__", activity),
            local_budget(),
            failure or error,
        )
        raise NotDoneLocally(str(failure or error)) from error


async def local_first(
    activity: Callable[..., Awaitable[T]],
    *args: Any,
    retry_policy: RetryPolicy,
    attempt_timeout: timedelta,
    bounded: bool = True,
) -> T:
    """Run `activity` (a method of an activity class) on `args` once as a local
    activity (`local_attempt`); if that attempt fails or runs out of time, run it as a
    regular activity with `retry_policy`, each attempt within `attempt_timeout`. A
    failure `retry_policy` would not retry is raised at once, as the regular activity
    would raise it. Not `bounded` (runs of revision 3 and older): locally only, retried
    as `retry_policy` says, as they ran."""
    if not bounded:
        return await workflow.execute_local_activity_method(
            activity, args=args, start_to_close_timeout=attempt_timeout, retry_policy=retry_policy
        )
    try:
        return await local_attempt(activity, *args, retry_policy=retry_policy)
    except NotDoneLocally:
        workflow.logger.warning(
            "running %s as a regular activity", getattr(activity, "__name__", activity)
        )
    return await workflow.execute_activity_method(
        activity, args=args, start_to_close_timeout=attempt_timeout, retry_policy=retry_policy
    )
