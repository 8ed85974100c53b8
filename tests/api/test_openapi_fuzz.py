"""Schemathesis against the real API and its own OpenAPI document: no 5xx, and every answer
(status, content type, headers, body) is one the document promises.

The app runs on schemathesis' ASGI transport, whose event loop is not pytest's; so the app
connects to Temporal (the dev server) and runs its worker inside its own lifespan, on that
loop. Requests carry an admin token, alerts a real integration key, and steps name real
incidents, so the fuzzed bodies reach the handlers and the workflows behind them. The number
of cases is bounded and drawn from a fixed seed, so a run takes about a minute per database
and a failure comes back on the next run.
"""

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from pydantic import SecretStr
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi
from starlette.types import Receive, Scope, Send
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from api.app import create_app
from api.deps import MAX_INTEGER
from domain.integrations import IntegrationFormat
from domain.process import ProcessDocument
from store.db import Database
from tests.conftest import execute, postgres_server
from tests.temporal_fixtures import Receiver
from vagt.settings import Settings
from vagt.temporal import connect
from worker import build_worker
from workflows.alert_group import AlertGroupWorkflow
from workflows.incident import IncidentWorkflow
from workflows.what_if import WhatIfWorkflow

pytestmark = pytest.mark.slow

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": 20260302,
        "generation": {"max-examples": 10, "deterministic": True},
        "checks": {
            # Vagt is lenient where its senders are: pydantic's lax mode takes 0 and 1 for
            # booleans and numbers for times (Unix seconds), and the alert parsers take any
            # ISO 8601 time PagerDuty takes and blank strings as absent. Schemathesis counts
            # each such acceptance as a failure; the refusals that matter are asserted in
            # tests/api and tests/domain.
            "negative_data_rejection": {"enabled": False},
            # A body the schema allows may still break a rule of the process, which the
            # README documents as 422: an unknown category, root cause or user, a P1 review
            # without action items.
            "positive_data_acceptance": {
                "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]
            },
        },
    }
)

FuzzCase = schemathesis.Case[Any]

ADMIN_TOKEN = f"vagt_fuzz_{uuid.uuid4().hex}"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
PROCESS = ProcessDocument()
# The document the cases are drawn from: the app's own, built without starting it.
DOCUMENT = create_app(Settings(), process=PROCESS).openapi()


class LateApp:
    """The app the cases go to, set by the `vagt` fixture: the schema needs an app when the
    module is imported, before there is a Temporal server to build the real one for."""

    def __init__(self) -> None:
        self.app: FastAPI | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the vagt fixture serves the app"
        await self.app(scope, receive, send)


SERVED = LateApp()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)
schema.app = SERVED


# The incident and integration ids aimed at are those made before fuzzing, and this one.
UNKNOWN_ID = 999_999

SENDERS = {
    IntegrationFormat.ALERTMANAGER: "/api/v1/integrations/alertmanager",
    IntegrationFormat.GRAFANA: "/api/v1/integrations/grafana",
    IntegrationFormat.GENERIC: "/api/v1/alerts",
}


@dataclass
class FuzzedVagt:
    http: asgi.ASGIClient
    keys: dict[IntegrationFormat, str] = field(default_factory=dict)
    task_queue: str = ""
    incidents: list[int] = field(default_factory=list)
    integrations: list[int] = field(default_factory=list)

    def populate(self) -> None:
        """An integration of each format for the alerts, two more for the integration
        routes to disable, rename and re-key, and two incidents for the steps."""
        for format in IntegrationFormat:
            self.keys[format] = self._create_integration(f"fuzz-{format}", format)["key"]
        for number in range(2):
            created = self._create_integration(f"target-{number}", IntegrationFormat.GENERIC)
            self.integrations.append(created["integration"]["id"])
        for impact in (1, 3):
            body = {"title": f"Fuzz target {impact}", "impact": impact, "urgency": impact}
            declared = self.http.post("/api/v1/incidents", headers=ADMIN, json=body)
            assert declared.status_code == 201, declared.text
            self.incidents.append(declared.json()["id"])

    def _create_integration(self, name: str, format: IntegrationFormat) -> dict[str, Any]:
        body = {"name": name, "format": format}
        created = self.http.post("/api/v1/integrations", headers=ADMIN, json=body)
        assert created.status_code == 201, created.text
        answer: dict[str, Any] = created.json()
        return answer

    def credentials(self, case: FuzzCase) -> dict[str, str]:
        for format, path in SENDERS.items():
            if case.operation.path == path:
                return {"Authorization": f"Bearer {self.keys[format]}"}
        return dict(ADMIN)

    def aim(self, case: FuzzCase) -> None:
        """Point cases at things that exist, so valid ones get past 404 and 401."""
        parameters = case.path_parameters or {}
        # In every case, so none disables, renames or re-keys the integrations alerts use.
        if "integration_id" in parameters:
            parameters["integration_id"] = _pick(parameters["integration_id"], self.integrations)
        if "incident_id" in parameters:
            parameters["incident_id"] = _pick(parameters["incident_id"], self.incidents)
        if case.meta is None or not case.meta.generation.mode.is_positive:
            return
        if "key" in parameters:
            grafana = "grafana" in case.operation.path
            format = IntegrationFormat.GRAFANA if grafana else IntegrationFormat.ALERTMANAGER
            parameters["key"] = self.keys[format]
        if isinstance(case.body, dict) and "routing_key" in case.body:
            case.body["routing_key"] = self.keys[IntegrationFormat.PAGERDUTY]


def _pick(drawn: object, existing: list[int]) -> object:
    """For a drawn id that could exist, one that does (or the one that does not); an id out
    of range stays, as the invalid part of a negative case."""
    if isinstance(drawn, str) and drawn.isdigit():
        drawn = int(drawn)
    if not isinstance(drawn, int) or isinstance(drawn, bool) or not 1 <= drawn <= MAX_INTEGER:
        return drawn
    targets = [*existing, UNKNOWN_ID]
    return targets[drawn % len(targets)]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def fuzzed_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    """As `empty_database`, for the whole module; the app migrates it and closes it."""
    if request.param == "sqlite":
        yield Database(f"sqlite:///{tmp_path_factory.mktemp('fuzz')}/vagt.db")
        return
    url = postgres_server()
    schema = f"test_{uuid.uuid4().hex[:16]}"
    await execute(url, f'CREATE SCHEMA "{schema}"')
    yield Database(url, schema=schema)
    await execute(url, f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="module")
def vagt(
    dev_server: WorkflowEnvironment,
    fuzzed_database: Database,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FuzzedVagt]:
    """The app with a worker, served to the cases, with what they are aimed at."""
    settings = Settings(
        temporal_address=dev_server.client.service_client.config.target_host,
        task_queue=f"vagt-fuzz-{uuid.uuid4()}",
        data_dir=tmp_path_factory.mktemp("data"),
        admin_token=SecretStr(ADMIN_TOKEN),
        workflow_sandbox=True,
    )
    app = create_app(settings, database=fuzzed_database, process=PROCESS)
    _start_worker_with(app, settings, fuzzed_database)
    SERVED.app = app
    try:
        # Schemathesis types ASGI messages as dicts, Starlette as mutable mappings.
        with asgi.get_client(cast(asgi.ASGIApp, SERVED)) as http:
            served = http.get("/openapi.json")
            assert served.json() == DOCUMENT, "the cases are drawn from another document"
            fuzzed = FuzzedVagt(http, task_queue=settings.task_queue)
            fuzzed.populate()
            yield fuzzed
    finally:
        asgi.shutdown_lifespans()
        SERVED.app = None


def _start_worker_with(app: FastAPI, settings: Settings, database: Database) -> None:
    """A worker in the app's lifespan, so it runs on the event loop the app is served on."""
    serve = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = await connect(settings)
        deliver = Receiver().deliver
        worker = build_worker(client, settings, database, deliver, PROCESS.definition())
        try:
            async with serve(app), worker:
                yield
        finally:
            # Closed on this loop: its connections belong to it.
            await database.dispose()

    app.router.lifespan_context = lifespan


@schema.parametrize()
def test_every_answer_is_documented(case: FuzzCase, vagt: FuzzedVagt) -> None:
    vagt.aim(case)
    # Every check schemathesis has but the one turned off in CONFIG: no 5xx; status, content
    # type, headers and body as documented; auth enforced; 405 with the right Allow.
    case.call_and_validate(headers=vagt.credentials(case))


async def test_every_workflow_the_cases_ran_replays(
    vagt: FuzzedVagt, dev_server: WorkflowEnvironment
) -> None:
    """The cases took steps, sent alerts and published processes in orders no
    hand-written test does; a worker that restarts, or evicts a workflow from its cache,
    replays each one's history from the start, and must issue the same commands again.
    Every history they left (the incidents, alert groups and what-ifs) replays here."""
    client = dev_server.client
    query = f"TaskQueue = '{vagt.task_queue}'"
    histories = [
        await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        async for run in client.list_workflows(query)
    ]
    replayer = Replayer(
        workflows=[IncidentWorkflow, AlertGroupWorkflow, WhatIfWorkflow],
        data_converter=pydantic_data_converter,
    )

    replayed = [await replayer.replay_workflow(history) for history in histories]

    assert len(replayed) >= len(vagt.incidents)
    assert all(result.replay_failure is None for result in replayed)
