"""Reports over the read model: measures, recurrence, and review action items.

The projection keeps one narrow `incident_facts` row per incident (domain.measures'
IncidentFacts) and the action items of approved reviews; every report is a few
aggregate queries over those, so it costs the same whatever the snapshots weigh.
domain.measures.measure is the definition these queries are tested against.
"""

import asyncio
import builtins
import functools
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from domain.incident import Incident
from domain.lifecycle import IncidentState
from domain.measures import (
    Compliance,
    IncidentFacts,
    Measures,
    Period,
    Spread,
    StateTime,
    Window,
    facts,
    period_start,
    ranks,
    spread,
)
from domain.priority import Priority
from domain.sla import ClockName, ClockState
from domain.timeline import EventKind, TimelineEvent
from store.db import Database
from store.tables import (
    ActionItemRow,
    IncidentFactsRow,
    IncidentRow,
    ReportDayRow,
    ReportDeliveryRow,
)

# Events that change nothing a report reads: a projection made only of these leaves
# the incident's facts as they are.
_NOT_FACTS = frozenset(
    {
        EventKind.NOTE_ADDED,
        EventKind.ASSIGNED,
        EventKind.ESCALATED,
        EventKind.PAGED,
        EventKind.SLA_WARNING,
        EventKind.NOTIFICATION_ATTEMPTED,
        EventKind.ALERTS_RECEIVED,
        EventKind.SOURCE_STEP_IGNORED,
    }
)

_STATE_COLUMNS: dict[IncidentState, InstrumentedAttribute[float | None]] = {
    IncidentState.DETECTED: IncidentFactsRow.detected_seconds,
    IncidentState.TRIAGED: IncidentFactsRow.triaged_seconds,
    IncidentState.ACKNOWLEDGED: IncidentFactsRow.acknowledged_seconds,
    IncidentState.ON_HOLD: IncidentFactsRow.on_hold_seconds,
    IncidentState.RESOLVED: IncidentFactsRow.resolved_seconds,
    IncidentState.IN_REVIEW: IncidentFactsRow.in_review_seconds,
}
_CLOCK_COLUMNS: dict[ClockName, InstrumentedAttribute[str | None]] = {
    ClockName.ACKNOWLEDGE: IncidentFactsRow.acknowledge_clock,
    ClockName.RESOLVE: IncidentFactsRow.resolve_clock,
    ClockName.REVIEW: IncidentFactsRow.review_clock,
}


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


# --- the projection's part -------------------------------------------------------


def changes_facts(events: Sequence[TimelineEvent]) -> bool:
    """Whether a projection of `events` may change what the reports read."""
    return any(event.kind not in _NOT_FACTS for event in events)


def facts_row(found: IncidentFacts) -> dict[str, Any]:
    declared_day = found.declared_at.astimezone(UTC).date()
    closed_day = found.closed_at.astimezone(UTC).date() if found.closed_at else None
    row: dict[str, Any] = {
        "incident_id": found.incident_id,
        "priority": str(found.priority),
        "service": found.service,
        "category": found.category,
        "integration": found.integration,
        "dedup_key": found.dedup_key,
        "root_cause_category": found.root_cause_category,
        "declared_at": found.declared_at,
        "declared_day": declared_day,
        "closed_at": found.closed_at,
        "closed_day": closed_day,
        "acknowledge_seconds": _seconds(found.time_to_acknowledge),
        "resolve_seconds": _seconds(found.time_to_resolve),
        "reopened": found.reopened,
        "reviewed": found.reviewed,
        "state": str(found.state),
        "state_since": _epoch(found.state_since),
    }
    for state, column in _STATE_COLUMNS.items():
        row[column.key] = found.in_state.get(state)
    for name, clock in _CLOCK_COLUMNS.items():
        clock_state = found.clocks.get(name)
        row[clock.key] = str(clock_state) if clock_state is not None else None
    return row


def _seconds(duration: timedelta | None) -> float | None:
    return duration.total_seconds() if duration is not None else None


@functools.cache
def _statements(dialect: str) -> tuple[Any, Any]:
    """The facts' upsert (the higher version wins, as for the incident) and the action
    items' insert (once per approval and item), for `dialect`."""
    dml: Any = postgresql if dialect == "postgresql" else sqlite
    facts_upsert = dml.insert(IncidentFactsRow)
    facts_upsert = facts_upsert.on_conflict_do_update(
        index_elements=[IncidentFactsRow.incident_id],
        set_={
            column.name: facts_upsert.excluded[column.name]
            for column in IncidentFactsRow.__table__.columns
            if column.name != "incident_id"
        },
        where=tuple_(IncidentFactsRow.version, IncidentFactsRow.history_length)
        < tuple_(facts_upsert.excluded.version, facts_upsert.excluded.history_length),
    )
    items_insert = dml.insert(ActionItemRow).on_conflict_do_nothing(
        index_elements=["incident_id", "review_seq", "position"]
    )
    return facts_upsert, items_insert


# The day sums' columns: counts, then sums of seconds.
DAY_COUNTS = [
    "incidents",
    "closed",
    "acknowledged",
    "resolved",
    "reopened",
    *(f"{state}_stays" for state in _STATE_COLUMNS),
    *(f"{clock}_{n}" for clock in _CLOCK_COLUMNS for n in ("met", "breached", "clocks")),
]
DAY_SECONDS = [
    "acknowledge_seconds",
    "resolve_seconds",
    *(f"{state}_seconds" for state in _STATE_COLUMNS),
]
DaySums = dict[str, float]
# Another advisory lock class than the migrations', beside the incident's number.
_FACTS_LOCK = 0x7661
_LOCK_EACH = text(
    "SELECT pg_advisory_xact_lock(:kind, number) FROM unnest(CAST(:numbers AS integer[])) AS number"
)


def declared_part(row: Mapping[str, Any]) -> DaySums:
    """What one incident's facts add to the sums of its declaration's day."""
    part: DaySums = {"incidents": 1, "reopened": 1 if row["reopened"] else 0}
    for count, seconds in (
        ("acknowledged", "acknowledge_seconds"),
        ("resolved", "resolve_seconds"),
    ):
        if row[seconds] is not None:
            part[count], part[seconds] = 1, row[seconds]
    for state, column in _STATE_COLUMNS.items():
        if row[column.key] is not None:
            part[f"{state}_stays"], part[f"{state}_seconds"] = 1, row[column.key]
    for clock, clock_column in _CLOCK_COLUMNS.items():
        value = row[clock_column.key]
        if value is not None:
            part[f"{clock}_clocks"] = 1
            if value in (ClockState.MET.value, ClockState.BREACHED.value):
                part[f"{clock}_{'met' if value == ClockState.MET.value else 'breached'}"] = 1
    return part


def day_changes(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> dict[tuple[date, str], DaySums]:
    """What replacing an incident's facts `old` with `new` changes in the day sums, by
    (day, priority): its declaration's day, and its closing's day."""
    changes: dict[tuple[date, str], DaySums] = {}
    for row, sign in ((old, -1), (new, 1)):
        if row is None:
            continue
        parts = [((row["declared_day"], row["priority"]), declared_part(row))]
        if row["closed_day"] is not None:
            parts.append(((row["closed_day"], row["priority"]), {"closed": 1}))
        for key, part in parts:
            sums = changes.setdefault(key, {})
            for name, value in part.items():
                sums[name] = sums.get(name, 0) + sign * value
    return {
        key: sums for key, sums in changes.items() if any(value != 0 for value in sums.values())
    }


def day_row(day: date, priority: str, sums: DaySums) -> dict[str, Any]:
    return {
        "day": day,
        "priority": priority,
        **{name: int(sums.get(name, 0)) for name in DAY_COUNTS},
        **{name: float(sums.get(name, 0.0)) for name in DAY_SECONDS},
    }


@functools.cache
def _days_upsert(dialect: str) -> Any:
    """Adds to a day's sums, or starts them."""
    dml: Any = postgresql if dialect == "postgresql" else sqlite
    upsert = dml.insert(ReportDayRow)
    return upsert.on_conflict_do_update(
        index_elements=[ReportDayRow.day, ReportDayRow.priority],
        set_={
            name: getattr(ReportDayRow, name) + upsert.excluded[name]
            for name in (*DAY_COUNTS, *DAY_SECONDS)
        },
    )


# An incident as projected: itself, the events new to the read model, and its
# workflow's history length then.
Projection = tuple[Incident, Sequence[TimelineEvent], int]


# Built once: building a statement costs more than SQLAlchemy's cached compilation of it.
_FACTS_OF = select(*IncidentFactsRow.__table__.columns).where(
    IncidentFactsRow.incident_id.in_(bindparam("numbers", expanding=True))
)


def write_facts(connection: Connection, projections: Sequence[Projection]) -> None:
    """Keep the facts of the projected incidents, their day sums, and approved reviews'
    action items; in the projection's transaction, as idempotent as the rest of it.

    A few statements for the lot: the facts they replace read at once; which
    projection wins decided here, in order, as the facts' upsert decides it (the higher
    version and history length); the day sums moved by the winners' differences.
    """
    changing = [p for p in projections if changes_facts(p[1])]
    if not changing:
        return
    dialect = connection.dialect.name
    facts_upsert, items_insert = _statements(dialect)
    numbers = sorted({incident.id for incident, _, _ in changing})
    if dialect == "postgresql":
        # The day sums move by the difference from the facts read here: two writers of
        # one incident's facts (a late attempt of a workflow task beside the next) take
        # turns, in number order so two batches cannot wait on each other. SQLite has
        # one writer at a time already.
        connection.execute(_LOCK_EACH, {"kind": _FACTS_LOCK, "numbers": numbers})
    rows = connection.execute(_FACTS_OF, {"numbers": numbers})
    current: dict[int, dict[str, Any]] = {row["incident_id"]: dict(row) for row in rows.mappings()}
    written: dict[int, dict[str, Any]] = {}
    days: dict[tuple[date, str], DaySums] = {}
    items: list[dict[str, Any]] = []
    for incident, events, history_length in changing:
        old = current.get(incident.id)
        new = facts_row(facts(incident)) | {
            "version": incident.seq,
            "history_length": history_length,
        }
        if old is not None and (new["version"], new["history_length"]) <= (
            old["version"],
            old["history_length"],
        ):
            continue  # an older projection arriving late
        for key, change in day_changes(old, new).items():
            into = days.setdefault(key, {})
            for name, value in change.items():
                into[name] = into.get(name, 0) + value
        current[incident.id] = written[incident.id] = new
        items += approved_items(incident, events)
    if written:
        connection.execute(facts_upsert, list(written.values()))
    changed = [
        day_row(day, priority, sums)
        for (day, priority), sums in days.items()
        if any(value != 0 for value in sums.values())
    ]
    if changed:
        connection.execute(_days_upsert(dialect), changed)
    if items:
        connection.execute(items_insert, items)


def approved_items(incident: Incident, events: Sequence[TimelineEvent]) -> list[dict[str, Any]]:
    """The rows of the action items of a review approved among `events`."""
    approvals = [e for e in events if e.kind is EventKind.REVIEW_APPROVED]
    review = incident.review
    if not approvals or review is None or not review.action_items:
        return []
    # Approval closes the incident for good: the review it holds is the approved one.
    approval = approvals[-1]
    return [
        {
            "incident_id": incident.id,
            "review_seq": approval.seq,
            "position": position,
            "description": item.description,
            "owner": item.owner,
            "due_date": item.due_date,
            "state": ActionState.OPEN.value,
            "note": None,
            "created_at": approval.at,
            "updated_at": approval.at,
            "updated_by": approval.actor,
            "finished_at": None,
            "reminded_for": None,
            "reminded_at": None,
        }
        for position, item in enumerate(review.action_items)
    ]


# --- filters ---------------------------------------------------------------------


class ReportFilter(BaseModel):
    """Which incidents a report covers: declared in the window, and of these."""

    window: Window
    priorities: list[Priority] = []
    services: list[str] = []
    categories: list[str] = []
    integrations: list[str] = []


def _filter(
    report: ReportFilter, *, declared: bool = True, days: bool = False
) -> list[ColumnElement[bool]]:
    """The report's incidents (or, not `declared`, its closings). With `days`, the
    period is also given in days, so the per-day index's leading column serves it."""
    conditions: list[ColumnElement[bool]] = []
    moment = IncidentFactsRow.declared_at if declared else IncidentFactsRow.closed_at
    day = IncidentFactsRow.declared_day if declared else IncidentFactsRow.closed_day
    start, end = report.window.start, report.window.end
    if start is not None:
        conditions.append(moment >= start)
        if days:
            conditions.append(day >= start.astimezone(UTC).date())
    if end is not None:
        conditions.append(moment < end)
        if days:
            conditions.append(day <= end.astimezone(UTC).date())
    if not declared:
        conditions.append(IncidentFactsRow.closed_at.is_not(None))
    if report.priorities:
        conditions.append(IncidentFactsRow.priority.in_([str(p) for p in report.priorities]))
    if report.services:
        conditions.append(IncidentFactsRow.service.in_(report.services))
    if report.categories:
        conditions.append(IncidentFactsRow.category.in_(report.categories))
    if report.integrations:
        conditions.append(IncidentFactsRow.integration.in_(report.integrations))
    return conditions


# --- recurrence ------------------------------------------------------------------


class GroupBy(StrEnum):
    DEDUP_KEY = "dedup_key"
    SERVICE = "service"
    ROOT_CAUSE = "root_cause_category"


class Trend(StrEnum):
    NEW = "new"  # none in the period before
    RISING = "rising"
    STEADY = "steady"
    FALLING = "falling"


class RecurringIncident(BaseModel):
    id: int
    title: str
    state: IncidentState
    priority: Priority
    declared_at: datetime
    reviewed: bool
    url: str
    console_url: str
    review_url: str | None = Field(description="The approved review, on the console.")


class RecurringGroup(BaseModel):
    """Incidents with one dedup key, service or root-cause category."""

    key: str
    integration: str | None = Field(
        default=None, description="For dedup keys: the integration the key belongs to."
    )
    count: int
    previous_count: int = Field(
        description="Of the same group in the period of the same length just before."
    )
    trend: Trend
    first_declared_at: datetime
    last_declared_at: datetime
    incidents: list[RecurringIncident] = Field(description="The latest few, newest first.")


class Recurrence(BaseModel):
    group_by: GroupBy
    start: datetime
    end: datetime
    min_count: int
    groups: list[RecurringGroup]


# --- action items ----------------------------------------------------------------


class ActionState(StrEnum):
    OPEN = "open"
    DONE = "done"
    DROPPED = "dropped"


class ActionItemView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    description: str
    owner: str
    due_date: date
    state: ActionState
    overdue: bool = False
    note: str | None
    created_at: datetime
    updated_at: datetime
    updated_by: str
    finished_at: datetime | None
    reminded_at: datetime | None


class ActionItemQuery(BaseModel):
    states: list[ActionState] = []
    overdue: bool | None = None
    owner: str | None = None
    incident_id: int | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class ActionItemPage(BaseModel):
    items: list[ActionItemView]
    total: int
    limit: int
    offset: int


class OwnerCounts(BaseModel):
    owner: str
    open: int = 0
    overdue: int = Field(default=0, description="Of the open ones, those past their due date.")
    done: int = 0
    dropped: int = 0


class ActionItemChange(BaseModel):
    """What a PATCH may change; what it leaves out stays."""

    model_config = ConfigDict(extra="forbid")

    state: ActionState | None = None
    note: str | None = Field(
        default=None, max_length=10_000, description="What was done, or why not; null clears it."
    )
    owner: str | None = Field(default=None, min_length=1, max_length=100)
    due_date: date | None = None

    @model_validator(mode="after")
    def _no_null_but_note(self) -> "ActionItemChange":
        for name in ("state", "owner", "due_date"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null: leave it out to keep it as it is")
        return self


class ReportRepository:
    """Reads the reports and keeps action items, in the caller's session; the caller
    commits."""

    def __init__(self, session: AsyncSession, database: Database | None = None) -> None:
        self._session = session
        # Given, a report's independent queries run at once, each in a session of its own.
        self._database = database

    # --- measures

    async def measures(self, report: ReportFilter, now: datetime, period: Period) -> Measures:
        """Every measure of domain.measures over the report's incidents, as of `now`.

        A handful of queries, each over one index or one pass of the narrow facts: the
        sums and counts in one pass, the current stays per state over the open
        incidents, each median and 90th percentile picked by rank, and openings and
        closings per day along the per-day indexes (weeks are added up here). Those
        that do not wait for another's answer run together (see `_together`).
        """
        conditions = await self._conditions(self._session, report)
        facts_row = IncidentFactsRow
        sums, current, opened, closed = await self._together(
            lambda session: self._sums(session, report, conditions),
            lambda session: self._current_stays(session, conditions, now),
            lambda session: self._per(session, report, period, declared=True),
            lambda session: self._per(session, report, period, declared=False),
        )
        incidents = int(sums.get("incidents", 0))
        ack_n, ack_sum = int(sums.get("acknowledged", 0)), sums.get("acknowledge_seconds", 0.0)
        resolve_n, resolve_sum = int(sums.get("resolved", 0)), sums.get("resolve_seconds", 0.0)
        reopened = int(sums.get("reopened", 0))
        # Seconds over ended stays, and how many incidents had one, per state.
        ended = {
            state: (int(sums.get(f"{state}_stays", 0)), float(sums.get(f"{state}_seconds", 0.0)))
            for state in _STATE_COLUMNS
        }
        sla: dict[ClockName, Compliance] = {}
        for name in _CLOCK_COLUMNS:
            met, breached = int(sums.get(f"{name}_met", 0)), int(sums.get(f"{name}_breached", 0))
            running = int(sums.get(f"{name}_clocks", 0)) - met - breached
            sla[name] = Compliance(met=met, breached=breached, open=running)
        states: dict[IncidentState, StateTime] = {}
        for state, (count, total) in ended.items():
            first, seconds = current.get(state, (0, 0.0))
            # In the state now: counted already if it had an earlier stay there.
            count, total = count + first, total + seconds
            states[state] = StateTime(
                incidents=count, total=total, mean=total / count if count else None
            )
        hold = states[IncidentState.ON_HOLD]
        acknowledge, resolve, held = await self._together(
            lambda session: self._spread(
                session, conditions, facts_row.acknowledge_seconds, ack_n, ack_sum
            ),
            lambda session: self._spread(
                session, conditions, facts_row.resolve_seconds, resolve_n, resolve_sum
            ),
            lambda session: self._hold_spread(session, conditions, now, hold.incidents, hold.total),
        )
        return Measures(
            incidents=incidents,
            time_to_acknowledge=acknowledge,
            time_to_resolve=resolve,
            sla=sla,
            in_state=states,
            hold=held,
            reopened=reopened,
            opened=opened,
            closed=closed,
        )

    async def _together(self, *calls: Callable[[AsyncSession], Awaitable[Any]]) -> list[Any]:
        """Each call's answer: one after another in this session, or, given the
        database, each in a session of its own at the same time (a report's queries
        do not depend on each other, and the database serves them on every core)."""
        if self._database is None:
            return [await call(self._session) for call in calls]
        database = self._database

        async def alone(call: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
            async with database.session() as session:
                return await call(session)

        return list(await asyncio.gather(*(alone(call) for call in calls)))

    async def _sums(
        self,
        session: AsyncSession,
        report: ReportFilter,
        conditions: list[ColumnElement[bool]],
    ) -> DaySums:
        """The counts and sums: the whole days of the period from the day sums, when no
        filter but priority needs each incident; the rest from the facts, in one pass."""
        whole, edges = _whole_days(report)
        if whole is None:
            return await _facts_sums(session, conditions)
        found = await _day_sums(session, whole, report.priorities)
        for edge in edges:
            for name, value in (await _facts_sums(session, _filter(edge, days=True))).items():
                found[name] = found.get(name, 0) + value
        return found

    async def _conditions(
        self, session: AsyncSession, report: ReportFilter
    ) -> list[ColumnElement[bool]]:
        """The report's conditions, spelled for the plan that reads the least.

        PostgreSQL picks the plan from its statistics. SQLite keeps none unless told
        to, and would read a period that holds most incidents through the per-day
        index, fetching each row by its key: slower than reading the table straight
        through. So the period's size is asked of that index first (a count from the
        index alone), and the index is offered only for a period that holds under a
        quarter of the incidents.
        """
        if session.get_bind().dialect.name != "sqlite":
            return _filter(report, days=True)
        within = await session.scalar(
            select(func.count()).select_from(IncidentFactsRow).where(*_filter(report, days=True))
        )
        everything = await session.scalar(select(func.count()).select_from(IncidentFactsRow))
        return _filter(report, days=(within or 0) * 4 < (everything or 0))

    async def _current_stays(
        self, session: AsyncSession, conditions: list[ColumnElement[bool]], now: datetime
    ) -> dict[IncidentState, tuple[int, float]]:
        """Per state, over the open incidents in it: how many had no earlier stay there,
        and the seconds of their current stays up to `now`."""
        facts_row = IncidentFactsRow
        earlier = case(
            *((facts_row.state == state.value, column) for state, column in _STATE_COLUMNS.items())
        )
        rows = await session.execute(
            select(
                facts_row.state,
                func.count(),
                func.count(earlier),
                func.sum(facts_row.state_since),
            )
            .where(*conditions, facts_row.state != IncidentState.CLOSED.value)
            .group_by(facts_row.state)
        )
        found: dict[IncidentState, tuple[int, float]] = {}
        for state, count, with_earlier, since in rows.all():
            # The same sum as each incident's max(now - since, 0) unless a stay began
            # after `now` (a clock ahead of this one): never below nothing.
            seconds = max(count * _epoch(now) - float(since or 0.0), 0.0)
            found[IncidentState(state)] = (count - with_earlier, seconds)
        return found

    async def _spread(
        self,
        session: AsyncSession,
        conditions: list[ColumnElement[bool]],
        value: InstrumentedAttribute[float | None],
        count: int,
        total: float | None,
    ) -> Spread:
        """Mean, median and 90th percentile of a measure: picked by rank in one sort by
        PostgreSQL, or walked to in SQLite along the measure's own index (its order, so
        nothing is sorted)."""
        if not count:
            return Spread(count=0, mean=None, median=None, p90=None)
        mean = float(total or 0.0) / count
        values = select(value).where(*conditions, value.is_not(None))
        if session.get_bind().dialect.name == "postgresql":
            # One sort in the server: percentile_disc(f) is the value at rank ceil(f * n),
            # and (rank - 0.5) / n lands on exactly that rank, whatever floating point does.
            low, high, p90 = ranks(count)
            fractions = postgresql.array([(rank - 0.5) / count for rank in (low, high, p90)])
            picked = await session.scalar(
                select(func.percentile_disc(fractions).within_group(value)).where(
                    *conditions, value.is_not(None)
                )
            )
            if picked is None:  # none left (another session's snapshot counted them)
                return Spread(count=0, mean=None, median=None, p90=None)
            at_low, at_high, top = (float(v) for v in picked)
            return Spread(count=count, mean=mean, median=(at_low + at_high) / 2, p90=top)
        # SQLite: the measure's index walked to each rank. Counted in another session, the
        # values may have changed since (a reopening takes a resolution away): a walk
        # that runs out counts again here and walks again.
        for _ in range(3):
            low, high, p90 = ranks(count)
            ordered = values.order_by(value)
            middle = [
                float(v)
                for v in (await session.scalars(ordered.offset(low - 1).limit(2))).all()
                if v is not None
            ]
            top = await session.scalar(ordered.offset(p90 - 1).limit(1))
            if middle and top is not None and len(middle) > high - low:
                return Spread(
                    count=count,
                    mean=mean,
                    median=(middle[0] + middle[high - low]) / 2,
                    p90=float(top),
                )
            count = await session.scalar(select(func.count()).select_from(values.subquery())) or 0
            if not count:
                return Spread(count=0, mean=None, median=None, p90=None)
        raise RuntimeError("the measure's values kept changing while being ranked")

    async def _hold_spread(
        self,
        session: AsyncSession,
        conditions: list[ColumnElement[bool]],
        now: datetime,
        count: int,
        total: float,
    ) -> Spread:
        """Time on hold, up to `now` for those on hold now: few incidents, sorted here."""
        if not count:
            return Spread(count=0, mean=None, median=None, p90=None)
        facts_row = IncidentFactsRow
        on_hold = facts_row.state == IncidentState.ON_HOLD.value
        # Spelled as the partial index's condition, so that the index serves it.
        held = text("(on_hold_seconds IS NOT NULL OR state = 'on_hold')")
        rows = await session.execute(
            select(facts_row.on_hold_seconds, on_hold, facts_row.state_since).where(
                *conditions, held
            )
        )
        seconds = [
            (held or 0.0) + (max(_epoch(now) - since, 0.0) if holding else 0.0)
            for held, holding, since in rows.all()
        ]
        return spread(seconds)

    async def _per(
        self, session: AsyncSession, report: ReportFilter, period: Period, *, declared: bool
    ) -> dict[date, int]:
        """Openings (or closings) per day: whole days from the day sums where they serve,
        the rest along the per-day index; weeks added up here."""
        whole, edges = _whole_days(report)
        per_day: list[tuple[date, int]] = []
        parts = [report] if whole is None else edges
        for part in parts:
            per_day += await _facts_per_day(session, part, declared=declared)
        if whole is not None:
            count = ReportDayRow.incidents if declared else ReportDayRow.closed
            rows = await session.execute(
                select(ReportDayRow.day, func.sum(count))
                .where(*_day_conditions(whole, report.priorities), count > 0)
                .group_by(ReportDayRow.day)
            )
            per_day += [(day, int(total)) for day, total in rows.all() if total]
        counts: dict[date, int] = {}
        for day, count_ in sorted(per_day):
            start = period_start(day, period)
            counts[start] = counts.get(start, 0) + count_
        return counts

    # --- recurrence

    async def recurrence(
        self,
        report: ReportFilter,
        group_by: GroupBy,
        *,
        limit: int = 10,
        min_count: int = 2,
        incidents_each: int = 10,
    ) -> Recurrence:
        start, end = report.window.start, report.window.end
        assert start is not None and end is not None  # the API always bounds a recurrence
        keys = _group_columns(group_by)
        conditions = [*_filter(report), *(key.is_not(None) for key in keys)]
        counted = (
            await self._session.execute(
                select(
                    *keys,
                    func.count().label("count"),
                    func.min(IncidentFactsRow.declared_at),
                    func.max(IncidentFactsRow.declared_at),
                )
                .where(*conditions)
                .group_by(*keys)
                .having(func.count() >= min_count)
                .order_by(func.count().desc(), func.max(IncidentFactsRow.declared_at).desc())
                .limit(limit)
            )
        ).all()
        if not counted:
            return Recurrence(
                group_by=group_by, start=start, end=end, min_count=min_count, groups=[]
            )
        found_keys = [tuple(row[: len(keys)]) for row in counted]
        before = report.model_copy(
            update={"window": Window(start=start - (end - start), end=start)}
        )
        previous = dict(
            (tuple(row[: len(keys)]), row[-1])
            for row in (
                await self._session.execute(
                    select(*keys, func.count())
                    .where(*_filter(before), _key_in(keys, found_keys))
                    .group_by(*keys)
                )
            ).all()
        )
        latest = await self._latest(conditions, keys, found_keys, incidents_each)
        groups = []
        for row in counted:
            key = tuple(row[: len(keys)])
            count, first, last = row[len(keys)], row[len(keys) + 1], row[len(keys) + 2]
            before_count = previous.get(key, 0)
            groups.append(
                RecurringGroup(
                    key=key[-1],
                    integration=key[0] if group_by is GroupBy.DEDUP_KEY else None,
                    count=count,
                    previous_count=before_count,
                    trend=_trend(count, before_count),
                    first_declared_at=first,
                    last_declared_at=last,
                    incidents=latest.get(key, []),
                )
            )
        return Recurrence(
            group_by=group_by, start=start, end=end, min_count=min_count, groups=groups
        )

    async def _latest(
        self,
        conditions: list[ColumnElement[bool]],
        keys: list[InstrumentedAttribute[Any]],
        found_keys: list[tuple[Any, ...]],
        each: int,
    ) -> dict[tuple[Any, ...], list[RecurringIncident]]:
        """The newest `each` incidents of every group, with what their links need: a
        short walk of the group's index each."""
        latest: dict[tuple[Any, ...], list[RecurringIncident]] = {}
        for key in found_keys:
            rows = await self._session.execute(
                select(
                    IncidentRow.id,
                    IncidentRow.title,
                    IncidentRow.state,
                    IncidentRow.priority,
                    IncidentRow.declared_at,
                    IncidentFactsRow.reviewed,
                )
                .join(IncidentRow, IncidentRow.id == IncidentFactsRow.incident_id)
                .where(*conditions, *(k == v for k, v in zip(keys, key, strict=True)))
                .order_by(IncidentFactsRow.declared_at.desc(), IncidentFactsRow.incident_id.desc())
                .limit(each)
            )
            latest[key] = [
                RecurringIncident(
                    id=number,
                    title=title,
                    state=state,
                    priority=priority,
                    declared_at=declared_at,
                    reviewed=reviewed,
                    url=f"/api/v1/incidents/{number}",
                    console_url=f"/incidents/{number}",
                    review_url=f"/incidents/{number}#review" if reviewed else None,
                )
                for number, title, state, priority, declared_at, reviewed in rows.all()
            ]
        return latest

    # --- action items

    async def action_items(self, query: ActionItemQuery, today: date) -> ActionItemPage:
        conditions = _item_conditions(query, today)
        total = await self._session.scalar(
            select(func.count()).select_from(ActionItemRow).where(*conditions)
        )
        rows = await self._session.scalars(
            select(ActionItemRow)
            .where(*conditions)
            .order_by(ActionItemRow.due_date, ActionItemRow.id)
            .limit(query.limit)
            .offset(query.offset)
        )
        return ActionItemPage(
            items=[_item(row, today) for row in rows],
            total=total or 0,
            limit=query.limit,
            offset=query.offset,
        )

    async def action_item(self, item_id: int, today: date) -> ActionItemView | None:
        row = await self._session.get(ActionItemRow, item_id)
        return _item(row, today) if row is not None else None

    async def owners(self, today: date, owner: str | None = None) -> builtins.list[OwnerCounts]:
        """Action items by owner: open (and of those, overdue), done and dropped."""
        overdue = and_(
            ActionItemRow.state == ActionState.OPEN.value, ActionItemRow.due_date < today
        )
        statement = (
            select(
                ActionItemRow.owner,
                func.count().filter(ActionItemRow.state == ActionState.OPEN.value),
                func.count().filter(overdue),
                func.count().filter(ActionItemRow.state == ActionState.DONE.value),
                func.count().filter(ActionItemRow.state == ActionState.DROPPED.value),
            )
            .group_by(ActionItemRow.owner)
            .order_by(ActionItemRow.owner)
        )
        if owner is not None:
            statement = statement.where(ActionItemRow.owner == owner)
        rows = await self._session.execute(statement)
        return [
            OwnerCounts(owner=name, open=o, overdue=late, done=done, dropped=dropped)
            for name, o, late, done, dropped in rows.all()
        ]

    async def change_action_item(
        self, item_id: int, change: ActionItemChange, by: str, now: datetime
    ) -> ActionItemView | None:
        """`change` made to the item, by `by`; None if there is no such item."""
        row = await self._session.get(ActionItemRow, item_id, with_for_update=True)
        if row is None:
            return None
        given = change.model_dump(exclude_unset=True)
        if change.state is not None and change.state.value != row.state:
            row.state = change.state.value
            row.finished_at = None if change.state is ActionState.OPEN else now
        if "note" in given:
            row.note = change.note
        if change.owner is not None:
            row.owner = change.owner
        if change.due_date is not None:
            row.due_date = change.due_date
        row.updated_at = now
        row.updated_by = by
        await self._session.flush()
        return _item(row, now.date())

    async def overdue_unreminded(self, today: date, limit: int) -> builtins.list[ActionItemView]:
        """Open items past their due date not yet reminded of for that date."""
        rows = await self._session.scalars(
            select(ActionItemRow)
            .where(
                ActionItemRow.state == ActionState.OPEN.value,
                ActionItemRow.due_date < today,
                or_(
                    ActionItemRow.reminded_for.is_(None),
                    ActionItemRow.reminded_for != ActionItemRow.due_date,
                ),
            )
            .order_by(ActionItemRow.due_date, ActionItemRow.id)
            .limit(limit)
        )
        return [_item(row, today) for row in rows]

    async def mark_reminded(self, item_id: int, due_date: date, now: datetime) -> None:
        await self._session.execute(
            update(ActionItemRow)
            .where(ActionItemRow.id == item_id)
            .values(reminded_for=due_date, reminded_at=now)
        )

    # --- reports sent once

    async def delivered(self, key: str) -> bool:
        return await self._session.get(ReportDeliveryRow, key) is not None

    async def mark_delivered(self, key: str, channel: str, detail: str, now: datetime) -> None:
        dml: Any = postgresql if self._session.get_bind().dialect.name == "postgresql" else sqlite
        await self._session.execute(
            dml.insert(ReportDeliveryRow)
            .values(key=key, channel=channel, sent_at=now, detail=detail)
            .on_conflict_do_nothing(index_elements=["key"])
        )

    # --- incidents projected before the reports existed

    async def missing_facts(self, limit: int) -> builtins.list[int]:
        numbers = await self._session.scalars(
            select(IncidentRow.id)
            .outerjoin(IncidentFactsRow, IncidentFactsRow.incident_id == IncidentRow.id)
            .where(IncidentFactsRow.incident_id.is_(None))
            .order_by(IncidentRow.id)
            .limit(limit)
        )
        return list(numbers)

    async def fill_facts(self, incidents: Sequence[Incident]) -> None:
        """Facts, and approved reviews' action items, of incidents the projection wrote
        before it kept them; any projection since (a higher version) wins over these."""
        connection = await self._session.connection()
        await connection.run_sync(write_facts, [(i, i.timeline, 0) for i in incidents])


def _whole_days(report: ReportFilter) -> tuple[Window | None, list[ReportFilter]]:
    """For a report the day sums can serve (no filter but priority): the whole UTC days
    in its period (a window from midnight to midnight), and the parts of the period
    before and after them as reports of their own. (None, []) when the day sums do
    not serve it."""
    if report.services or report.categories or report.integrations:
        return None, []
    start, end = report.window.start, report.window.end
    first = _midnight(start, up=True) if start is not None else None
    last = _midnight(end, up=False) if end is not None else None
    if first is not None and last is not None and first >= last:
        return None, []
    edges = [
        report.model_copy(update={"window": Window(start=a, end=b)})
        for a, b in ((start, first), (last, end))
        if a is not None and b is not None and a < b
    ]
    return Window(start=first, end=last), edges


def _midnight(moment: datetime, *, up: bool) -> datetime:
    """The UTC midnight at or after (`up`) or at or before `moment`."""
    moment = moment.astimezone(UTC)
    floor = datetime.combine(moment.date(), datetime.min.time(), tzinfo=UTC)
    return floor + timedelta(days=1) if up and floor < moment else floor


def _day_conditions(whole: Window, priorities: list[Priority]) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if whole.start is not None:
        conditions.append(ReportDayRow.day >= whole.start.date())
    if whole.end is not None:
        conditions.append(ReportDayRow.day < whole.end.date())
    if priorities:
        conditions.append(ReportDayRow.priority.in_([str(p) for p in priorities]))
    return conditions


async def _day_sums(session: AsyncSession, whole: Window, priorities: list[Priority]) -> DaySums:
    names = [*DAY_COUNTS, *DAY_SECONDS]
    row = (
        await session.execute(
            select(*(func.sum(getattr(ReportDayRow, name)) for name in names)).where(
                *_day_conditions(whole, priorities)
            )
        )
    ).one()
    return {name: value or 0 for name, value in zip(names, row, strict=True)}


async def _facts_sums(session: AsyncSession, conditions: list[ColumnElement[bool]]) -> DaySums:
    """The counts and sums of the incidents matching `conditions`, in one pass over their
    facts, named as the day sums are."""
    facts_row = IncidentFactsRow
    columns: dict[str, ColumnElement[Any]] = {
        "incidents": func.count(),
        "acknowledged": func.count(facts_row.acknowledge_seconds),
        "acknowledge_seconds": func.sum(facts_row.acknowledge_seconds),
        "resolved": func.count(facts_row.resolve_seconds),
        "resolve_seconds": func.sum(facts_row.resolve_seconds),
        "reopened": func.count().filter(facts_row.reopened > 0),
    }
    for state, column in _STATE_COLUMNS.items():
        columns[f"{state}_stays"] = func.count(column)
        columns[f"{state}_seconds"] = func.sum(column)
    for clock, clock_column in _CLOCK_COLUMNS.items():
        columns[f"{clock}_met"] = func.count().filter(clock_column == ClockState.MET.value)
        columns[f"{clock}_breached"] = func.count().filter(
            clock_column == ClockState.BREACHED.value
        )
        columns[f"{clock}_clocks"] = func.count(clock_column)
    row = (await session.execute(select(*columns.values()).where(*conditions))).one()
    return {name: value or 0 for name, value in zip(columns, row, strict=True)}


async def _facts_per_day(
    session: AsyncSession, report: ReportFilter, *, declared: bool
) -> list[tuple[date, int]]:
    day = IncidentFactsRow.declared_day if declared else IncidentFactsRow.closed_day
    rows = await session.execute(
        select(day, func.count())
        .where(*_filter(report, declared=declared, days=True))
        .group_by(day)
    )
    return [(found, count) for found, count in rows.all() if found is not None]


async def rebuild_day_sums(session: AsyncSession) -> None:
    """Make the day sums anew from the facts (the projection keeps them; this is for a
    read model filled some other way, or to check them)."""
    await session.execute(delete(ReportDayRow))
    totals: dict[tuple[date, str], DaySums] = {}
    rows = await session.execute(select(*IncidentFactsRow.__table__.columns))
    for row in rows.mappings():
        for key, sums in day_changes(None, dict(row)).items():
            into = totals.setdefault(key, {})
            for name, value in sums.items():
                into[name] = into.get(name, 0) + value
    if totals:
        await session.execute(
            insert(ReportDayRow),
            [day_row(day, priority, sums) for (day, priority), sums in totals.items()],
        )


def _group_columns(group_by: GroupBy) -> builtins.list[InstrumentedAttribute[Any]]:
    if group_by is GroupBy.DEDUP_KEY:
        # A dedup key means something only within its integration.
        return [IncidentFactsRow.integration, IncidentFactsRow.dedup_key]
    if group_by is GroupBy.SERVICE:
        return [IncidentFactsRow.service]
    return [IncidentFactsRow.root_cause_category]


def _key_in(
    keys: builtins.list[InstrumentedAttribute[Any]], found: builtins.list[tuple[Any, ...]]
) -> Any:
    if len(keys) == 1:
        return keys[0].in_([key[0] for key in found])
    return tuple_(*keys).in_(found)


def _trend(count: int, before: int) -> Trend:
    if before == 0:
        return Trend.NEW
    if count > before:
        return Trend.RISING
    if count < before:
        return Trend.FALLING
    return Trend.STEADY


def _item_conditions(query: ActionItemQuery, today: date) -> builtins.list[ColumnElement[bool]]:
    conditions: builtins.list[ColumnElement[bool]] = []
    if query.states:
        conditions.append(ActionItemRow.state.in_([s.value for s in query.states]))
    if query.overdue is True:
        conditions += [
            ActionItemRow.state == ActionState.OPEN.value,
            ActionItemRow.due_date < today,
        ]
    elif query.overdue is False:
        conditions.append(
            or_(ActionItemRow.state != ActionState.OPEN.value, ActionItemRow.due_date >= today)
        )
    if query.owner is not None:
        conditions.append(ActionItemRow.owner == query.owner)
    if query.incident_id is not None:
        conditions.append(ActionItemRow.incident_id == query.incident_id)
    return conditions


def _item(row: ActionItemRow, today: date) -> ActionItemView:
    view = ActionItemView.model_validate(row)
    view.overdue = view.state is ActionState.OPEN and view.due_date < today
    return view
