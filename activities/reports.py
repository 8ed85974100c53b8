"""Activities of the scheduled reports: overdue action item reminders and the weekly digest.

Each reads the read model and says what to send; the workflow sends it through the
notification activity (with its retries) and then records it here as sent, so a
reminder or a week's digest goes out once however often its Schedule fires.
"""

import logging
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel
from temporalio import activity

from domain.channels import Delivery, Notification, NotificationKind
from domain.durations import format_duration
from domain.measures import Spread, Window
from domain.paging import person
from domain.process import ProcessDefinition
from store.db import Database
from store.incidents import IncidentRepository
from store.processes import ProcessVersionRepository
from store.reports import (
    ActionItemQuery,
    ActionItemView,
    GroupBy,
    ReportFilter,
    ReportRepository,
)

log = logging.getLogger("vagt.reports")


class ReminderSweep(BaseModel):
    today: date
    limit: int = 200


class Reminder(BaseModel):
    """One overdue item's reminder: to its owner, or to the reports channel when the
    owner cannot be reached; no deliveries when nothing can be reached."""

    item_id: int
    due_date: date
    deliveries: list[Delivery]
    problem: str | None = None


class Reminded(BaseModel):
    item_id: int
    due_date: date


class DigestRequest(BaseModel):
    week_start: date  # a Monday: the digest covers that week, Monday to Sunday (UTC)


class Digested(BaseModel):
    key: str
    channel: str
    detail: str


def digest_key(week_start: date) -> str:
    return f"digest-{week_start.isoformat()}"


class ReportActivities:
    def __init__(
        self, database: Database, process: ProcessDefinition, reports_channel: str | None
    ) -> None:
        self._database = database
        self._process = process
        self._channel = reports_channel

    @activity.defn(name="overdue_action_items")
    async def overdue_action_items(self, sweep: ReminderSweep) -> list[Reminder]:
        """The reminders due: open items past their due date, not yet reminded for it."""
        async with self._database.session() as session:
            items = await ReportRepository(session).overdue_unreminded(sweep.today, sweep.limit)
            # The current version of each incident's process: people's contacts as they
            # are now; asked once per process however many items name it.
            processes: dict[str | None, ProcessDefinition] = {}
            reminders = []
            for item in items:
                name = await IncidentRepository(session).process_of(item.incident_id)
                if name not in processes:
                    current = (
                        await ProcessVersionRepository(session).current(name) if name else None
                    )
                    processes[name] = current.definition if current else self._process
                reminders.append(self._reminder(item, processes[name], sweep.today))
        return reminders

    def _reminder(self, item: ActionItemView, process: ProcessDefinition, today: date) -> Reminder:
        late = (today - item.due_date).days
        notification = Notification(
            idempotency_key=f"action-item-{item.id}-overdue-{item.due_date.isoformat()}",
            incident_id=item.incident_id,
            kind=NotificationKind.ACTION_ITEM_OVERDUE,
            title=f"Overdue action item from incident #{item.incident_id}",
            text=f"{item.description}\nOwner: {item.owner}. Due {item.due_date.isoformat()}, "
            f"{late} day{'s' if late != 1 else ''} ago. Mark it done, drop it or move its "
            f"due date: PATCH /api/v1/action-items/{item.id}.",
            recipient=item.owner,
            details={"action_item": item.id, "owner": item.owner, "due_date": str(item.due_date)},
            at=datetime.combine(today, datetime.min.time(), tzinfo=UTC),
        )
        recipients, problem = person(process, item.owner)
        deliveries = [
            Delivery(notification=notification, channel=r.channel, address=r.address, attempt=1)
            for r in recipients
        ]
        if not deliveries and self._channel is not None:
            unreachable = notification.model_copy(
                update={"text": f"{notification.text}\n({problem or 'owner unreachable'})"}
            )
            deliveries = [Delivery(notification=unreachable, channel=self._channel, attempt=1)]
        if not deliveries:
            problem = f"{problem or 'no channel reaches ' + item.owner}; no reports channel is set"
        return Reminder(
            item_id=item.id, due_date=item.due_date, deliveries=deliveries, problem=problem
        )

    @activity.defn(name="action_item_reminded")
    async def action_item_reminded(self, reminded: Reminded) -> None:
        async with self._database.session() as session:
            await ReportRepository(session).mark_reminded(
                reminded.item_id, reminded.due_date, datetime.now(UTC)
            )
            await session.commit()

    @activity.defn(name="weekly_digest")
    async def weekly_digest(self, request: DigestRequest) -> Delivery | None:
        """The week's digest to send, or None when it was sent already or no reports
        channel is set."""
        if self._channel is None:
            log.info("no reports channel (VAGT_REPORTS_CHANNEL): no weekly digest")
            return None
        key = digest_key(request.week_start)
        start = datetime.combine(request.week_start, datetime.min.time(), tzinfo=UTC)
        end = start + timedelta(days=7)
        async with self._database.session() as session:
            reports = ReportRepository(session, self._database)
            if await reports.delivered(key):
                return None
            week = ReportFilter(window=Window(start=start, end=end))
            measured = await reports.measures(week, end, "week")
            recurring = {
                group_by: await reports.recurrence(week, group_by, limit=3) for group_by in GroupBy
            }
            today = end.date()
            overdue = await reports.action_items(ActionItemQuery(overdue=True, limit=10), today)
        breaches = {str(clock): counted.breached for clock, counted in measured.sla.items()}
        lines = [
            f"Incidents declared: {measured.incidents}; closed: {sum(measured.closed.values())}.",
            f"Time to acknowledge: {_spread(measured.time_to_acknowledge)}.",
            f"Time to resolve: {_spread(measured.time_to_resolve)}.",
            "SLA breaches: "
            + ", ".join(f"{clock} {count}" for clock, count in breaches.items())
            + ".",
            f"Reopened: {measured.reopened}.",
        ]
        for group_by, found in recurring.items():
            if found.groups:
                listed = "; ".join(f"{g.key} x{g.count} ({g.trend})" for g in found.groups)
                lines.append(f"Recurring by {group_by.value.replace('_', ' ')}: {listed}.")
        lines.append(f"Overdue action items: {overdue.total}.")
        lines += [
            f"- #{item.incident_id}: {item.description} ({item.owner}, due {item.due_date})"
            for item in overdue.items
        ]
        notification = Notification(
            idempotency_key=key,
            incident_id=None,
            kind=NotificationKind.DIGEST,
            title=f"Vagt weekly digest: week of {request.week_start.isoformat()}",
            text="\n".join(lines),
            details={
                "week_start": request.week_start.isoformat(),
                "incidents": measured.incidents,
                "closed": sum(measured.closed.values()),
                "mtta_seconds": measured.time_to_acknowledge.mean,
                "mttr_seconds": measured.time_to_resolve.mean,
                "breaches": breaches,
                "overdue_action_items": overdue.total,
            },
            at=end,
        )
        return Delivery(notification=notification, channel=self._channel, attempt=1)

    @activity.defn(name="digest_sent")
    async def digest_sent(self, sent: Digested) -> None:
        async with self._database.session() as session:
            await ReportRepository(session).mark_delivered(
                sent.key, sent.channel, sent.detail, datetime.now(UTC)
            )
            await session.commit()


def _spread(spread: Spread) -> str:
    if not spread.count:
        return "none"

    def seconds(value: float | None) -> str:
        return format_duration(timedelta(seconds=round(value or 0)))

    return (
        f"mean {seconds(spread.mean)}, median {seconds(spread.median)}, "
        f"p90 {seconds(spread.p90)} (of {spread.count})"
    )
