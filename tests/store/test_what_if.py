"""What-if runs in the read model: which incidents a filter picks, and pages stored once."""

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from domain.lifecycle import IncidentState
from domain.priority import Priority
from domain.what_if import Outcome
from store.db import Database
from store.what_if import RunStatus, WhatIfFilter, WhatIfRepository
from tests.domain.builders import T0
from tests.what_if_cases import HOUR, V2, last_week, quick_p2, quiet_p3, record, slow_p2

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def recorded(database: Database) -> Database:
    """Incidents 7, 8, 9 and 10 of tests.what_if_cases, as projected by their workflows."""
    await record(database, slow_p2(), quick_p2(), last_week(), quiet_p3())
    return database


async def matching(database: Database, before: datetime = NOW, **wanted: object) -> int:
    async with database.session() as session:
        return await WhatIfRepository(session).matching(
            "ops", WhatIfFilter.model_validate(wanted), before
        )


class TestFilter:
    async def test_picks_by_period_priority_state_version_and_number(
        self, recorded: Database
    ) -> None:
        assert await matching(recorded) == 4
        assert await matching(recorded, declared_from=T0, declared_to=T0 + 3 * HOUR) == 3
        # From is inclusive, to exclusive: #8 was declared at exactly one hour.
        assert await matching(recorded, declared_from=T0 + HOUR) == 2
        assert await matching(recorded, declared_to=T0 + HOUR) == 2
        assert await matching(recorded, priorities=["P2"]) == 3
        assert await matching(recorded, states=["closed"]) == 2
        assert await matching(recorded, versions=[1]) == 4
        assert await matching(recorded, versions=[2]) == 0
        assert await matching(recorded, incident_ids=[7, 10, 99]) == 2

    async def test_leaves_out_other_processes_and_incidents_declared_after_asking(
        self, recorded: Database
    ) -> None:
        async with recorded.session() as session:
            other = await WhatIfRepository(session).matching("billing", WhatIfFilter(), NOW)
        assert other == 0
        # Asked right after #7 was declared: the others came later.
        assert await matching(recorded, before=T0) == 2  # #9 (a week earlier) and #7

    def test_refuses_a_period_that_ends_before_it_starts(self) -> None:
        with pytest.raises(ValidationError, match="declared_to must be later"):
            WhatIfFilter(declared_from=T0, declared_to=T0)

    def test_refuses_naive_times_and_unknown_fields(self) -> None:
        with pytest.raises(ValidationError):
            WhatIfFilter.model_validate({"declared_from": "2025-03-03T09:00:00"})
        with pytest.raises(ValidationError):
            WhatIfFilter.model_validate({"priority": "P1"})


class TestPages:
    async def test_walks_incidents_in_number_order_and_stores_a_page_once(
        self, recorded: Database
    ) -> None:
        async with recorded.session() as session:
            runs = WhatIfRepository(session)
            wanted = WhatIfFilter(priorities=[Priority.P2], states=[IncidentState.CLOSED])
            run = await runs.create(V2, wanted, "olive", NOW, total=2)
            await session.commit()

            page = await runs.next_incidents(run, size=1)
            assert [incident.id for incident in page] == [7]
            assert len(page[0].timeline) == len(slow_p2().timeline)
            outcome = Outcome(incident_id=7, recorded=[], simulated=[])
            assert await runs.record_page(run, [(page[0], outcome)], done=False)
            await session.commit()
            # A retried attempt read the run before the first one stored the page.
            assert not await runs.record_page(run, [(page[0], outcome)], done=False)
            await session.rollback()

            moved = await runs.get(run.id)
            assert moved is not None
            assert (moved.cursor, moved.examined, moved.totals.incidents) == (7, 1, 1)
            assert moved.status is RunStatus.RUNNING

            rest = await runs.next_incidents(moved, size=5)
            assert [incident.id for incident in rest] == [8]
            assert await runs.record_page(
                moved, [(rest[0], Outcome(incident_id=8, recorded=[], simulated=[]))], done=True
            )
            await session.commit()

            finished = await runs.get(run.id)
            assert finished is not None
            assert (finished.examined, finished.status) == (2, RunStatus.COMPLETED)
            assert finished.finished_at is not None
            outcomes, total = await runs.outcomes(run.id, changed_only=False, limit=10, offset=0)
            assert ([o.incident_id for o in outcomes], total) == ([7, 8], 2)
            assert (outcomes[0].title, outcomes[0].priority) == ("Incident 7", Priority.P2)

    async def test_a_failed_run_stays_failed(self, recorded: Database) -> None:
        async with recorded.session() as session:
            runs = WhatIfRepository(session)
            run = await runs.create(V2, WhatIfFilter(), "olive", NOW, total=4)
            await runs.fail(run.id, "read model unreachable")
            await session.commit()
            # A late page from an attempt still running changes nothing.
            assert not await runs.record_page(run, [], done=True)
            failed = await runs.get(run.id)
        assert failed is not None
        assert (failed.status, failed.error) == (RunStatus.FAILED, "read model unreachable")
