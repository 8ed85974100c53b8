"""Lookups by secret: integrations (served stale while the read model is down) and
users (never served stale), each remembered for a few seconds and refreshed once."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import update

from api.directories import IntegrationDirectory, UserDirectory
from domain.integrations import IntegrationFormat, IntegrationSettings
from domain.roles import Role
from store.db import Database
from store.integrations import IntegrationRecord, IntegrationRepository
from store.tables import UserRow
from store.users import UserRecord, UserRepository, create_user


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


class TestUserDirectory:
    async def test_a_token_is_read_once_per_ttl_and_a_change_shows_after_it(
        self, database: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        user, token = await create_user(database, "alice", [Role.RESPONDER])
        reads = 0
        by_token = UserRepository.by_token

        async def counted(self: UserRepository, token: str) -> UserRecord | None:
            nonlocal reads
            reads += 1
            return await by_token(self, token)

        monkeypatch.setattr(UserRepository, "by_token", counted)
        clock = Clock()
        directory = UserDirectory(database, ttl=5, clock=clock)

        found = await asyncio.gather(*(directory.by_key(token) for _ in range(50)))
        assert {record.name for record in found if record} == {"alice"}
        assert reads == 1
        async with database.session() as session:  # disabled, as an admin would
            await session.execute(
                update(UserRow).where(UserRow.name == "alice").values(disabled=True)
            )
            await session.commit()
        assert (await directory.by_key(token)) == user  # remembered for up to 5 s
        clock.now = 6
        assert (await directory.by_key(token)) is None  # disabled, once it expired
        assert reads == 2
        await database.dispose()

    async def test_an_unreachable_read_model_fails_rather_than_trust_an_old_answer(
        self, database: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        _, token = await create_user(database, "alice", [Role.RESPONDER])
        clock = Clock()
        directory = UserDirectory(database, ttl=5, clock=clock)
        assert (await directory.by_key(token)) is not None

        async def down(self: UserRepository, token: str) -> UserRecord | None:
            raise ConnectionRefusedError("read model down")

        monkeypatch.setattr(UserRepository, "by_token", down)
        clock.now = 6

        with pytest.raises(ConnectionRefusedError):
            await directory.by_key(token)
        await database.dispose()
