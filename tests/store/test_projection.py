"""The projection writer: concurrent projections share transactions, failures stay their own."""

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from domain.escalation import EscalationTarget
from domain.subscriptions import Subscriber, SubscriberQuery, SubscriptionScope
from store.db import Database
from store.incidents import IncidentRepository
from store.projection import ProjectionInput, ProjectionWriter
from store.reports import ReportRepository
from store.subscriptions import SubscriptionRepository
from tests.store.test_incidents import declare, row_counts, work_on


def _commits(database: Database) -> list[int]:
    """A list that grows by one at every commit on `database`, through its async engine
    or (SQLite) the engine the projection writes with on a thread."""
    seen: list[int] = []
    for engine in (database.engine.sync_engine, database.thread_engine()):
        if engine is not None:
            event.listen(engine, "commit", lambda connection: seen.append(1))
    return seen


class TestProjectionWriter:
    async def test_concurrent_projections_are_all_stored_in_few_commits(
        self, database: Database
    ) -> None:
        writer = ProjectionWriter(database)
        commits = _commits(database)
        incidents = [declare(n) for n in range(1, 101)]

        await asyncio.gather(
            *(
                writer.write(ProjectionInput(incident=incident, events=incident.timeline))
                for incident in incidents
            )
        )

        assert await row_counts(database) == (100, 100)
        # The first write goes alone; the 99 that gathered meanwhile share a commit.
        assert 1 <= len(commits) <= 3

    async def test_a_write_waits_for_those_expected_and_shares_their_commit(
        self, database: Database
    ) -> None:
        writer = ProjectionWriter(database, gather_seconds=0.2)
        commits = _commits(database)
        first, second = declare(1), declare(2)

        async def step_still_with_temporal() -> None:
            with writer.expecting():
                await asyncio.sleep(0.01)  # Temporal answers while the first write gathers
            await writer.write(ProjectionInput(incident=second, events=second.timeline))

        await asyncio.gather(
            writer.write(ProjectionInput(incident=first, events=first.timeline)),
            step_still_with_temporal(),
        )

        assert await row_counts(database) == (2, 2)
        assert len(commits) == 1

    async def test_a_lone_write_does_not_wait_to_gather(self, database: Database) -> None:
        writer = ProjectionWriter(database, gather_seconds=600)
        incident = declare(1)

        # Nobody is expected to write: the gathering never starts.
        await asyncio.wait_for(
            writer.write(ProjectionInput(incident=incident, events=incident.timeline)), 30
        )

        assert await row_counts(database) == (1, 1)

    async def test_a_failing_projection_fails_alone(self, database: Database) -> None:
        writer = ProjectionWriter(database)
        good = declare(1)
        bad = declare(2)
        # An event of incident 3 (never stored) breaks the timeline's foreign key.
        stray = declare(3).timeline

        results = await asyncio.gather(
            writer.write(ProjectionInput(incident=good, events=good.timeline)),
            writer.write(ProjectionInput(incident=bad, events=stray)),
            return_exceptions=True,
        )

        assert results[0] == []  # written; it asked nobody's followers
        assert isinstance(results[1], Exception)
        async with database.session() as session:
            repository = IncidentRepository(session)
            assert await repository.get(1) is not None
            assert await repository.get(2) is None  # its transaction rolled back whole

    async def test_a_writer_without_facts_leaves_them_to_the_next_projection(
        self, database: Database
    ) -> None:
        """The API's writer: the incident and its events at once, the reports' facts
        with the workflow's own write of the same incident."""
        incident = declare(5)
        await ProjectionWriter(database, facts=False).write(
            ProjectionInput(incident=incident, events=incident.timeline)
        )
        async with database.session() as session:
            stored = await IncidentRepository(session).get(5)
            missing = await ReportRepository(session).missing_facts(10)
        assert stored is not None and stored.seq == incident.seq
        assert missing == [5]

        await ProjectionWriter(database).write(
            ProjectionInput(incident=incident, events=incident.timeline, history_length=3)
        )
        async with database.session() as session:
            assert await ReportRepository(session).missing_facts(10) == []

    async def test_later_writes_of_an_incident_keep_their_order(self, database: Database) -> None:
        writer = ProjectionWriter(database)
        incident = declare(7)
        first = ProjectionInput(incident=incident.model_copy(deep=True), events=incident.timeline)
        events = work_on(incident)

        await asyncio.gather(
            writer.write(first), writer.write(ProjectionInput(incident=incident, events=events))
        )

        async with database.session() as session:
            stored = await IncidentRepository(session).get(7)
        assert stored is not None
        assert stored.seq == incident.seq
        assert [e.seq for e in stored.timeline] == list(range(1, incident.seq + 1))

    async def test_a_cancelled_caller_leaves_its_write_to_finish(self, database: Database) -> None:
        writer = ProjectionWriter(database)
        incident = declare(9)
        write = asyncio.ensure_future(
            writer.write(ProjectionInput(incident=incident, events=incident.timeline))
        )
        await asyncio.sleep(0)
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        await writer.write(ProjectionInput(incident=declare(10), events=[]))  # after it, in order

        assert (await row_counts(database))[0] == 2


class TestFollowersWithTheProjection:
    async def test_the_write_answers_who_follows_each_piece_of_news(
        self, database: Database
    ) -> None:
        async with database.session() as session:
            subscriptions = SubscriptionRepository(session)
            now = datetime.now(UTC)
            await subscriptions.subscribe(
                Subscriber(channel="status"), SubscriptionScope(incident_id=1), False, "ada", now
            )
            await subscriptions.subscribe(
                Subscriber(user="bob"), SubscriptionScope(incident_id=1), True, "ada", now
            )
            await session.commit()
        incident = declare(1)
        public, internal = (
            SubscriberQuery(incident_id=1, service=None, priority=incident.priority, public=p)
            for p in (True, False)
        )

        answer = await ProjectionWriter(database).write(
            ProjectionInput(
                incident=incident, events=incident.timeline, followers_of=[public, internal]
            )
        )

        assert answer == [
            [EscalationTarget(channel="status"), EscalationTarget(user="bob")],
            [EscalationTarget(user="bob")],
        ]
