"""A worker process killed mid-incident loses nothing: a new one finishes the incident."""

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.roles import Role
from store.db import Database
from store.tables import TimelineEventRow
from store.users import create_user
from vagt.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


@contextmanager
def _worker_process(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    env = os.environ | {
        "VAGT_TEMPORAL_ADDRESS": settings.temporal_target,
        "VAGT_TASK_QUEUE": settings.task_queue,
        "VAGT_DATABASE_URL": settings.read_model_url,
    }
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "worker.py")], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.fixture
async def stack(
    dev_server: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings, Database]]:
    settings = Settings(
        temporal_address=dev_server.client.service_client.config.target_host,
        task_queue=f"vagt-crash-{uuid.uuid4()}",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'vagt.db'}",
        data_dir=tmp_path,
        step_timeout_seconds=30,
    )
    database = Database(settings.read_model_url)
    await database.migrate()
    _, token = await create_user(database, "alice", [Role.RESPONDER, Role.COMMANDER])
    app = create_app(settings, database=database, temporal=dev_server.client)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://vagt",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ) as http:
            yield http, settings, database
    await database.dispose()


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
        with _worker_process(settings, log) as first:
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
        with _worker_process(settings, log):
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
