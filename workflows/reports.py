"""Scheduled reports: overdue action item reminders and the weekly digest.

Temporal Schedules start these (vagt.schedules): reminders every hour, the digest once a
week. Each run asks the read model what is due, sends it through the notification
activity, retrying as incident notifications do (same idempotency key on every attempt),
and only then records it as sent. The next run skips what is recorded, so an item is
reminded once per due date and a week has one digest, however often a Schedule fires or
a run is retried.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.notifications import NotificationActivities
    from activities.reports import (
        Digested,
        DigestRequest,
        Reminded,
        ReminderSweep,
        ReportActivities,
    )
    from domain.channels import Delivery, DeliveryOutcome, DeliveryResult
    from domain.process import RetryRules

_READ = RetryPolicy(maximum_interval=timedelta(minutes=1))
_ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
_RETRIES = RetryRules()

REMINDERS_WORKFLOW = "ActionItemReminders"
DIGEST_WORKFLOW = "WeeklyDigest"


async def _send(delivery: Delivery) -> DeliveryResult:
    """Attempts until the receiver takes it or refuses it for good, or attempts run out."""
    result = DeliveryResult(outcome=DeliveryOutcome.RETRY, detail="not sent")
    for attempt in range(1, _RETRIES.max_attempts + 1):
        try:
            result = await workflow.execute_activity_method(
                NotificationActivities.deliver,
                delivery.model_copy(update={"attempt": attempt}),
                start_to_close_timeout=timedelta(seconds=60),
                heartbeat_timeout=timedelta(seconds=10),
                retry_policy=_ONE_ATTEMPT,
            )
        except ActivityError as error:
            result = DeliveryResult(outcome=DeliveryOutcome.RETRY, detail=f"no answer: {error}")
        if result.outcome is not DeliveryOutcome.RETRY:
            return result
        if attempt < _RETRIES.max_attempts:
            wait = max(_RETRIES.wait_before(attempt + 1), result.retry_after or timedelta(0))
            await workflow.sleep(wait)
    return result


@workflow.defn(name=REMINDERS_WORKFLOW)
class ActionItemRemindersWorkflow:
    @workflow.run
    async def run(self) -> int:
        """Remind the owner of every open action item past its due date; returns how
        many items were reminded."""
        today = workflow.now().date()
        reminders = await workflow.execute_activity_method(
            ReportActivities.overdue_action_items,
            ReminderSweep(today=today),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=_READ,
        )
        reminded = 0
        for reminder in reminders:
            if reminder.problem:
                workflow.logger.warning("action item %s: %s", reminder.item_id, reminder.problem)
            results = [await _send(delivery) for delivery in reminder.deliveries]
            if any(r.outcome is DeliveryOutcome.RETRY for r in results):
                continue  # not taken yet: the next run tries again, with the same key
            await workflow.execute_activity_method(
                ReportActivities.action_item_reminded,
                Reminded(item_id=reminder.item_id, due_date=reminder.due_date),
                start_to_close_timeout=timedelta(minutes=1),
                retry_policy=_READ,
            )
            reminded += 1
        return reminded


@workflow.defn(name=DIGEST_WORKFLOW)
class WeeklyDigestWorkflow:
    @workflow.run
    async def run(self) -> str:
        """Send the digest of the last whole week (Monday to Sunday, UTC) before now."""
        today = workflow.now().date()
        week_start = today - timedelta(days=today.weekday() + 7)
        delivery = await workflow.execute_activity_method(
            ReportActivities.weekly_digest,
            DigestRequest(week_start=week_start),
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_READ,
        )
        if delivery is None:
            return f"week of {week_start}: sent already, or no reports channel"
        result = await _send(delivery)
        if result.outcome is DeliveryOutcome.RETRY:
            return f"week of {week_start}: not taken ({result.detail}); the next run tries again"
        await workflow.execute_activity_method(
            ReportActivities.digest_sent,
            Digested(
                key=delivery.notification.idempotency_key,
                channel=delivery.channel,
                detail=f"{result.outcome.value}: {result.detail}",
            ),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=_READ,
        )
        return f"week of {week_start}: {result.outcome.value}"
