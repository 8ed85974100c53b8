"""An API wired to a real worker on the time-skipping server, and users of every role."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.process import ProcessDocument
from domain.roles import Role
from domain.sla import SlaPolicy
from store.db import Database
from store.users import create_user
from tests.temporal_fixtures import Receiver, RunWorker
from tests.what_if_cases import (
    V1_DEFINITION,
    V2_DEFINITION,
    last_week,
    quick_p2,
    quiet_p3,
    record,
    slow_p2,
)

# No SLA targets, so timelines hold only what people did; clocks are tested elsewhere.
PLAIN = ProcessDocument(sla=SlaPolicy(targets={}))

PEOPLE = {
    "alice": [Role.RESPONDER],
    "bob": [Role.RESPONDER],
    "carol": [Role.COMMANDER],
    "olive": [Role.PROCESS_OWNER],
    "vic": [Role.VIEWER],
    "ada": [Role.ADMIN],
}


@dataclass
class Api:
    http: httpx.AsyncClient
    tokens: dict[str, str]
    database: Database
    transport: httpx.AsyncBaseTransport

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def post(self, path: str, who: str, json: object = None) -> httpx.Response:
        return await self.http.post(path, headers=self.auth(who), json=json)

    async def get(self, path: str, who: str, **params: object) -> httpx.Response:
        return await self.http.get(path, headers=self.auth(who), params=params)  # type: ignore[arg-type]


@pytest.fixture
async def api(
    time_skipping: WorkflowEnvironment, database: Database, run_worker: RunWorker, tmp_path: Path
) -> AsyncIterator[Api]:
    async with serve(time_skipping, database, run_worker, tmp_path, PLAIN) as running:
        yield running


@asynccontextmanager
async def serve(
    env: WorkflowEnvironment,
    database: Database,
    run_worker: RunWorker,
    data_dir: Path,
    process: ProcessDocument,
    receiver: Receiver | None = None,
) -> AsyncIterator[Api]:
    """The API and a worker on `env`, running `process`, with a user for each of PEOPLE."""
    tokens = {}
    for name, roles in PEOPLE.items():
        _, tokens[name] = await create_user(database, name, roles)
    async with run_worker(env.client, database, receiver, process.definition()) as settings:
        settings = settings.model_copy(update={"data_dir": data_dir})
        app = create_app(settings, database=database, temporal=env.client, process=process)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://vagt") as http:
                yield Api(http=http, tokens=tokens, database=database, transport=transport)


@pytest.fixture
async def ops_api(
    time_skipping: WorkflowEnvironment,
    database: Database,
    run_worker: RunWorker,
    receiver: Receiver,
    tmp_path: Path,
) -> AsyncIterator[Api]:
    """For what-ifs: version 1 of `ops` published and version 2 a draft, and incidents 7
    to 10 recorded under version 1 (tests.what_if_cases). Notifications go to
    `receiver`; the workers' process file configures the `ops` channel."""
    process = ProcessDocument.model_validate(
        {"channels": {"ops": {"type": "webhook", "url": "http://127.0.0.1:9/"}}}
    )
    process.sla = SlaPolicy(targets={})
    versions = "/api/v1/processes/ops/versions"
    async with serve(time_skipping, database, run_worker, tmp_path, process, receiver) as running:
        for definition in (V1_DEFINITION, V2_DEFINITION):
            body = {k: v for k, v in definition.items() if k != "version"}
            created = await running.post(versions, "olive", json=body)
            assert created.status_code == 201, created.text
        assert (await running.post(f"{versions}/1/publish", "olive")).status_code == 200
        await record(database, slow_p2(), quick_p2(), last_week(), quiet_p3())
        yield running


# People who can be reached, and a status page's channel; no SLA clocks.
STAKEHOLDER_PROCESS = ProcessDocument.model_validate(
    {
        "sla": {"targets": {}},
        "people": {
            name: {"notify": [{"channel": "email", "address": f"{name}@example.com"}]}
            for name in ("alice", "carol", "vic")
        },
        "channels": {
            "status": {"type": "webhook", "url": "http://127.0.0.1:9/status"},
            "email": {"type": "email", "host": "127.0.0.1", "sender": "vagt@example.com"},
        },
    }
)


@pytest.fixture
async def desk(
    time_skipping: WorkflowEnvironment,
    database: Database,
    run_worker: RunWorker,
    receiver: Receiver,
    tmp_path: Path,
) -> AsyncIterator[Api]:
    """The API with STAKEHOLDER_PROCESS: people to subscribe, and a status page channel."""
    async with serve(
        time_skipping, database, run_worker, tmp_path, STAKEHOLDER_PROCESS, receiver
    ) as api:
        yield api
