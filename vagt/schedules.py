"""The Temporal Schedules that run Vagt's reports: reminders of overdue action items, and
the weekly digest. The worker makes them at start and brings them in line with its
settings; they live in Temporal, so they fire whichever process is up."""

import logging
from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from vagt.settings import Settings
from workflows.reports import DIGEST_WORKFLOW, REMINDERS_WORKFLOW

log = logging.getLogger("vagt.schedules")

REMINDERS_SCHEDULE = "vagt-action-item-reminders"
DIGEST_SCHEDULE = "vagt-weekly-digest"

# Temporal counts days of the week from Sunday = 0.
_WEEKDAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"]


def schedules(settings: Settings) -> dict[str, Schedule]:
    """Each Schedule as the settings want it, by id."""
    # A run still going when the next is due: skip the next (the running one covers it).
    # Missed while Temporal was down: caught up within the window, once.
    reminders = Schedule(
        action=ScheduleActionStartWorkflow(
            REMINDERS_WORKFLOW,
            id=REMINDERS_SCHEDULE,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=6),
        ),
        spec=ScheduleSpec(
            intervals=[
                ScheduleIntervalSpec(every=timedelta(minutes=settings.reminder_every_minutes))
            ]
        ),
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(hours=1)
        ),
    )
    digest = Schedule(
        action=ScheduleActionStartWorkflow(
            DIGEST_WORKFLOW,
            id=DIGEST_SCHEDULE,
            task_queue=settings.task_queue,
            execution_timeout=timedelta(hours=6),
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    second=[ScheduleRange(0)],
                    minute=[ScheduleRange(0)],
                    hour=[ScheduleRange(settings.digest_hour)],
                    day_of_week=[ScheduleRange(_WEEKDAYS.index(settings.digest_weekday))],
                )
            ],
            time_zone_name="UTC",
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=timedelta(days=1)),
    )
    return {REMINDERS_SCHEDULE: reminders, DIGEST_SCHEDULE: digest}


async def ensure_report_schedules(client: Client, settings: Settings) -> None:
    """Create the report Schedules, or bring existing ones in line with `settings`
    (keeping whether an operator paused them)."""
    for schedule_id, wanted in schedules(settings).items():
        try:
            await client.create_schedule(schedule_id, wanted)
            log.info("created schedule %s", schedule_id)
        except ScheduleAlreadyRunningError:

            def update(given: ScheduleUpdateInput, wanted: Schedule = wanted) -> ScheduleUpdate:
                wanted.state = given.description.schedule.state
                return ScheduleUpdate(schedule=wanted)

            await client.get_schedule_handle(schedule_id).update(update)
