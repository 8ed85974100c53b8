import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.exc import StatementError

from store.db import Database, normalise_url
from store.tables import IncidentIdRow, is_modelled, metadata


class TestNormaliseUrl:
    @pytest.mark.parametrize(
        ("url", "expected"),
        [
            ("postgresql://u:p@db:5432/vagt", "postgresql+asyncpg://u:p@db:5432/vagt"),
            ("postgres://u@db/vagt", "postgresql+asyncpg://u@db/vagt"),
            ("postgresql+psycopg://db/vagt?x=1", "postgresql+asyncpg://db/vagt?x=1"),
            ("postgresql+asyncpg://db/vagt", "postgresql+asyncpg://db/vagt"),
            ("sqlite:///var/vagt.db", "sqlite+aiosqlite:///var/vagt.db"),
            ("sqlite:////abs/vagt.db", "sqlite+aiosqlite:////abs/vagt.db"),
            ("sqlite+aiosqlite:///var/vagt.db", "sqlite+aiosqlite:///var/vagt.db"),
        ],
    )
    def test_uses_the_async_driver(self, url: str, expected: str) -> None:
        assert normalise_url(url) == expected


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_object": is_modelled}
    )
    return list(compare_metadata(context, metadata))


async def _revisions(database: Database) -> list[str]:
    async with database.session() as session:
        return list(await session.scalars(text("SELECT version_num FROM alembic_version")))


class TestMigrations:
    async def test_migrated_schema_matches_the_models(self, database: Database) -> None:
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_schema_differences) == []

    async def test_migrating_again_changes_nothing(self, database: Database) -> None:
        async with database.session() as session:
            session.add(IncidentIdRow(allocated_at=datetime.now(UTC)))
            await session.commit()

        await database.migrate()

        assert await _revisions(database) == ["0014"]
        async with database.session() as session:
            assert len((await session.scalars(select(IncidentIdRow))).all()) == 1

    async def test_processes_starting_together_migrate_once(self, empty_database: Database) -> None:
        url = empty_database.url.render_as_string(hide_password=False)
        others = [Database(url, schema=empty_database.schema) for _ in range(3)]
        try:
            await asyncio.gather(*(other.migrate() for other in others))
        finally:
            await asyncio.gather(*(other.dispose() for other in others))

        assert await _revisions(empty_database) == ["0014"]
        async with empty_database.engine.connect() as connection:
            assert await connection.run_sync(_schema_differences) == []


class TestTimestamps:
    async def test_read_back_as_aware_utc(self, database: Database) -> None:
        oslo = timezone(timedelta(hours=2))
        at = datetime(2025, 6, 1, 14, 30, 15, 123456, tzinfo=oslo)
        async with database.session() as session:
            session.add(IncidentIdRow(id=7, allocated_at=at))
            await session.commit()
        async with database.session() as session:
            stored = await session.scalar(select(IncidentIdRow.allocated_at))

        assert stored == at
        assert stored is not None and stored.utcoffset() == timedelta(0)

    async def test_naive_times_are_refused(self, database: Database) -> None:
        async with database.session() as session:
            session.add(IncidentIdRow(allocated_at=datetime(2025, 6, 1, 14, 30)))
            with pytest.raises(StatementError, match="naive datetime"):
                await session.flush()


class TestSqlite:
    async def test_creates_the_directory_and_uses_wal_with_foreign_keys_and_patient_writers(
        self, tmp_path: Path
    ) -> None:
        database = Database(f"sqlite:///{tmp_path}/deep/er/vagt.db")
        try:
            async with database.engine.connect() as connection:
                journal = await connection.scalar(text("PRAGMA journal_mode"))
                foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
                busy_timeout = await connection.scalar(text("PRAGMA busy_timeout"))
                synchronous = await connection.scalar(text("PRAGMA synchronous"))
        finally:
            await database.dispose()

        assert (journal, foreign_keys, busy_timeout) == ("wal", 1, 30_000)
        assert synchronous == 1  # NORMAL: the WAL is synced at checkpoints

    async def test_the_thread_engine_shares_the_file_and_its_settings(self, tmp_path: Path) -> None:
        database = Database(f"sqlite:///{tmp_path}/vagt.db")
        await database.migrate()
        try:
            engine = database.thread_engine()
            assert engine is not None and database.thread_engine() is engine

            def write_and_read_settings() -> tuple[object, ...]:
                with engine.begin() as connection:
                    connection.execute(insert(IncidentIdRow).values(allocated_at=datetime.now(UTC)))
                    return tuple(
                        connection.scalar(text(f"PRAGMA {name}"))
                        for name in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
                    )

            settings = await asyncio.to_thread(write_and_read_settings)
            async with database.session() as session:
                allocated = (await session.scalars(select(IncidentIdRow.id))).all()
        finally:
            await database.dispose()

        assert settings == ("wal", 1, 30_000, 1)
        assert len(allocated) == 1  # written on the thread, read through the async engine

    def test_no_thread_engine_in_memory_or_on_postgresql(self) -> None:
        assert Database("sqlite+aiosqlite:///:memory:").thread_engine() is None
        assert Database("postgresql://vagt@127.0.0.1/vagt").thread_engine() is None
