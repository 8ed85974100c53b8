"""Incidents in the read model: numbering, idempotent projection, lists and search."""

import builtins
import functools
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from domain.incident import Incident
from domain.lifecycle import IncidentState
from domain.priority import Priority
from domain.timeline import EventKind, TimelineEvent
from store.db import Database, JsonText
from store.reports import Projection, write_facts
from store.tables import SQLITE_TEXT_INDEX, IncidentIdRow, IncidentRow, TimelineEventRow


class SlaFilter(StrEnum):
    BREACHED = "breached"
    AT_RISK = "at_risk"


class IncidentQuery(BaseModel):
    """Filters of an incident list; an empty list means any state or priority."""

    states: list[IncidentState] = []
    priorities: list[Priority] = []
    service: str | None = None
    text: str | None = Field(
        default=None, description="Case-insensitive substring of the title or description."
    )
    sla: SlaFilter | None = Field(
        default=None,
        description="breached: a clock passed its target; at_risk: a running clock passed "
        "its first warning and has not breached.",
    )
    limit: int = Field(default=50, ge=1, le=200)
    offset: int = Field(default=0, ge=0)


class IncidentSummary(BaseModel):
    """One line of an incident list."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    state: IncidentState
    priority: Priority
    impact: int
    urgency: int
    category: str | None
    service: str | None
    commander: str | None
    declared_by: str
    declared_at: datetime
    updated_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    sla_breached: bool
    sla_at_risk: bool


class IncidentPage(BaseModel):
    items: list[IncidentSummary]
    total: int
    limit: int
    offset: int


_ALLOCATE_ID = insert(IncidentIdRow).returning(IncidentIdRow.id)
_ALLOCATED_FOR = select(IncidentIdRow.id).where(IncidentIdRow.opening == bindparam("opening"))


async def allocate_incident_id(database: Database, opening: str | None = None) -> int:
    """A new incident number, never handed out before, committed on its own: on an
    SQLite file in one hop to a thread, at half the CPU of the async driver (where the
    insert and its commit were each a few round trips between threads).

    With `opening` (an alert group's name for one incident it opens), the number first
    allocated for it comes back on every later call: a retried workflow task gets the
    incident it may have started already, not a second one."""
    return await database.in_transaction(_allocate_id, opening)


def _allocate_id(connection: Connection, opening: str | None) -> int:
    if opening is not None:
        allocated = connection.execute(_ALLOCATED_FOR, {"opening": opening}).scalar_one_or_none()
        if allocated is not None:
            return int(allocated)
    # Two calls for one opening at once (a timed-out attempt still running) cannot both
    # insert: the unique index refuses the second, whose retry finds the first's number.
    result = connection.execute(
        _ALLOCATE_ID, {"allocated_at": datetime.now(UTC), "opening": opening}
    )
    return int(result.scalar_one())


# The largest number the read model's integer columns hold.
_LARGEST_NUMBER = 2**31 - 1


async def skip_taken_numbers(
    database: Database, taken: int, is_taken: Callable[[int], Awaitable[bool]]
) -> int:
    """After `taken` turned out to name an incident this read model does not know (it was
    restored from an older backup, and Temporal holds the incidents opened since), find
    where the incidents Temporal holds end and hand out numbers from there: one search
    instead of one collision per number. Returns the first number found free.

    `is_taken(n)` tells whether Temporal holds an incident numbered n. The numbers after
    `taken` are taken up to some point and free after it, so doubling the step until a
    free number and then halving between it and the last taken one finds that point in
    about twice log2 of the run's length calls (26 for 5,000). Should a number amid the
    run be free (one allocated whose incident never started), it is found instead, and
    the next collision skips again from there."""
    last_taken, step = taken, 1
    while True:
        probe = min(taken + step, _LARGEST_NUMBER)
        if not await is_taken(probe):
            break
        if probe == _LARGEST_NUMBER:
            raise RuntimeError(f"every incident number above {taken} is taken")
        last_taken, step = probe, step * 2
    free = probe
    while free - last_taken > 1:
        middle = (last_taken + free) // 2
        if await is_taken(middle):
            last_taken = middle
        else:
            free = middle
    await hand_out_numbers_from(database, free)
    return free


async def hand_out_numbers_from(database: Database, first: int) -> None:
    """Make `first` the allocator's next number, or leave it where it is if it is past
    `first` already: numbers never go back."""
    await database.in_transaction(_hand_out_from, first)


def _hand_out_from(connection: Connection, first: int) -> None:
    if connection.dialect.name == "postgresql":
        # Allocations wait for this transaction, so none can pass `first` between the
        # sequence's read and its setting.
        connection.execute(sa.text("LOCK TABLE incident_ids IN SHARE ROW EXCLUSIVE MODE"))
        connection.execute(
            sa.text(
                "SELECT setval(sequence, :last) FROM (SELECT "
                "pg_get_serial_sequence('incident_ids', 'id')::regclass AS sequence) AS found "
                "WHERE coalesce(pg_sequence_last_value(sequence), 0) < :last"
            ),
            {"last": first - 1},
        )
        return
    # SQLite's AUTOINCREMENT goes on from the largest number the table ever held, deleted
    # or not: a row at first - 1, gone again, moves it there (unless it was there already).
    last = first - 1
    inserted = connection.execute(
        sqlite.insert(IncidentIdRow)
        .values(id=last, allocated_at=datetime.now(UTC))
        .on_conflict_do_nothing()
    )
    if inserted.rowcount:
        connection.execute(sa.delete(IncidentIdRow).where(IncidentIdRow.id == last))


class IncidentRepository:
    """Reads and writes incidents within the caller's session; the caller commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def project(
        self, incident: Incident, events: Sequence[TimelineEvent], history_length: int = 0
    ) -> None:
        """Store `incident` and its `events`, as of `history_length` events of its
        workflow's history; replays and late, older projections change nothing."""
        await self.project_many([(incident, events, history_length)])

    async def project_many(self, projections: Sequence[Projection]) -> None:
        """`project` each of `projections`, in order, with a few statements for them all
        (the projection's group commit hands over whatever gathered meanwhile)."""
        connection = await self._session.connection()
        await connection.run_sync(write_projections, projections)

    async def get(self, incident_id: int) -> Incident | None:
        """The incident as last projected, with its whole timeline."""
        found = await self.many([incident_id])
        return found[0] if found else None

    async def many(
        self, incident_ids: Sequence[int], *, timelines: bool = True
    ) -> builtins.list[Incident]:
        """The incidents among `incident_ids` in the read model, each as last projected
        with its whole timeline (or none, if not `timelines`), in number order; one
        query for all their timelines."""
        snapshots = (
            await self._session.execute(
                select(IncidentRow.id, IncidentRow.snapshot)
                .where(IncidentRow.id.in_(incident_ids))
                .order_by(IncidentRow.id)
            )
        ).all()
        events: dict[int, builtins.list[TimelineEvent]] = {number: [] for number, _ in snapshots}
        if timelines:
            rows = await self._session.scalars(
                select(TimelineEventRow)
                .where(TimelineEventRow.incident_id.in_(list(events)))
                .order_by(TimelineEventRow.incident_id, TimelineEventRow.seq)
            )
            for row in rows:
                events[row.incident_id].append(_event(row))
        return [
            Incident.model_validate({**snapshot, "timeline": events[number]})
            for number, snapshot in snapshots
        ]

    async def list(self, query: IncidentQuery) -> IncidentPage:
        """One page of the incidents matching `query`, newest first."""
        dialect = self._session.get_bind().dialect.name
        conditions = _conditions(query)
        # The numbers matching the text, from SQLite's trigram index; None where the
        # database's own index serves the condition (PostgreSQL), or nothing does.
        found: Select[int] | None = None
        if query.text:
            if (
                dialect == "sqlite"
                and len(query.text) >= _TRIGRAM
                and await self._has_sqlite_text_index()
            ):
                found = _sqlite_matches(query.text)
                conditions.append(IncidentRow.id.in_(found))
            else:
                conditions.append(_contains_text(query.text, dialect))
        # The page's numbers first, from an index in list order where one fits, so that a
        # deep offset or a filter skips index entries rather than whole rows; then only
        # the page's rows, without their snapshots.
        numbers = _numbers(
            conditions,
            searching=bool(query.text),
            dialect=dialect,
            matching=found if len(conditions) == 1 else None,
        )
        page = numbers.order_by(*_NEWEST_FIRST).limit(query.limit).offset(query.offset).subquery()
        rows = (
            await self._session.execute(
                select(*_SUMMARY_COLUMNS, page.c.total)
                .join(page, IncidentRow.id == page.c.id)
                .order_by(*_NEWEST_FIRST)
            )
        ).all()
        if rows and rows[0].total is not None:
            total: int = rows[0].total
        elif (rows and len(rows) < query.limit) or (not rows and query.offset == 0):
            # The last page, with something on it or nothing at all: it shows the total.
            total = query.offset + len(rows)
        else:
            total = (
                await self._session.scalar(
                    select(func.count()).select_from(IncidentRow).where(*conditions)
                )
                or 0
            )
        return IncidentPage(
            items=[IncidentSummary.model_validate(row) for row in rows],
            total=total,
            limit=query.limit,
            offset=query.offset,
        )

    async def _has_sqlite_text_index(self) -> bool:
        """Whether migration 0014 made the trigram index, as it does wherever SQLite has
        FTS5's trigram tokenizer. The file tells, not this process: SQLite's catalogue
        is asked until it says yes, then the connection remembers (an index made by a
        process that migrates later is found; none is ever dropped but by a downgrade)."""
        connection = await self._session.connection()
        if connection.info.get(_TEXT_INDEX_FOUND):
            return True
        found = await connection.scalar(
            select(literal_column("1"))
            .select_from(sa.table("sqlite_master", sa.column("name")))
            .where(sa.column("name") == _SQLITE_TEXT_INDEX.name)
        )
        connection.info[_TEXT_INDEX_FOUND] = found is not None
        return found is not None

    async def process_of(self, incident_id: int) -> str | None:
        """The name of the process the incident runs on, if it is in the read model."""
        name: str | None = await self._session.scalar(
            select(IncidentRow.process_name).where(IncidentRow.id == incident_id)
        )
        return name

    async def open_on(self, process: str, version: int, limit: int) -> builtins.list[int]:
        """Numbers of the incidents not closed that run on `version` of `process`,
        oldest first."""
        numbers = await self._session.scalars(
            select(IncidentRow.id)
            .where(*_open_on(process, version))
            .order_by(IncidentRow.id)
            .limit(limit)
        )
        return list(numbers)

    async def count_open_on(self, process: str, version: int) -> int:
        counted = await self._session.scalar(
            select(func.count()).select_from(IncidentRow).where(*_open_on(process, version))
        )
        return counted or 0

    async def exists(self, incident_id: int) -> bool:
        found = await self._session.scalar(
            select(IncidentRow.id).where(IncidentRow.id == incident_id)
        )
        return found is not None

    async def timeline(self, incident_id: int) -> builtins.list[TimelineEvent]:
        """The incident's events in the order they happened."""
        rows = await self._session.scalars(
            select(TimelineEventRow)
            .where(TimelineEventRow.incident_id == incident_id)
            .order_by(TimelineEventRow.seq)
        )
        return [_event(row) for row in rows]


def _open_on(process: str, version: int) -> list[ColumnElement[bool]]:
    return [
        IncidentRow.process_name == process,
        IncidentRow.process_version == version,
        IncidentRow.state != IncidentState.CLOSED.value,
    ]


@functools.cache
def _projection_statements(dialect: str) -> tuple[Any, Any]:
    """The incident's upsert and its events' upsert, for `dialect`."""
    # INSERT ... ON CONFLICT is spelled the same on both, but lives in each dialect.
    dml: Any = postgresql if dialect == "postgresql" else sqlite
    incident = dml.insert(IncidentRow)
    # One conditional upsert, so two concurrent projections cannot both pass a version
    # check made in a separate read: the higher (seq, history length) wins.
    incident = incident.on_conflict_do_update(
        index_elements=[IncidentRow.id],
        set_={
            column.name: incident.excluded[column.name]
            for column in IncidentRow.__table__.columns
            if column.name != "id"
        },
        where=tuple_(IncidentRow.version, IncidentRow.history_length)
        < tuple_(incident.excluded.version, incident.excluded.history_length),
    )
    # The event id is the idempotency key: a retried or replayed write changes nothing;
    # a later attempt at the same workflow task rewrites the event.
    events = dml.insert(TimelineEventRow)
    events = events.on_conflict_do_update(
        index_elements=[TimelineEventRow.id],
        set_={
            name: events.excluded[name]
            for name in ("at", "actor", "kind", "details", "history_length")
        },
        where=TimelineEventRow.history_length < events.excluded.history_length,
    )
    return incident, events


_NEWEST_FIRST = (IncidentRow.declared_at.desc(), IncidentRow.id.desc())
_SUMMARY_COLUMNS = [getattr(IncidentRow, name) for name in IncidentSummary.model_fields]


def _numbers(
    conditions: list[ColumnElement[bool]],
    *,
    searching: bool,
    dialect: str,
    matching: Select[int] | None = None,
) -> Select[int, int | None]:
    """The numbers of the incidents matching `conditions`, and their total when it comes
    at no extra cost; to be ordered and cut into a page. `matching`, when given, selects
    the same numbers without reading the incidents table."""
    if not (searching and dialect == "sqlite"):
        return select(IncidentRow.id, null().label("total")).where(*conditions)
    # SQLite cannot tell how many rows a text search matches. Walking the list's order,
    # it would read every row of the table (snapshots and all) for a rare word; sorting
    # the matches, it would read every match for a common one. Instead: the matches
    # once, from the trigram index (or a scan of the plain text index), and counted; then
    # the list's index walked in order to the page's end, each number looked up among the
    # matches (`+ 0` keeps SQLite from fetching each match by its number instead).
    if matching is None:
        matching = select(IncidentRow.id).where(*conditions)
    matches = matching.cte("matches")
    total = select(func.count()).select_from(matches).scalar_subquery()
    return select(IncidentRow.id, total.label("total")).where(
        (IncidentRow.id + 0).in_(select(matches.c.id))
    )


def _conditions(query: IncidentQuery) -> list[ColumnElement[bool]]:
    """The conditions of `query`'s filters, its text aside."""
    conditions: list[ColumnElement[bool]] = []
    if query.states:
        conditions.append(IncidentRow.state.in_([str(state) for state in query.states]))
    if query.priorities:
        conditions.append(IncidentRow.priority.in_([str(p) for p in query.priorities]))
    if query.service is not None:
        conditions.append(IncidentRow.service == query.service)
    if query.sla is SlaFilter.BREACHED:
        conditions.append(IncidentRow.sla_breached.is_(True))
    elif query.sla is SlaFilter.AT_RISK:
        conditions.append(IncidentRow.sla_at_risk.is_(True))
    return conditions


def _contains_text(text: str, dialect: str) -> ColumnElement[bool]:
    """Title or description contains `text`, ignoring case: lower(column) LIKE lower(%text%),
    spelled so that each database's text index serves it and gives the same answers."""
    columns = (IncidentRow.title, IncidentRow.description)
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    pattern = f"%{escaped}%"
    if dialect == "postgresql":
        # ILIKE lowercases both sides exactly as lower() does; the trigram index serves it.
        return or_(*(column.ilike(pattern, escape="/") for column in columns))
    if dialect == "sqlite":
        # SQLite's LIKE already ignores case as its lower() does (ASCII letters only), and
        # skipping lower() on every row halves the scan of the text index.
        return or_(*(column.like(pattern, escape="/") for column in columns))
    return or_(*(column.icontains(text, autoescape=True) for column in columns))


# Migration 0014's FTS5 table on SQLite: rowid is the incident's number, and the hidden
# column named as the table takes a MATCH over both title and description.
_SQLITE_TEXT_INDEX = sa.table(SQLITE_TEXT_INDEX, sa.column("rowid"), sa.column(SQLITE_TEXT_INDEX))
# The trigram tokenizer finds a phrase of three characters or more; a shorter one scans.
_TRIGRAM = 3
# Kept in a database connection's `info` once the trigram index is found there.
_TEXT_INDEX_FOUND = "vagt_sqlite_text_index"


def _sqlite_matches(text: str) -> Select[int]:
    """The numbers of the incidents whose title or description contains `text` (three
    characters or more), ignoring case, from the trigram index. The text is one quoted
    phrase, so nothing in it is query syntax: its consecutive trigrams, which is to say
    the text itself as a substring."""
    phrase = '"' + text.replace('"', '""') + '"'
    return select(_SQLITE_TEXT_INDEX.c.rowid.label("id")).where(
        _SQLITE_TEXT_INDEX.c.incidents_text.match(phrase)
    )


def write_projections(
    connection: Connection, projections: Sequence[Projection], *, facts: bool = True
) -> None:
    """`IncidentRepository.project_many` on a synchronous connection: the projection's
    writer runs it in one go on a thread of its own (SQLite) or through `run_sync`.
    Without `facts`, the reports' facts wait for a later projection of each incident."""
    if not projections:
        return
    incident_upsert, events_upsert = _projection_statements(connection.dialect.name)
    # Core statements built once and executed with parameters: SQLAlchemy's statement
    # cache then serves every projection (rebuilding the upsert and its `excluded`
    # columns cost more than the write itself). Rows in order, so of two projections of
    # one incident the later, higher one is written last.
    connection.execute(
        incident_upsert,
        [
            _incident_row(incident) | {"history_length": history_length}
            for incident, _, history_length in projections
        ],
    )
    events = [
        _event_row(event) | {"history_length": history_length}
        for _, projected, history_length in projections
        for event in projected
    ]
    if events:
        # Parameters as a list, so a long timeline is sent in batches, not one statement.
        connection.execute(events_upsert, events)
    if facts:
        write_facts(connection, projections)


def _incident_row(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "description": incident.description,
        "state": str(incident.state),
        "impact": incident.impact,
        "urgency": incident.urgency,
        "priority": str(incident.priority),
        "category": incident.category,
        "service": incident.service,
        "commander": incident.commander,
        "responders": list(incident.responders),
        "declared_by": incident.declared_by,
        "declared_at": incident.declared_at,
        "updated_at": incident.updated_at,
        "acknowledged_at": incident.acknowledged_at,
        "resolved_at": incident.resolved_at,
        "closed_at": incident.closed_at,
        "process_name": incident.process.name,
        "process_version": incident.process.version,
        "version": incident.seq,
        "sla_breached": any(c.breached_at is not None for c in incident.watch.clocks),
        "sla_at_risk": any(
            c.warned and c.breached_at is None and c.met_at is None for c in incident.watch.clocks
        ),
        # News waiting for its subscribers is the workflow's business, not the desk's.
        "snapshot": JsonText(incident.model_dump_json(exclude={"timeline", "announcements"})),
    }


def _event(row: TimelineEventRow) -> TimelineEvent:
    return TimelineEvent(
        id=row.id,
        incident_id=row.incident_id,
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        kind=EventKind(row.kind),
        details=row.details,
    )


def _event_row(event: TimelineEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "incident_id": event.incident_id,
        "seq": event.seq,
        "at": event.at,
        "actor": event.actor,
        "kind": str(event.kind),
        "details": event.details,
    }
