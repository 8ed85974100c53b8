"""Figures about the incidents and notifications in the read model, for /metrics.

Each is one aggregate query, so a scrape costs the same however often it comes.
"""

from dataclasses import dataclass

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.channels import DeliveryOutcome
from domain.timeline import EventKind
from store.tables import IncidentRow, TimelineEventRow


@dataclass(frozen=True)
class IncidentTally:
    """How many incidents are in one state at one priority, and how many of them have an
    SLA clock breached or at risk."""

    state: str
    priority: str
    incidents: int
    sla_breached: int
    sla_at_risk: int


async def incident_tallies(session: AsyncSession) -> list[IncidentTally]:
    """One tally per (state, priority) that has any incident."""
    statement = select(
        IncidentRow.state,
        IncidentRow.priority,
        func.count(),
        _count_where(IncidentRow.sla_breached.is_(True)),
        _count_where(IncidentRow.sla_at_risk.is_(True)),
    ).group_by(IncidentRow.state, IncidentRow.priority)
    rows = await session.execute(statement)
    return [IncidentTally(*row) for row in rows]


async def failed_notifications(session: AsyncSession) -> int:
    """Deliveries that gave up: their last attempt was rejected or used the last retry.

    A delivery's last attempt is the one with no `next_attempt_at`; every delivery has
    exactly one, so counting those attempts counts deliveries.
    """
    details = TimelineEventRow.details
    statement = (
        select(func.count())
        .select_from(TimelineEventRow)
        .where(
            TimelineEventRow.kind == str(EventKind.NOTIFICATION_ATTEMPTED),
            # ->> on PostgreSQL and json_extract on SQLite both give SQL NULL for a JSON null.
            details["next_attempt_at"].as_string().is_(None),
            details["outcome"].as_string() != str(DeliveryOutcome.DELIVERED),
        )
    )
    return int(await session.scalar(statement) or 0)


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    # SUM(CASE ...) rather than COUNT(*) FILTER, which older SQLite lacks. Never NULL:
    # each group has at least one row.
    return func.sum(case((condition, 1), else_=0))
