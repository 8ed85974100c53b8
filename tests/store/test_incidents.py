import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from pydantic import ValidationError
from sqlalchemy import Connection, func, select, text

from domain.incident import Incident
from domain.lifecycle import IncidentState, Step
from domain.priority import Priority
from domain.process import DEFAULT_PROCESS
from domain.requests import (
    AcknowledgeRequest,
    AssignRequest,
    DeclareRequest,
    NoteRequest,
    ResolveRequest,
    TriageRequest,
)
from domain.roles import Actor, Role
from domain.timeline import EventKind, TimelineEvent
from store.db import MIGRATIONS, Database
from store.incidents import (
    IncidentQuery,
    IncidentRepository,
    SlaFilter,
    allocate_incident_id,
    skip_taken_numbers,
)
from store.tables import IncidentIdRow, IncidentRow, TimelineEventRow

ALICE = Actor(name="alice", roles=frozenset({Role.RESPONDER, Role.COMMANDER}))
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def declare(
    incident_id: int,
    title: str = "Checkout fails",
    *,
    description: str = "",
    impact: int = 2,
    urgency: int = 2,
    service: str | None = None,
    at: datetime = T0,
) -> Incident:
    request = DeclareRequest(
        title=title, description=description, impact=impact, urgency=urgency, service=service
    )
    return Incident.declare(incident_id, request, ALICE, at, DEFAULT_PROCESS)


def work_on(incident: Incident) -> list[TimelineEvent]:
    """Triage, acknowledge, assign and note: four more events."""
    at = incident.declared_at
    request = TriageRequest(impact=1, urgency=1, category="database", service="payments")
    return [
        incident.apply(Step.TRIAGE, request, ALICE, at + timedelta(minutes=1)),
        incident.apply(Step.ACKNOWLEDGE, AcknowledgeRequest(), ALICE, at + timedelta(minutes=2)),
        incident.apply(
            Step.ASSIGN,
            AssignRequest(commander="alice", responders=["bob"]),
            ALICE,
            at + timedelta(minutes=3),
        ),
        incident.apply(Step.NOTE, NoteRequest(text="failover started"), ALICE, at),
    ]


async def project(
    database: Database, incident: Incident, events: list[TimelineEvent], history_length: int = 0
) -> None:
    async with database.session() as session:
        await IncidentRepository(session).project(incident, events, history_length)
        await session.commit()


async def migrate_to(database: Database, revision: str) -> None:
    """Upgrade or downgrade `database`'s schema to `revision`."""

    def migrate(connection: Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        if revision > (MigrationContext.configure(connection).get_current_revision() or ""):
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)

    async with database.engine.begin() as connection:
        await connection.run_sync(migrate)


async def row_counts(database: Database) -> tuple[int, int]:
    async with database.session() as session:
        incidents = await session.scalar(select(func.count()).select_from(IncidentRow))
        events = await session.scalar(select(func.count()).select_from(TimelineEventRow))
    return incidents or 0, events or 0


class TestAllocateId:
    async def test_numbers_are_unique_increasing_and_committed_as_taken(
        self, database: Database
    ) -> None:
        first = await allocate_incident_id(database)
        at_once = await asyncio.gather(*(allocate_incident_id(database) for _ in range(20)))
        after = await allocate_incident_id(database)

        numbers = [first, *at_once, after]
        assert len(set(numbers)) == 22
        assert first < min(at_once) and max(at_once) < after
        async with database.session() as session:  # each was committed as it was taken
            taken = await session.scalar(select(func.count()).select_from(IncidentIdRow))
        assert taken == 22


class TestSkipTakenNumbers:
    """A read model restored from an older backup hands out numbers Temporal holds
    incidents under; the first found taken moves the numbering past all of them."""

    @staticmethod
    def held(numbers: set[int], asked: list[int]) -> Callable[[int], Awaitable[bool]]:
        """Whether Temporal holds an incident under a number: here, whether it is in
        `numbers`; each question noted in `asked`."""

        async def is_taken(number: int) -> bool:
            asked.append(number)
            return number in numbers

        return is_taken

    async def test_numbering_moves_past_the_run_of_taken_numbers(self, database: Database) -> None:
        first = await allocate_incident_id(database)
        asked: list[int] = []

        free = await skip_taken_numbers(
            database, first, self.held(set(range(first, first + 5_000)), asked)
        )

        assert free == first + 5_000
        assert len(asked) <= 26  # not one question per taken number
        assert await allocate_incident_id(database) == first + 5_000

    async def test_the_next_free_number_costs_one_question(self, database: Database) -> None:
        first = await allocate_incident_id(database)
        asked: list[int] = []

        assert await skip_taken_numbers(database, first, self.held({first}, asked)) == first + 1
        assert asked == [first + 1]
        assert await allocate_incident_id(database) == first + 1

    async def test_numbering_never_goes_back(self, database: Database) -> None:
        numbers = [await allocate_incident_id(database) for _ in range(5)]

        await skip_taken_numbers(database, numbers[0] - 50, self.held(set(), []))

        assert await allocate_incident_id(database) == numbers[-1] + 1

    async def test_a_free_number_amid_the_run_is_handed_out_and_the_next_collision_skips_on(
        self, database: Database
    ) -> None:
        first = await allocate_incident_id(database)
        held = set(range(first, first + 100)) - {first + 64}  # allocated, never started

        assert await skip_taken_numbers(database, first, self.held(held, [])) == first + 64
        assert await allocate_incident_id(database) == first + 64
        held.add(first + 64)  # its incident starts
        assert await allocate_incident_id(database) == first + 65  # taken: skip again
        assert await skip_taken_numbers(database, first + 65, self.held(held, [])) == first + 100
        assert await allocate_incident_id(database) == first + 100


class TestProject:
    async def test_get_rebuilds_the_incident_with_its_timeline(self, database: Database) -> None:
        incident = declare(1, "Checkout fails", description="500s on /pay")
        work_on(incident)

        await project(database, incident, incident.timeline)
        async with database.session() as session:
            stored = await IncidentRepository(session).get(1)

        # All of it but the news waiting for subscribers, which is the workflow's.
        assert stored == incident.model_copy(update={"announcements": []})
        assert stored is not None
        assert [event.kind for event in stored.timeline] == [
            EventKind.DECLARED,
            EventKind.TRIAGED,
            EventKind.ACKNOWLEDGED,
            EventKind.ASSIGNED,
            EventKind.NOTE_ADDED,
        ]

    async def test_nul_characters_are_stored_as_replacement_characters(
        self, database: Database
    ) -> None:
        # JSON allows NUL in any string; PostgreSQL refuses it in text and in JSON. The
        # write must not fail (the projection would retry for ever), on either database.
        incident = declare(1, "Checkout\x00 fails", description="500s\x00")
        assign = AssignRequest(commander="alice", responders=["bob\x00"])
        incident.apply(Step.ASSIGN, assign, ALICE, T0 + timedelta(minutes=1))

        await project(database, incident, incident.timeline)
        async with database.session() as session:
            stored = await IncidentRepository(session).get(1)
            row = (await session.execute(select(IncidentRow))).scalar_one()

        assert stored is not None
        assert (stored.title, stored.description) == ("Checkout\ufffd fails", "500s\ufffd")
        assert stored.responders == ["bob\ufffd"]
        assert row.responders == ["bob\ufffd"]  # a column of its own, beside the snapshot
        assert stored.timeline[0].details["title"] == "Checkout\ufffd fails"

    async def test_replaying_a_projection_stores_each_event_once(self, database: Database) -> None:
        incident = declare(1)
        work_on(incident)

        await project(database, incident, incident.timeline)
        await project(database, incident, incident.timeline)

        assert await row_counts(database) == (1, 5)

    async def test_events_arriving_step_by_step_build_the_whole_timeline(
        self, database: Database
    ) -> None:
        incident = declare(1)
        await project(database, incident, list(incident.timeline))
        for event in work_on(incident):
            await project(database, incident, [event])

        async with database.session() as session:
            timeline = await IncidentRepository(session).timeline(1)

        assert [event.seq for event in timeline] == [1, 2, 3, 4, 5]
        assert timeline == incident.timeline

    async def test_an_older_snapshot_arriving_late_keeps_the_newer(
        self, database: Database
    ) -> None:
        incident = declare(1)
        older = incident.model_copy(deep=True)
        work_on(incident)

        await project(database, incident, incident.timeline)
        await project(database, older, older.timeline)

        async with database.session() as session:
            repository = IncidentRepository(session)
            stored = await repository.get(1)
            page = await repository.list(IncidentQuery())
        assert stored is not None
        assert (stored.state, stored.priority, stored.commander) == (
            IncidentState.ACKNOWLEDGED,
            Priority.P1,
            "alice",
        )
        assert page.items[0].state == IncidentState.ACKNOWLEDGED
        assert stored.seq == 5

    async def test_a_newer_snapshot_replaces_the_older(self, database: Database) -> None:
        incident = declare(1)
        await project(database, incident, incident.timeline)
        events = work_on(incident)
        resolve = ResolveRequest(summary="failed over", root_cause_category="hardware")
        events.append(incident.apply(Step.RESOLVE, resolve, ALICE, T0 + timedelta(hours=1)))

        await project(database, incident, events)

        async with database.session() as session:
            [summary] = (await IncidentRepository(session).list(IncidentQuery())).items
        assert summary.state == IncidentState.RESOLVED
        assert summary.resolved_at == T0 + timedelta(hours=1)
        assert summary.acknowledged_at == T0 + timedelta(minutes=2)
        assert (summary.priority, summary.service, summary.category) == (
            Priority.P1,
            "payments",
            "database",
        )

    async def test_a_later_attempt_at_the_same_step_wins_over_the_lost_one(
        self, database: Database
    ) -> None:
        # A worker projected a note, then died (or Temporal did) before the workflow task
        # completed; the task ran again, later in the history, and its note says more.
        lost, kept = declare(1), declare(1)
        at = T0 + timedelta(minutes=5)
        lost_note = lost.apply(Step.NOTE, NoteRequest(text="looking"), ALICE, at)
        kept_note = kept.apply(Step.NOTE, NoteRequest(text="failing over"), ALICE, at)
        assert (lost_note.id, lost.seq) == (kept_note.id, kept.seq)

        await project(database, lost, lost.timeline, history_length=12)
        await project(database, kept, kept.timeline, history_length=17)
        await project(database, lost, lost.timeline, history_length=12)  # late, and older

        async with database.session() as session:
            stored = await IncidentRepository(session).get(1)
        assert stored is not None
        assert stored.timeline[-1].details == kept_note.details
        assert stored == kept.model_copy(update={"announcements": []})

    async def test_a_projection_writes_every_column_of_the_incident_row(
        self, database: Database
    ) -> None:
        # The upsert is built once from the table's columns; a column the projection
        # did not fill would be overwritten with its default on every update.
        incident = declare(1)
        await project(database, incident, incident.timeline)
        events = work_on(incident)
        await project(database, incident, events, history_length=9)

        async with database.session() as session:
            row = (await session.execute(select(IncidentRow))).scalar_one()
        columns = {column.key for column in IncidentRow.__table__.columns}
        empty = {name for name in columns if getattr(row, name) is None}
        assert empty == {"resolved_at", "closed_at"}  # not resolved yet
        assert (row.version, row.history_length, row.commander) == (5, 9, "alice")

    async def test_unknown_incidents_are_absent(self, database: Database) -> None:
        await project(database, declare(1), [])
        async with database.session() as session:
            repository = IncidentRepository(session)
            assert await repository.get(2) is None
            assert await repository.exists(2) is False
            assert await repository.exists(1) is True
            assert await repository.timeline(2) == []


class TestList:
    @pytest.fixture
    async def incidents(self, database: Database) -> Database:
        """Five incidents, declared an hour apart; #4 and #5 at the same time."""
        specs = [
            (1, "Checkout fails", "Card payments time out", 1, 1, "payments"),
            (2, "Slow search", "p99 over 2s", 2, 3, "search"),
            (3, "Login errors", "Users see 500 after SSO", 2, 2, "auth"),
            (4, "Disk 90% full", "on db-2 (50% growth) of payments_db", 3, 3, "payments"),
            (5, "Cert expires soon", "TLS for api.example.com", 3, 2, None),
        ]
        for number, title, description, impact, urgency, service in specs:
            at = T0 + timedelta(hours=min(number, 4))
            incident = declare(
                number,
                title,
                description=description,
                impact=impact,
                urgency=urgency,
                service=service,
                at=at,
            )
            if number == 3:
                incident.apply(Step.ACKNOWLEDGE, AcknowledgeRequest(), ALICE, at)
            await project(database, incident, incident.timeline)
        return database

    async def ids(self, database: Database, **filters: object) -> tuple[list[int], int]:
        async with database.session() as session:
            page = await IncidentRepository(session).list(IncidentQuery.model_validate(filters))
        return [item.id for item in page.items], page.total

    async def test_newest_first_and_ties_by_number(self, incidents: Database) -> None:
        assert await self.ids(incidents) == ([5, 4, 3, 2, 1], 5)

    async def test_filters_by_state_priority_and_service(self, incidents: Database) -> None:
        assert await self.ids(incidents, states=["acknowledged"]) == ([3], 1)
        assert await self.ids(incidents, states=["detected", "closed"]) == ([5, 4, 2, 1], 4)
        assert await self.ids(incidents, priorities=["P1", "P4"]) == ([5, 2, 1], 3)
        assert await self.ids(incidents, service="payments") == ([4, 1], 2)
        assert await self.ids(incidents, service="payments", priorities=["P5"]) == ([4], 1)

    async def test_text_searches_title_and_description_ignoring_case(
        self, incidents: Database
    ) -> None:
        assert await self.ids(incidents, text="CHECKOUT") == ([1], 1)
        assert await self.ids(incidents, text="sso") == ([3], 1)
        assert await self.ids(incidents, text="payments") == ([4, 1], 2)
        assert await self.ids(incidents, text="nothing like this") == ([], 0)

    async def test_text_treats_wildcards_literally(self, incidents: Database) -> None:
        assert await self.ids(incidents, text="50%") == ([4], 1)
        assert await self.ids(incidents, text="_db") == ([4], 1)
        assert await self.ids(incidents, text="%") == ([4], 1)

    async def test_text_is_no_query_syntax(self, incidents: Database) -> None:
        # SQLite reads a search of three characters or more from its full-text index,
        # whose query language takes quotes, OR, NOT and parentheses as syntax.
        assert await self.ids(incidents, text="db-2 (50%") == ([4], 1)
        assert await self.ids(incidents, text='"Slow" OR search') == ([], 0)
        assert await self.ids(incidents, text='slow search"') == ([], 0)
        assert await self.ids(incidents, text="NOT") == ([], 0)
        assert await self.ids(incidents, text="p99 over 2s*") == ([], 0)

    async def test_text_ignores_case_beyond_ascii(self, database: Database) -> None:
        await project(database, declare(1, "Éclair réseau perdu"), [])
        await project(database, declare(2, "Straße gesperrt"), [])

        assert await self.ids(database, text="ÉCLAIR RÉSEAU") == ([1], 1)
        assert await self.ids(database, text="STRASSE") == ([], 0)  # no folding ß to ss
        assert await self.ids(database, text="straße") == ([2], 1)

    async def test_text_finds_a_retitled_incident_by_its_new_title(
        self, incidents: Database
    ) -> None:
        async with incidents.session() as session:
            incident = await IncidentRepository(session).get(2)
        assert incident is not None
        triage = TriageRequest(
            impact=2, urgency=3, category="other", service="search", title="Index rebuild stalls"
        )
        event = incident.apply(Step.TRIAGE, triage, ALICE, T0 + timedelta(hours=5))
        await project(incidents, incident, [event], history_length=10)
        await project(incidents, incident, [event], history_length=10)  # a replay: no change
        note = incident.apply(Step.NOTE, NoteRequest(text="x"), ALICE, T0 + timedelta(hours=6))
        await project(incidents, incident, [note], history_length=12)  # same text, newer

        assert await self.ids(incidents, text="index REBUILD") == ([2], 1)
        assert await self.ids(incidents, text="p99 over") == ([2], 1)  # the description
        assert await self.ids(incidents, text="Slow search") == ([], 0)
        if incidents.is_sqlite:  # the full-text index agrees with the rows (rank 1: checked)
            async with incidents.session() as session:
                check = "INSERT INTO incidents_text(incidents_text, rank) VALUES (:check, 1)"
                await session.execute(text(check), {"check": "integrity-check"})

    async def test_text_with_filters_counts_the_matches_they_keep(
        self, incidents: Database
    ) -> None:
        assert await self.ids(incidents, text="payments", service="payments") == ([4, 1], 2)
        assert await self.ids(incidents, text="payments", priorities=["P1"]) == ([1], 1)
        assert await self.ids(incidents, text="payments", states=["acknowledged"]) == ([], 0)
        assert await self.ids(incidents, text="payments", limit=1, offset=1) == ([1], 2)

    @pytest.mark.parametrize("revision", ["0013", "0014"])
    async def test_text_finds_incidents_from_before_the_text_index(
        self, empty_database: Database, revision: str
    ) -> None:
        """An older read model (0013) is searched by scanning, as on an SQLite without the
        trigram tokenizer; migrated (0014), its incidents are in the new index."""
        await migrate_to(empty_database, "0013")
        await project(empty_database, declare(1, "Kerberos tickets expire"), [])
        await project(empty_database, declare(2, "Disk full", description="kerberos KDC"), [])
        await migrate_to(empty_database, revision)

        assert await self.ids(empty_database, text="KERBEROS") == ([2, 1], 2)
        await project(empty_database, declare(3, "kerberos again", at=T0 + timedelta(1)), [])
        assert await self.ids(empty_database, text="kerberos") == ([3, 2, 1], 3)

    async def test_pages_count_every_match(self, incidents: Database) -> None:
        assert await self.ids(incidents, limit=2) == ([5, 4], 5)
        assert await self.ids(incidents, limit=2, offset=2) == ([3, 2], 5)
        assert await self.ids(incidents, limit=2, offset=4) == ([1], 5)
        assert await self.ids(incidents, limit=2, offset=10) == ([], 5)

    async def test_summaries_carry_what_a_list_shows(self, incidents: Database) -> None:
        async with incidents.session() as session:
            page = await IncidentRepository(session).list(IncidentQuery(states=["acknowledged"]))
        [summary] = page.items
        assert summary.model_dump() == {
            "id": 3,
            "title": "Login errors",
            "state": IncidentState.ACKNOWLEDGED,
            "priority": Priority.P3,
            "impact": 2,
            "urgency": 2,
            "category": None,
            "service": "auth",
            "commander": None,
            "declared_by": "alice",
            "declared_at": T0 + timedelta(hours=3),
            "updated_at": T0 + timedelta(hours=3),
            "acknowledged_at": T0 + timedelta(hours=3),
            "resolved_at": None,
            "closed_at": None,
            "sla_breached": False,
            "sla_at_risk": False,
        }
        assert (page.limit, page.offset, page.total) == (50, 0, 1)

    async def test_sla_filters_find_breached_and_at_risk_incidents(
        self, database: Database
    ) -> None:
        # Default P1: 5 minutes to acknowledge, warnings at 50% and 75%.
        breached = declare(1, impact=1, urgency=1)
        warned = declare(2, impact=1, urgency=1)
        calm = declare(3, impact=1, urgency=1)
        for incident, minutes in ((breached, 6), (warned, 3), (calm, 1)):
            events = incident.fire_due(T0 + timedelta(minutes=minutes))
            await project(database, incident, [*incident.timeline[:1], *events])

        async def ids(sla: SlaFilter) -> list[int]:
            async with database.session() as session:
                page = await IncidentRepository(session).list(IncidentQuery(sla=sla))
            return [item.id for item in page.items]

        assert await ids(SlaFilter.BREACHED) == [1]
        assert await ids(SlaFilter.AT_RISK) == [2]

    @pytest.mark.parametrize("bad", [{"limit": 0}, {"limit": 201}, {"offset": -1}])
    def test_page_bounds_are_checked(self, bad: dict[str, int]) -> None:
        with pytest.raises(ValidationError):
            IncidentQuery.model_validate(bad)


async def test_news_waiting_for_subscribers_stays_out_of_the_read_model(
    database: Database,
) -> None:
    incident = declare(1)
    assert incident.announcements  # the declaration is news

    async with database.session() as session:
        await IncidentRepository(session).project(incident, incident.timeline)
        await session.commit()
        stored = await IncidentRepository(session).get(1)

    assert stored is not None
    assert stored.announcements == []
    assert stored.timeline == incident.timeline
