"""A worker process killed mid-incident loses nothing: a new one finishes the incident."""

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from domain.roles import Role
from store.db import Database
from store.tables import TimelineEventRow
from store.users import create_user
from tests.processes import api_stack, worker_process
from vagt.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
async def stack(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings, Database]]:
    async with api_stack(dev_server.client, tmp_path) as running:
        yield running


async def _step(http: httpx.AsyncClient, url: str, body: Any = None) -> dict[str, Any]:
    response = await http.post(url, json=body)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


async def _event_rows(database: Database, incident_id: int) -> int:
    async with database.session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(TimelineEventRow)
            .where(TimelineEventRow.incident_id == incident_id)
        )
    return count or 0


class TestWorkerCrash:
    async def test_sigkilled_worker_is_replaced_and_the_incident_finishes_intact(
        self, stack: tuple[httpx.AsyncClient, Settings, Database], tmp_path: Path
    ) -> None:
        http, settings, database = stack
        log = tmp_path / "worker.log"
        with worker_process(settings, log) as first:
            incident = await _step(
                http, "/api/v1/incidents", {"title": "API latency", "impact": 2, "urgency": 1}
            )
            url = f"/api/v1/incidents/{incident['id']}"
            await _step(http, f"{url}/acknowledge")
            await _step(http, f"{url}/note", {"text": "p99 at 4s"})
            first.send_signal(signal.SIGKILL)
            first.wait()

        # With no worker, a step is accepted by Temporal and waits; a new worker takes it.
        pending = asyncio.create_task(http.post(f"{url}/assign", json={"commander": "alice"}))
        await asyncio.sleep(1)
        assert not pending.done()
        with worker_process(settings, log):
            assigned = await pending
            assert assigned.status_code == 200, assigned.text
            await _step(
                http, f"{url}/resolve", {"summary": "scaled", "root_cause_category": "capacity"}
            )
            review = {
                "root_cause": "traffic doubled",
                "action_items": [
                    {"description": "autoscale", "owner": "alice", "due_date": "2030-01-01"}
                ],
            }
            await _step(http, f"{url}/review", review)
            reviewer = await create_user(database, "olive", [Role.PROCESS_OWNER])
            approve = await http.post(
                f"{url}/review/approve", headers={"Authorization": f"Bearer {reviewer[1]}"}
            )
            assert approve.status_code == 200, approve.text
            # The read model catches up once the workflow writes its last batch.
            for _ in range(200):
                shown = (await http.get(url)).json()
                if shown["state"] == "closed" and await _event_rows(database, incident["id"]) == 7:
                    break
                await asyncio.sleep(0.05)

        kinds = [event["kind"] for event in shown["timeline"]]
        assert kinds == [
            "declared",
            "acknowledged",
            "note_added",
            "assigned",
            "resolved",
            "review_submitted",
            "review_approved",
        ]
        assert await _event_rows(database, incident["id"]) == 7
        assert b"Traceback" not in log.read_bytes()
