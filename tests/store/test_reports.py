"""Reports from the read model, on SQLite and PostgreSQL, against figures worked out by hand.

The incidents are tests.domain.test_measures' three (see its docstring for every
figure) and three more opened by the same Prometheus alert, `disk-full` on `db`:

- #4, P3, declared T0 + 2 d (Wednesday), resolved at + 2 h, root cause "hardware".
- #5, P3, declared T0 + 9 d (Wednesday of the next week), acknowledged at + 20 min,
  resolved at + 1 h, root cause "hardware".
- #6, P3, declared T0 + 9 d 1 h, untouched.

Measured at T0 + 10 d, as in the domain's tests.
"""

import random
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.alert_groups import AlertSource
from domain.incident import Incident
from domain.lifecycle import IncidentState, Step
from domain.measures import Compliance, Spread, StateTime, Window, facts, measure
from domain.priority import Priority
from domain.requests import (
    AcknowledgeRequest,
    ActionItem,
    ApproveReviewRequest,
    DeclareRequest,
    HoldRequest,
    ReopenRequest,
    ResumeRequest,
    SubmitReviewRequest,
)
from domain.sla import ClockName
from store.db import Database
from store.incidents import IncidentRepository
from store.reports import (
    ActionItemChange,
    ActionItemQuery,
    ActionState,
    GroupBy,
    OwnerCounts,
    ReportFilter,
    ReportRepository,
    Trend,
    rebuild_day_sums,
)
from store.tables import IncidentFactsRow, ReportDayRow
from tests.domain.builders import ALICE, OLIVE, T0
from tests.domain.test_measures import (
    NOW,
    RESOLVED,
    breached_then_resolved,
    reopened_and_closed,
    untouched_p3,
)
from tests.what_if_cases import V1

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
ITEM = ActionItem(description="Alert on disk", owner="bob", due_date=date(2025, 4, 1))
EVERYTHING = ReportFilter(window=Window())


def disk_full(number: int, at: timedelta) -> Incident:
    source = AlertSource(
        integration_id=1,
        integration_name="prometheus",
        dedup_key="disk-full",
        group_workflow_id=f"group-{number}",
    )
    request = DeclareRequest(title=f"#{number} disk full", impact=2, urgency=2, service="db")
    return Incident.declare(number, request, ALICE, T0 + at, V1, source=source)


def recurring() -> list[Incident]:
    four = disk_full(4, 2 * DAY)
    four.apply(Step.RESOLVE, RESOLVED, ALICE, T0 + 2 * DAY + 2 * HOUR)
    five = disk_full(5, 9 * DAY)
    five.apply(Step.ACKNOWLEDGE, AcknowledgeRequest(), ALICE, T0 + 9 * DAY + 20 * MINUTE)
    five.apply(Step.RESOLVE, RESOLVED, ALICE, T0 + 9 * DAY + HOUR)
    return [four, five, disk_full(6, 9 * DAY + HOUR)]


def the_three() -> list[Incident]:
    return [reopened_and_closed(), breached_then_resolved(), untouched_p3()]


async def project(database: Database, incidents: list[Incident]) -> None:
    async with database.session() as session:
        repository = IncidentRepository(session)
        for incident in incidents:
            await repository.project(incident, incident.timeline, history_length=incident.seq)
        await session.commit()


async def reports(database: Database) -> ReportRepository:
    return ReportRepository(database.session())


class TestMeasures:
    async def test_every_measure_over_the_three(self, database: Database) -> None:
        await project(database, the_three())

        async with database.session() as session:
            measured = await ReportRepository(session).measures(EVERYTHING, NOW, "day")

        # The figures of tests.domain.test_measures, now from the database.
        assert measured.incidents == 3
        assert measured.time_to_acknowledge == Spread(count=1, mean=600, median=600, p90=600)
        assert measured.time_to_resolve == Spread(count=2, mean=10_800, median=10_800, p90=18_000)
        assert measured.sla[ClockName.ACKNOWLEDGE] == Compliance(met=1, breached=1)
        assert measured.sla[ClockName.RESOLVE] == Compliance(met=2)
        assert measured.in_state[IncidentState.DETECTED] == StateTime(
            incidents=3, total=177_000, mean=59_000
        )
        assert measured.in_state[IncidentState.RESOLVED] == StateTime(
            incidents=2, total=844_200, mean=422_100
        )
        assert measured.in_state[IncidentState.ON_HOLD] == StateTime(
            incidents=1, total=3_600, mean=3_600
        )
        assert measured.hold == Spread(count=1, mean=3_600, median=3_600, p90=3_600)
        assert measured.reopened == 1
        assert measured.opened == {date(2025, 3, 3): 1, date(2025, 3, 4): 1, date(2025, 3, 11): 1}
        assert measured.closed == {date(2025, 3, 4): 1}

    async def test_filters_and_weeks(self, database: Database) -> None:
        await project(database, the_three() + recurring())
        # P3 on db from the alert, declared in the second week: #5 and #6.
        second_week = ReportFilter(
            window=Window(start=T0 + 7 * DAY, end=T0 + 14 * DAY),
            priorities=[Priority.P3],
            services=["db"],
            integrations=["prometheus"],
        )

        async with database.session() as session:
            repository = ReportRepository(session)
            measured = await repository.measures(second_week, NOW, "week")
            everything = await repository.measures(EVERYTHING, NOW, "week")

        assert measured.incidents == 2
        assert measured.time_to_acknowledge == Spread(count=1, mean=1_200, median=1_200, p90=1_200)
        assert measured.time_to_resolve == Spread(count=1, mean=3_600, median=3_600, p90=3_600)
        # #5 detected 20 min, #6 detected from 9 d 1 h to 10 d: 23 h = 82,800 s.
        assert measured.in_state[IncidentState.DETECTED] == StateTime(
            incidents=2, total=1_200 + 82_800, mean=42_000
        )
        assert measured.opened == {date(2025, 3, 10): 2}
        # Weeks start on Monday: #1, #2, #4 in the first; #3, #5, #6 in the second.
        assert everything.opened == {date(2025, 3, 3): 3, date(2025, 3, 10): 3}
        # Three resolved over both weeks: 5 h, 1 h, 2 h and 1 h: the median of four is
        # the mean of the middle two (1 h and 2 h), the p90 the 4th of 4.
        assert everything.time_to_resolve == Spread(
            count=4, mean=9 * HOUR.total_seconds() / 4, median=5_400, p90=18_000
        )

    async def test_the_database_agrees_with_the_definition(self, database: Database) -> None:
        incidents = random_incidents(random.Random(8), 120)
        await project(database, incidents)
        window = Window(start=T0 + 2 * DAY, end=T0 + 20 * DAY)
        expected = measure([facts(i) for i in incidents], window, NOW + 20 * DAY, "day")

        async with database.session() as session:
            measured = await ReportRepository(session).measures(
                ReportFilter(window=window), NOW + 20 * DAY, "day"
            )
            # The same queries at once, each in a session of its own.
            together = await ReportRepository(session, database).measures(
                ReportFilter(window=window), NOW + 20 * DAY, "day"
            )

        assert flat(measured.model_dump()) == pytest.approx(flat(expected.model_dump()))
        assert together == measured
        assert measured.incidents > 40 and measured.hold.count > 5 and measured.reopened > 3


async def test_the_day_sums_follow_every_step_and_ignore_late_projections(
    database: Database,
) -> None:
    # Each incident projected after each of its steps (priority, state and clocks
    # changing, reopenings taking a resolution away), then some earlier snapshots again,
    # late: the day sums must equal sums made anew from the facts, and the reports the
    # definition.
    rng = random.Random(27)
    snapshots: list[Incident] = []
    incidents = random_incidents(rng, 60, snapshots)
    await project_each(database, snapshots)
    await project_each(database, rng.sample(snapshots, 20))  # late, older: ignored
    window = Window(start=T0 + 2 * DAY + HOUR, end=T0 + 25 * DAY)
    expected = measure([facts(i) for i in incidents], window, NOW + 30 * DAY, "week")

    async with database.session() as session:
        kept = await day_sums(session)
        await rebuild_day_sums(session)
        made_anew = await day_sums(session)
        measured = await ReportRepository(session).measures(
            ReportFilter(window=window), NOW + 30 * DAY, "week"
        )

    assert kept.keys() == made_anew.keys()
    for key, sums in made_anew.items():
        assert kept[key] == pytest.approx(sums), key
    assert flat(measured.model_dump()) == pytest.approx(flat(expected.model_dump()))


async def project_each(database: Database, snapshots: list[Incident]) -> None:
    """The snapshots in order, with their whole timelines, a few to a transaction as the
    projection's group commit writes them (an incident's steps may share one)."""
    for start in range(0, len(snapshots), 7):
        async with database.session() as session:
            await IncidentRepository(session).project_many(
                [(s, s.timeline, s.seq) for s in snapshots[start : start + 7]]
            )
            await session.commit()


async def day_sums(session: AsyncSession) -> dict[tuple[object, ...], dict[str, float]]:
    rows = await session.execute(select(*ReportDayRow.__table__.columns))
    return {
        (row["day"], row["priority"]): {
            k: v for k, v in row.items() if k not in ("day", "priority")
        }
        for row in rows.mappings()
    }


def flat(document: dict[str, Any], prefix: str = "") -> dict[str, object]:
    """`{"a": {"b": 1}}` as `{"a.b": 1}`, which pytest.approx compares."""
    found: dict[str, object] = {}
    for key, value in document.items():
        if isinstance(value, dict):
            found |= flat(value, f"{prefix}{key}.")
        else:
            found[f"{prefix}{key}"] = value
    return found


async def test_a_measure_counted_in_another_snapshot_is_counted_again(
    database: Database,
) -> None:
    # Four resolved (5 h, 1 h, 2 h, 1 h), but the count came from a session that saw six
    # (two reopened since): the walk to rank 6 runs out, counts again, walks again.
    await project(database, the_three() + recurring())

    async with database.session() as session:
        found = await ReportRepository(session)._spread(
            session, [], IncidentFactsRow.resolve_seconds, count=6, total=32_400
        )

    assert found.p90 == 18_000
    if database.is_sqlite:
        assert (found.count, found.median) == (4, 5_400)
    else:
        # PostgreSQL picks by fractions of the count it was given, in one query: off by
        # a rank at worst, never a failure.
        assert found.median in {3_600, 5_400, 7_200}


def random_incidents(
    rng: random.Random, count: int, snapshots: list[Incident] | None = None
) -> list[Incident]:
    """Incidents taking random steps at random times, some held, reopened, closed; each
    one as it was after every step is added to `snapshots`, if given."""
    found = []
    for number in range(1, count + 1):
        at = T0 + timedelta(minutes=rng.randrange(30 * 24 * 60))
        incident = Incident.declare(
            number,
            DeclareRequest(title=f"#{number}", impact=rng.choice([1, 2]), urgency=2),
            ALICE,
            at,
            V1,
        )
        for step in rng.choice(
            [
                [],
                [Step.ACKNOWLEDGE],
                [Step.RESOLVE],
                [Step.ACKNOWLEDGE, Step.HOLD, Step.RESUME, Step.RESOLVE],
                [Step.ACKNOWLEDGE, Step.RESOLVE, Step.REOPEN, Step.HOLD],
                [Step.ACKNOWLEDGE, Step.RESOLVE, Step.SUBMIT_REVIEW, Step.APPROVE_REVIEW],
            ]
        ):
            at += timedelta(seconds=rng.randrange(1, 20_000))
            incident.fire_due(at)
            request = {
                Step.ACKNOWLEDGE: AcknowledgeRequest(),
                Step.HOLD: HoldRequest(reason="vendor"),
                Step.RESUME: ResumeRequest(),
                Step.RESOLVE: RESOLVED,
                Step.REOPEN: ReopenRequest(reason="back"),
                Step.SUBMIT_REVIEW: SubmitReviewRequest(root_cause="Disk", action_items=[ITEM]),
                Step.APPROVE_REVIEW: ApproveReviewRequest(),
            }[step]
            actor = OLIVE if step is Step.APPROVE_REVIEW else ALICE
            if snapshots is not None:
                snapshots.append(incident.model_copy(deep=True))
            incident.apply(step, request, actor, at)
        found.append(incident)
        if snapshots is not None:
            snapshots.append(incident.model_copy(deep=True))
    return found


class TestRecurrence:
    async def test_top_groups_with_trend_and_links(self, database: Database) -> None:
        await project(database, the_three() + recurring())
        # The second week against the first: disk-full came back twice after once.
        second_week = ReportFilter(window=Window(start=T0 + 7 * DAY, end=T0 + 14 * DAY))

        async with database.session() as session:
            repository = ReportRepository(session)
            by_key = await repository.recurrence(second_week, GroupBy.DEDUP_KEY)
            by_cause = await repository.recurrence(
                ReportFilter(window=Window(start=T0, end=T0 + 14 * DAY)), GroupBy.ROOT_CAUSE
            )

        [group] = by_key.groups
        assert (group.integration, group.key, group.count) == ("prometheus", "disk-full", 2)
        assert (group.previous_count, group.trend) == (1, Trend.RISING)
        assert [i.id for i in group.incidents] == [6, 5]
        assert group.incidents[0].url == "/api/v1/incidents/6"
        assert group.incidents[0].review_url is None
        assert group.first_declared_at == T0 + 9 * DAY
        # hardware: #1 (reviewed), #2, #4 and #5, newest first.
        [cause] = by_cause.groups
        assert (cause.key, cause.count, cause.trend) == ("hardware", 4, Trend.NEW)
        assert [i.id for i in cause.incidents] == [5, 4, 2, 1]
        assert cause.incidents[-1].review_url == "/incidents/1#review"

    async def test_a_group_seen_once_is_not_recurring(self, database: Database) -> None:
        await project(database, the_three())

        async with database.session() as session:
            found = await ReportRepository(session).recurrence(
                ReportFilter(window=Window(start=T0, end=T0 + 14 * DAY)), GroupBy.SERVICE
            )

        assert found.groups == []


class TestActionItems:
    async def test_an_approved_reviews_items_are_tracked_once(self, database: Database) -> None:
        incident = reopened_and_closed()
        await project(database, [incident])
        await project(database, [incident])  # a retried projection adds nothing

        async with database.session() as session:
            page = await ReportRepository(session).action_items(
                ActionItemQuery(), today=date(2025, 4, 1)
            )

        [item] = page.items
        assert (item.incident_id, item.owner, item.description) == (1, "alice", "Monitor it")
        assert (item.state, item.due_date, item.overdue) == (
            ActionState.OPEN,
            date(2025, 4, 1),
            False,
        )
        assert item.created_at == T0 + DAY + HOUR

    async def test_overdue_by_owner_and_changed_by_patch(self, database: Database) -> None:
        await project(database, [reopened_and_closed()])
        the_day_after = date(2025, 4, 2)

        async with database.session() as session:
            repository = ReportRepository(session)
            overdue = await repository.action_items(ActionItemQuery(overdue=True), the_day_after)
            before = await repository.owners(the_day_after)
            changed = await repository.change_action_item(
                overdue.items[0].id,
                ActionItemChange(state=ActionState.DONE, note="alert added"),
                "alice",
                datetime(2025, 4, 2, 10, tzinfo=T0.tzinfo),
            )
            await session.commit()
        async with database.session() as session:
            after = await ReportRepository(session).owners(the_day_after)

        assert overdue.total == 1
        assert before == [OwnerCounts(owner="alice", open=1, overdue=1)]
        assert changed is not None
        assert (changed.state, changed.overdue, changed.note) == (
            ActionState.DONE,
            False,
            "alert added",
        )
        assert changed.finished_at == datetime(2025, 4, 2, 10, tzinfo=T0.tzinfo)
        assert after == [OwnerCounts(owner="alice", done=1)]
