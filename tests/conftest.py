"""Fixtures shared by the whole test suite."""

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from store.db import Database, normalise_url
from tests.numbering import fresh_numbering
from tests.receivers import HttpReceiver, SmtpServer
from tests.receivers import smtp_server as running_smtp_server

pytest_plugins = ["tests.temporal_fixtures"]

# CI points this at a PostgreSQL server; each test gets its own schema there.
POSTGRES_URL_VARIABLE = "VAGT_TEST_POSTGRES_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database with no tables yet: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path}/read-model/vagt.db")
        try:
            yield database
        finally:
            await database.dispose()
        return
    url = postgres_server()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    await execute(url, f'CREATE SCHEMA "{schema}"')
    database = Database(url, schema=schema)
    try:
        yield database
    finally:
        await database.dispose()
        await execute(url, f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
async def database(empty_database: Database) -> Database:
    """A migrated, empty read model on SQLite and on PostgreSQL, numbering incidents
    from a random point (tests.numbering)."""
    await empty_database.migrate()
    await fresh_numbering(empty_database)
    return empty_database


def postgres_server() -> str:
    """The PostgreSQL server's URL the tests are given; without one, the test is skipped,
    saying how to give it."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(
            f"PostgreSQL tests need {POSTGRES_URL_VARIABLE}, "
            "e.g. postgresql://postgres@127.0.0.1:5432/test"
        )
    return url


async def execute(url: str, statement: str) -> None:
    """One statement on `url`'s server, outside a transaction (CREATE DATABASE may not
    run in one)."""
    engine = create_async_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture
async def http_receiver() -> AsyncIterator[HttpReceiver]:
    """A real HTTP server on a spare port that records every request sent to it."""
    server = HttpReceiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server on a spare port that keeps every message it accepts."""
    with running_smtp_server() as server:
        yield server
