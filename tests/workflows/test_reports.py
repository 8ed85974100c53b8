"""The scheduled reports' workflows on the time-skipping server, and their Schedules on the
dev server.

Temporal's time-skipping test server does not implement Schedules (CreateSchedule is
"unimplemented" there), so the time-dependent parts are shown by running the workflows a
Schedule starts at moments the test server skips to, and the Schedules themselves on the
real dev server: their next fire times, and fires triggered by hand.
"""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta

from temporalio.client import Client, ScheduleOverlapPolicy
from temporalio.testing import WorkflowEnvironment

from domain.incident import Incident
from domain.lifecycle import Step
from domain.process import ProcessDefinition
from domain.requests import (
    AcknowledgeRequest,
    ActionItem,
    ApproveReviewRequest,
    DeclareRequest,
    ResolveRequest,
    SubmitReviewRequest,
)
from store.db import Database
from store.reports import ActionItemChange, ReportRepository
from tests.domain.builders import ALICE, OLIVE
from tests.store.test_reports import project
from tests.temporal_fixtures import Receiver
from vagt.schedules import DIGEST_SCHEDULE, REMINDERS_SCHEDULE, ensure_report_schedules
from vagt.settings import Settings
from worker import build_worker
from workflows.reports import ActionItemRemindersWorkflow, WeeklyDigestWorkflow

DAY = timedelta(days=1)
# bob is reached on the `ops` channel; nobody else has a contact.
PROCESS = ProcessDefinition.model_validate(
    {"name": "ops", "people": {"bob": {"notify": [{"channel": "ops"}]}}}
)


def closed_with_items(number: int, at: datetime, *items: ActionItem) -> Incident:
    request = DeclareRequest(title=f"#{number} disk full", impact=3, urgency=3)
    incident = Incident.declare(number, request, ALICE, at, PROCESS)
    incident.apply(Step.ACKNOWLEDGE, AcknowledgeRequest(), ALICE, at + timedelta(minutes=5))
    resolved = ResolveRequest(summary="Freed space", root_cause_category="capacity")
    incident.apply(Step.RESOLVE, resolved, ALICE, at + timedelta(hours=1))
    review = SubmitReviewRequest(root_cause="Logs", action_items=list(items))
    incident.apply(Step.SUBMIT_REVIEW, review, ALICE, at + timedelta(hours=2))
    incident.apply(Step.APPROVE_REVIEW, ApproveReviewRequest(), OLIVE, at + timedelta(hours=3))
    return incident


@asynccontextmanager
async def worker(
    client: Client, database: Database, receiver: Receiver, channel: str | None = "desk"
) -> AsyncIterator[Settings]:
    settings = Settings(
        task_queue=f"vagt-test-{uuid.uuid4()}", workflow_sandbox=True, reports_channel=channel
    )
    async with build_worker(client, settings, database, receiver.deliver, PROCESS):
        yield settings


# Waiting on a result lets the test server skip time, and once the run has ended it skips
# to the run's timeout (ten years on): tests that read the date wait without skipping.


async def sweep(env: WorkflowEnvironment, settings: Settings, *, skipping: bool = False) -> int:
    with contextlib.nullcontext() if skipping else env.auto_time_skipping_disabled():
        reminded: int = await env.client.execute_workflow(
            ActionItemRemindersWorkflow.run,
            id=f"reminders-{uuid.uuid4()}",
            task_queue=settings.task_queue,
        )
    return reminded


async def digest(env: WorkflowEnvironment, settings: Settings) -> str:
    with env.auto_time_skipping_disabled():
        said: str = await env.client.execute_workflow(
            WeeklyDigestWorkflow.run, id=f"digest-{uuid.uuid4()}", task_queue=settings.task_queue
        )
    return said


class TestReminders:
    async def test_an_overdue_item_is_reminded_once_per_due_date(
        self, own_time_skipping: WorkflowEnvironment, sqlite_database: Database
    ) -> None:
        env, receiver = own_time_skipping, Receiver()
        now = await env.get_current_time()
        tomorrow = now.astimezone(UTC).date() + DAY
        item = ActionItem(description="Rotate logs", owner="bob", due_date=tomorrow)
        await project(sqlite_database, [closed_with_items(1, now - DAY, item)])

        async with worker(env.client, sqlite_database, receiver) as settings:
            assert await sweep(env, settings) == 0  # due tomorrow: not late yet
            await env.sleep(2 * DAY)
            assert await sweep(env, settings) == 1
            assert await sweep(env, settings) == 0  # once
            await env.sleep(DAY)
            assert await sweep(env, settings) == 0  # still once, a day later

            # Moved to a later date that passes again: a new reminder, for that date.
            async with sqlite_database.session() as session:
                await ReportRepository(session).change_action_item(
                    1, ActionItemChange(due_date=tomorrow + 3 * DAY), "bob", now
                )
                await session.commit()
            await env.sleep(3 * DAY)
            assert await sweep(env, settings) == 1

        assert receiver.keys() == [
            f"action-item-1-overdue-{tomorrow}",
            f"action-item-1-overdue-{tomorrow + 3 * DAY}",
        ]
        first = receiver.deliveries[0]
        assert (first.channel, first.notification.recipient) == ("ops", "bob")
        assert "Rotate logs" in first.notification.text
        assert "PATCH /api/v1/action-items/1" in first.notification.text

    async def test_an_owner_without_a_contact_is_reminded_through_the_reports_channel(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database
    ) -> None:
        receiver = Receiver()
        now = await time_skipping.get_current_time()
        item = ActionItem(description="Add a canary", owner="zoe", due_date=date(2025, 1, 1))
        await project(sqlite_database, [closed_with_items(1, now - DAY, item)])

        async with worker(time_skipping.client, sqlite_database, receiver) as settings:
            assert await sweep(time_skipping, settings) == 1

        [delivery] = receiver.deliveries
        assert delivery.channel == "desk"
        assert "zoe has no contact methods" in delivery.notification.text

    async def test_a_reminder_not_taken_is_sent_again_with_the_same_key(
        self, own_time_skipping: WorkflowEnvironment, sqlite_database: Database
    ) -> None:
        # Its own server: it waits out the back-off between attempts, which the shared
        # server skips only when no earlier test's workflow waits on a worker.
        time_skipping = own_time_skipping
        from domain.channels import DeliveryOutcome, DeliveryResult

        receiver = Receiver()
        receiver.script = [
            DeliveryResult(outcome=DeliveryOutcome.RETRY, status_code=503, detail="busy")
        ] * 8  # every attempt of the first run
        now = await time_skipping.get_current_time()
        item = ActionItem(description="Rotate logs", owner="bob", due_date=date(2025, 1, 1))
        await project(sqlite_database, [closed_with_items(1, now - DAY, item)])

        async with worker(time_skipping.client, sqlite_database, receiver) as settings:
            assert await sweep(time_skipping, settings, skipping=True) == 0
            assert await sweep(time_skipping, settings) == 1
            assert await sweep(time_skipping, settings) == 0

        assert set(receiver.keys()) == {"action-item-1-overdue-2025-01-01"}
        assert len(receiver.deliveries) == 9


class TestDigest:
    async def test_one_digest_per_week_with_the_weeks_figures(
        self, own_time_skipping: WorkflowEnvironment, sqlite_database: Database
    ) -> None:
        env, receiver = own_time_skipping, Receiver()
        now = (await env.get_current_time()).astimezone(UTC)
        this_monday = now.date() - timedelta(days=now.weekday())
        last_week = datetime.combine(this_monday - 7 * DAY, datetime.min.time(), tzinfo=UTC)
        late = ActionItem(description="Rotate logs", owner="bob", due_date=date(2025, 1, 1))
        await project(sqlite_database, [closed_with_items(1, last_week + DAY, late)])

        async with worker(env.client, sqlite_database, receiver) as settings:
            first = await digest(env, settings)
            again = await digest(env, settings)  # the same week: nothing more
            await env.sleep(7 * DAY)
            next_week = await digest(env, settings)

        assert first == f"week of {last_week.date()}: delivered"
        assert again == f"week of {last_week.date()}: sent already, or no reports channel"
        assert next_week == f"week of {this_monday}: delivered"
        assert receiver.keys() == [f"digest-{last_week.date()}", f"digest-{this_monday}"]
        sent = receiver.deliveries[0]
        assert sent.channel == "desk"
        details = sent.notification.details
        assert (details["incidents"], details["closed"], details["overdue_action_items"]) == (
            1,
            1,
            1,
        )
        assert details["mtta_seconds"] == 300
        assert details["mttr_seconds"] == 3_600
        assert "Rotate logs (bob, due 2025-01-01)" in sent.notification.text
        assert receiver.deliveries[1].notification.details["incidents"] == 0

    async def test_no_reports_channel_no_digest(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database
    ) -> None:
        receiver = Receiver()
        async with worker(time_skipping.client, sqlite_database, receiver, None) as settings:
            said = await digest(time_skipping, settings)

        assert said.endswith("sent already, or no reports channel")
        assert receiver.deliveries == []


class TestSchedules:
    async def test_the_schedules_fire_weekly_and_hourly_and_send_once(
        self, own_dev_server: WorkflowEnvironment, sqlite_database: Database
    ) -> None:
        client, receiver = own_dev_server.client, Receiver()
        now = datetime.now(UTC)
        item = ActionItem(description="Rotate logs", owner="bob", due_date=date(2025, 1, 1))
        await project(sqlite_database, [closed_with_items(1, now - 2 * DAY, item)])

        async with worker(client, sqlite_database, receiver) as settings:
            await ensure_report_schedules(client, settings)
            await ensure_report_schedules(client, settings)  # a second start changes nothing
            digest_handle = client.get_schedule_handle(DIGEST_SCHEDULE)
            reminders_handle = client.get_schedule_handle(REMINDERS_SCHEDULE)
            upcoming = (await digest_handle.describe()).info.next_action_times[:3]
            every = (await reminders_handle.describe()).info.next_action_times[:2]

            for handle in (digest_handle, reminders_handle) * 2:
                await handle.trigger(overlap=ScheduleOverlapPolicy.ALLOW_ALL)
                await finished(handle, client)

        assert [t.astimezone(UTC).weekday() for t in upcoming] == [0, 0, 0]  # Mondays
        assert {(t.hour, t.minute) for t in upcoming} == {(8, 0)}
        assert upcoming[1] - upcoming[0] == timedelta(days=7)
        assert every[1] - every[0] == timedelta(hours=1)
        keys = receiver.keys()
        assert keys.count("action-item-1-overdue-2025-01-01") == 1
        assert len([k for k in keys if k.startswith("digest-")]) == 1


async def finished(handle: object, client: Client) -> None:
    """Wait until every run the schedule started has ended."""
    from temporalio.client import ScheduleHandle

    assert isinstance(handle, ScheduleHandle)
    for _ in range(400):
        recent = (await handle.describe()).info.recent_actions
        ids = [a.action.workflow_id for a in recent if hasattr(a.action, "workflow_id")]
        if ids:
            descriptions = [await client.get_workflow_handle(i).describe() for i in ids]
            if all(d.close_time is not None for d in descriptions):
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the schedule's runs did not finish")
