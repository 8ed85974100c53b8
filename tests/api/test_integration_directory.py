"""The alert endpoints' integration lookups: remembered, refreshed once, served stale."""

import asyncio
from pathlib import Path

import pytest

from api.integration_directory import IntegrationDirectory
from domain.integrations import IntegrationFormat, IntegrationSettings
from store.db import Database
from store.integrations import IntegrationRecord, IntegrationRepository


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _integration(database: Database) -> tuple[IntegrationRecord, str]:
    async with database.session() as session:
        created = await IntegrationRepository(session).create(
            IntegrationSettings(name="prometheus", format=IntegrationFormat.ALERTMANAGER)
        )
        await session.commit()
    return created


@pytest.fixture
async def database(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'vagt.db'}")
    await database.migrate()
    return database


class TestIntegrationDirectory:
    async def test_a_storm_after_expiry_reads_the_database_once(
        self, database: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        record, key = await _integration(database)
        reads = 0
        by_key = IntegrationRepository.by_key

        async def counted(self: IntegrationRepository, key: str) -> IntegrationRecord | None:
            nonlocal reads
            reads += 1
            await asyncio.sleep(0.01)  # a lookup that takes a moment, as under load
            return await by_key(self, key)

        monkeypatch.setattr(IntegrationRepository, "by_key", counted)
        clock = Clock()
        directory = IntegrationDirectory(database, ttl=5, clock=clock)

        first = await asyncio.gather(*(directory.by_key(key) for _ in range(100)))
        clock.now = 6  # expired
        second = await asyncio.gather(*(directory.by_key(key) for _ in range(100)))

        assert {found.id for found in [*first, *second] if found} == {record.id}
        assert reads == 2
        await database.dispose()

    async def test_an_unreachable_read_model_serves_the_last_answer_or_fails_clearly(
        self, database: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        record, key = await _integration(database)
        clock = Clock()
        directory = IntegrationDirectory(database, ttl=5, clock=clock)
        assert (await directory.by_key(key)) == record

        async def down(self: IntegrationRepository, key: str) -> IntegrationRecord | None:
            raise ConnectionRefusedError("read model down")

        monkeypatch.setattr(IntegrationRepository, "by_key", down)
        clock.now = 6

        assert (await directory.by_key(key)) == record  # alerts keep flowing
        with pytest.raises(ConnectionRefusedError):
            await directory.by_key("a-key-never-seen")
        await database.dispose()

    async def test_a_cancelled_waiter_leaves_the_others_their_answer(
        self, database: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        record, key = await _integration(database)
        by_key = IntegrationRepository.by_key

        async def slow(self: IntegrationRepository, key: str) -> IntegrationRecord | None:
            await asyncio.sleep(0.05)
            return await by_key(self, key)

        monkeypatch.setattr(IntegrationRepository, "by_key", slow)
        directory = IntegrationDirectory(database)
        first = asyncio.ensure_future(directory.by_key(key))
        second = asyncio.ensure_future(directory.by_key(key))
        await asyncio.sleep(0.01)
        first.cancel()

        assert (await second) == record
        await database.dispose()
