from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import delete

from domain.alerts import Link
from domain.integrations import IntegrationFormat, IntegrationSettings
from store.changes import ChangePage, ChangeRecord, ChangeRepository
from store.db import Database
from store.integrations import IntegrationRepository
from store.tables import IntegrationRow

NOON = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def integration(database: Database, name: str = "ci") -> int:
    async with database.session() as session:
        created, _ = await IntegrationRepository(session).create(
            IntegrationSettings(name=name, format=IntegrationFormat.PAGERDUTY)
        )
        await session.commit()
    return created.id


async def add(
    database: Database,
    integration_id: int,
    summary: str,
    happened_at: datetime = NOON,
    service: str | None = "checkout",
) -> ChangeRecord:
    async with database.session() as session:
        record = await ChangeRepository(session).add(
            integration_id=integration_id,
            service=service,
            summary=summary,
            source="ci.example.com",
            happened_at=happened_at,
            received_at=NOON + timedelta(minutes=5),
            details={},
            links=[],
        )
        await session.commit()
    return record


async def listed(
    database: Database,
    service: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> ChangePage:
    async with database.session() as session:
        return await ChangeRepository(session).list(service, since, until, limit, offset)


def summaries(page: ChangePage) -> list[str]:
    return [change.summary for change in page.items]


class TestAdd:
    async def test_a_change_reads_back_as_it_was_given(self, database: Database) -> None:
        integration_id = await integration(database)
        oslo = timezone(timedelta(hours=1))
        async with database.session() as session:
            added = await ChangeRepository(session).add(
                integration_id=integration_id,
                service="checkout",
                summary="Deployed checkout v2.3.1 ✓",
                source="ci.example.com",
                happened_at=datetime(2026, 3, 2, 13, 0, tzinfo=oslo),
                received_at=NOON + timedelta(seconds=2),
                details={"build": {"number": 2, "passed": True}, "notes": "日本語"},
                links=[Link(href="https://ci.example.com/2", text="Build 2")],
            )
            await session.commit()

        page = await listed(database)

        assert page.items == [added]
        change = page.items[0]
        assert change.happened_at == NOON
        assert change.happened_at.utcoffset() == timedelta(0)
        assert change.details == {"build": {"number": 2, "passed": True}, "notes": "日本語"}
        assert change.links == [Link(href="https://ci.example.com/2", text="Build 2")]

    async def test_changes_go_with_their_integration(self, database: Database) -> None:
        kept, removed = await integration(database, "kept"), await integration(database, "gone")
        await add(database, kept, "kept change")
        await add(database, removed, "removed change")

        async with database.session() as session:
            await session.execute(delete(IntegrationRow).where(IntegrationRow.id == removed))
            await session.commit()

        assert summaries(await listed(database)) == ["kept change"]


class TestList:
    async def test_newest_first_by_when_they_happened(self, database: Database) -> None:
        integration_id = await integration(database)
        await add(database, integration_id, "middle", NOON)
        await add(database, integration_id, "oldest", NOON - timedelta(hours=1))
        await add(database, integration_id, "newest", NOON + timedelta(hours=1))
        await add(database, integration_id, "middle, sent later", NOON)

        page = await listed(database)

        assert summaries(page) == ["newest", "middle, sent later", "middle", "oldest"]
        assert page.total == 4

    async def test_by_service(self, database: Database) -> None:
        integration_id = await integration(database)
        await add(database, integration_id, "checkout deploy", service="checkout")
        await add(database, integration_id, "search deploy", service="search")
        await add(database, integration_id, "unrouted deploy", service=None)

        page = await listed(database, service="search")

        assert summaries(page) == ["search deploy"]
        assert page.total == 1

    async def test_since_is_inclusive_and_until_exclusive(self, database: Database) -> None:
        integration_id = await integration(database)
        for hour in range(4):
            await add(database, integration_id, f"at {hour}", NOON + timedelta(hours=hour))

        page = await listed(
            database, since=NOON + timedelta(hours=1), until=NOON + timedelta(hours=3)
        )

        assert summaries(page) == ["at 2", "at 1"]

    async def test_pages_count_every_match(self, database: Database) -> None:
        integration_id = await integration(database)
        for minute in range(5):
            await add(database, integration_id, f"at {minute}", NOON + timedelta(minutes=minute))

        page = await listed(database, limit=2, offset=1)

        assert summaries(page) == ["at 3", "at 2"]
        assert (page.total, page.limit, page.offset) == (5, 2, 1)
