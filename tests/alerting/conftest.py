"""A whole alerting stack on Temporal's dev server: the API and a worker in this process."""

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from domain.integrations import IntegrationFormat, IntegrationSettings
from domain.process import DEFAULT_PROCESS
from store.db import Database
from store.integrations import IntegrationRepository
from tests.polling import eventually
from tests.processes import api_stack, worker_process
from tests.temporal_fixtures import Receiver
from vagt.settings import Settings
from worker import build_worker

PAYLOADS = Path(__file__).resolve().parents[3] / "shared" / "payloads"


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


@dataclass
class Stack:
    http: httpx.AsyncClient
    settings: Settings
    database: Database
    client: Client

    async def integration(self, format: IntegrationFormat, **settings: Any) -> str:
        async with self.database.session() as session:
            _, key = await IntegrationRepository(session).create(
                IntegrationSettings(
                    name=f"{format}-{len(settings)}-{id(settings)}", format=format, **settings
                )
            )
            await session.commit()
        return key

    async def incidents(self, **params: Any) -> list[dict[str, Any]]:
        page = (await self.http.get("/api/v1/incidents", params=params | {"limit": 200})).json()
        items: list[dict[str, Any]] = page["items"]
        return items

    async def incident(self, incident_id: int) -> dict[str, Any]:
        shown: dict[str, Any] = (await self.http.get(f"/api/v1/incidents/{incident_id}")).json()
        return shown


@pytest.fixture
async def stack(dev_server: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    async with api_stack(dev_server.client, tmp_path) as (http, settings, database):
        worker = build_worker(
            dev_server.client, settings, database, Receiver().deliver, DEFAULT_PROCESS
        )
        async with worker:
            yield Stack(http, settings, database, dev_server.client)


async def only_incident(stack: Stack) -> dict[str, Any]:
    async def one() -> bool:
        return len(await stack.incidents()) == 1

    await eventually(one)
    return await stack.incident((await stack.incidents())[0]["id"])


async def alert_count(stack: Stack, incident_id: int, expected: int) -> None:
    async def counted() -> bool:
        alerts = (await stack.incident(incident_id))["alerts"]
        return alerts is not None and alerts["count"] == expected

    await eventually(counted)


@pytest.fixture
async def storm_stack(own_dev_server: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[Stack]:
    """As `stack`, with the worker in a process of its own, as in production, and a
    Temporal server of its own."""
    client = own_dev_server.client
    async with api_stack(client, tmp_path) as (http, settings, database):
        with worker_process(settings, tmp_path / "worker.log"):
            yield Stack(http, settings, database, client)
