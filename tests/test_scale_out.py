"""Several workers on one task queue: they share the incidents, one killed with SIGKILL
mid-escalation leaves its incidents to the others with no page lost or sent twice, and
SIGTERM drains a worker: it takes no new task and finishes the activities it runs.
Several API replicas keep nothing of their own: each shows what another did.

Every worker is the real `python worker.py` process on a dev server of the test's own;
the API runs in the test's process. The clocks are real (a dev server cannot skip time).
"""

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import EventType, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from domain.roles import Role
from store.db import Database
from store.users import UserRepository, create_user
from tests.polling import eventually
from tests.processes import api_process, api_stack, worker_process
from tests.receivers import HttpReceiver, Reply, deliveries_recorded
from vagt.ports import free_port
from vagt.settings import Settings
from workflows.contracts import workflow_id

pytestmark = pytest.mark.slow

LEVEL_DELAY = 15
LEVELS = 3
INCIDENTS = 16

PROCESS = f"""\
name: scale-out
version: 1
sla:
  targets:
    P1: {{acknowledge: 1h, resolve: 4h, review: 5d}}
    P2: {{acknowledge: 1h, resolve: 8h, review: 5d}}
    P3: {{resolve: 3d}}
    P4: {{resolve: 5d}}
    P5: {{resolve: 10d}}
people:
  alice: {{notify: [{{channel: pager}}]}}
escalation_policies:
  relay:
    levels:
      - {{targets: [{{user: alice}}], delay: {LEVEL_DELAY}s}}
      - {{targets: [{{user: alice}}], delay: {LEVEL_DELAY}s}}
      - {{targets: [{{user: alice}}], delay: {LEVEL_DELAY}s}}
escalation:
  P1: [relay]
sla_notify: [{{channel: pager}}]
channels:
  pager: {{type: webhook, url: "{{url}}/page"}}
"""

REVIEW = {
    "root_cause": "a deploy without its migration",
    "action_items": [{"description": "gate deploys", "owner": "alice", "due_date": "2030-01-01"}],
}

Stack = tuple[httpx.AsyncClient, Settings, Database]


@pytest.fixture
async def stack(
    own_dev_server: WorkflowEnvironment, tmp_path: Path, http_receiver: HttpReceiver
) -> AsyncIterator[Stack]:
    process_file = tmp_path / "process.yaml"
    process_file.write_text(PROCESS.replace("{url}", http_receiver.url))
    async with api_stack(own_dev_server.client, tmp_path, process_file) as running:
        yield running


def _worker(
    stack: ExitStack, settings: Settings, tmp_path: Path, name: str, **environment: str
) -> "subprocess.Popen[bytes]":
    assert settings.process_file is not None
    return stack.enter_context(
        worker_process(
            settings,
            tmp_path / f"{name}.log",
            settings.process_file,
            VAGT_DATA_DIR=str(tmp_path / name),
            **environment,
        )
    )


async def _declare(http: httpx.AsyncClient, n: int) -> int:
    answer = await http.post(
        "/api/v1/incidents", json={"title": f"Checkout down {n}", "impact": 1, "urgency": 1}
    )
    assert answer.status_code == 201, answer.text
    number: int = answer.json()["id"]
    return number


async def _step(http: httpx.AsyncClient, url: str, body: Any = None, **headers: str) -> None:
    answer = await http.post(url, json=body, headers=headers)
    assert answer.status_code in (200, 201), answer.text


async def _identities(client: Client, incident: int) -> list[str]:
    """The workers that completed the incident's workflow tasks and activities, in order."""
    history = await client.get_workflow_handle(workflow_id(incident)).fetch_history()
    seen = []
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
            seen.append(event.workflow_task_completed_event_attributes.identity)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            seen.append(event.activity_task_started_event_attributes.identity)
    return seen


def _of(process: "subprocess.Popen[bytes]") -> str:
    """The worker's Temporal identity: the SDK's default, `pid@host`."""
    return f"{process.pid}@"


async def _polling(
    client: Client, settings: Settings, workers: set["subprocess.Popen[bytes]"]
) -> bool:
    """Every one of `workers` polls the task queue for workflow tasks."""
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=settings.task_queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    identities = {poller.identity for poller in answer.pollers}
    return all(any(i.startswith(_of(worker)) for i in identities) for worker in workers)


async def _holding_a_page(
    processes: ExitStack, stack: Stack, receiver: HttpReceiver, tmp_path: Path, grace: str
) -> tuple["subprocess.Popen[bytes]", int]:
    """A worker named "draining" in the middle of sending a page that the receiver
    answers only when released; the paged incident's number."""
    http, settings, _ = stack
    receiver.script(Reply(hang=True))
    draining = _worker(processes, settings, tmp_path, "draining", VAGT_SHUTDOWN_GRACE_SECONDS=grace)
    paged = await _declare(http, 1)
    await eventually(lambda: len(receiver.requests) == 1, 30, "the page is being sent")
    return draining, paged


class TestSeveralWorkers:
    async def test_a_worker_sigkilled_mid_escalation_leaves_every_incident_to_the_other(
        self,
        stack: Stack,
        own_dev_server: WorkflowEnvironment,
        http_receiver: HttpReceiver,
        tmp_path: Path,
    ) -> None:
        http, settings, database = stack
        client = own_dev_server.client
        _, owner = await create_user(database, "olive", [Role.PROCESS_OWNER])

        def pages() -> Counter[int]:
            bodies = (request.json() for request in http_receiver.requests)
            return Counter(body["incident_id"] for body in bodies if body["kind"] == "page")

        with ExitStack() as processes:
            first = _worker(processes, settings, tmp_path, "first")
            second = _worker(processes, settings, tmp_path, "second")
            await eventually(lambda: _polling(client, settings, {first, second}), 60, "both poll")
            declared = [await _declare(http, n) for n in range(INCIDENTS)]
            t0 = time.monotonic()

            async def level(n: int) -> bool:
                return all(pages()[incident] >= n for incident in declared)

            await eventually(lambda: level(1), LEVEL_DELAY - 3, "level 1 paged for every incident")
            # Not inside a delivery: a kill between the receiver's answer and Temporal
            # recording it rightly repeats that page with its key; this test is after
            # repeats that are not that.
            await eventually(
                lambda: deliveries_recorded(http, http_receiver), 10, "level 1 recorded"
            )

            # Both workers took incidents: Temporal spreads new workflows over pollers.
            owners = {incident: (await _identities(client, incident))[0] for incident in declared}
            on_first = [i for i, who in owners.items() if who.startswith(_of(first))]
            on_second = [i for i, who in owners.items() if who.startswith(_of(second))]
            assert on_first and on_second, owners
            assert len(on_first) + len(on_second) == INCIDENTS

            # Each says it is healthy where its container's health check looks.
            for name in ("first", "second"):
                assert _worker_health(tmp_path / name).returncode == 0

            # The first dies with level 2 of every incident still to fall due.
            assert time.monotonic() - t0 < LEVEL_DELAY, "level 2 must fall due after the kill"
            first.send_signal(signal.SIGKILL)
            first.wait()

            await eventually(lambda: level(LEVELS), LEVEL_DELAY * LEVELS + 30, "every level paged")
            await eventually(
                lambda: deliveries_recorded(http, http_receiver), 30, "every page recorded"
            )

            for incident in declared:
                url = f"/api/v1/incidents/{incident}"
                await _step(http, f"{url}/acknowledge")
                await _step(
                    http,
                    f"{url}/resolve",
                    {"summary": "failed over", "root_cause_category": "change"},
                )
                await _step(http, f"{url}/review", REVIEW)
                await _step(http, f"{url}/review/approve", Authorization=f"Bearer {owner}")

            async def closed() -> bool:
                for incident in declared:
                    handle = client.get_workflow_handle(workflow_id(incident))
                    if (await handle.describe()).status != WorkflowExecutionStatus.COMPLETED:
                        return False
                    shown = (await http.get(f"/api/v1/incidents/{incident}")).json()
                    if shown["state"] != "closed":
                        return False
                return True

            await eventually(closed, 60, "every incident closed, in Temporal and the read model")

        # No page lost or sent twice: each incident was paged once per level, each page
        # reached the receiver once, and each was recorded as delivered.
        assert pages() == dict.fromkeys(declared, LEVELS)
        keys = Counter(request.headers["idempotency-key"] for request in http_receiver.requests)
        assert len(keys) == INCIDENTS * LEVELS
        assert set(keys.values()) == {1}, [key for key, n in keys.items() if n > 1]
        # The second worker finished what the first had begun.
        for incident in on_first:
            assert (await _identities(client, incident))[-1].startswith(_of(second))
        assert b"Traceback" not in (tmp_path / "second.log").read_bytes()


class TestDrain:
    async def test_sigterm_finishes_the_running_page_and_takes_no_new_task(
        self,
        stack: Stack,
        own_dev_server: WorkflowEnvironment,
        http_receiver: HttpReceiver,
        tmp_path: Path,
    ) -> None:
        http, settings, _ = stack
        client = own_dev_server.client
        log = tmp_path / "draining.log"
        with ExitStack() as processes:
            draining, paged = await _holding_a_page(
                processes, stack, http_receiver, tmp_path, grace="60"
            )
            draining.send_signal(signal.SIGTERM)
            await eventually(lambda: b"draining" in log.read_bytes(), 10, "the drain begins")
            # Give a poll that was in flight every chance to hand the worker a new task.
            await asyncio.sleep(2)
            waiting = await _declare(http, 2)
            await asyncio.sleep(3)
            assert draining.poll() is None, "the worker left before its activity finished"
            assert await _identities(client, waiting) == [], "a draining worker took a task"

            http_receiver.release()
            began = time.monotonic()
            assert await asyncio.to_thread(draining.wait, 30) == 0
            assert time.monotonic() - began < 15
            assert b"drained" in log.read_bytes()
            assert _worker_health(tmp_path / "draining").returncode == 1, "stopped is unhealthy"

            # A worker started later takes the waiting incident and the paged one's next task.
            _worker(processes, settings, tmp_path, "next")

            # By incident, not by count: on a slow machine the paged incident's next
            # level (LEVEL_DELAY after its first) may fall due in the same moment.
            def waiting_paged() -> bool:
                bodies = (request.json() for request in http_receiver.requests)
                return any(body["incident_id"] == waiting for body in bodies)

            await eventually(waiting_paged, 30, "the waiting one paged")
            await eventually(
                lambda: deliveries_recorded(http, http_receiver), 30, "both pages recorded"
            )

        # The page that was running when SIGTERM came was sent once, by the draining
        # worker, whose activity completed on its first attempt.
        history = await client.get_workflow_handle(workflow_id(paged)).fetch_history()
        started = [
            event.activity_task_started_event_attributes
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
        ]
        deliveries = [a for a in started if a.identity.startswith(_of(draining))]
        assert [a.attempt for a in deliveries] == [1]
        assert any(
            event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED
            for event in history.events
        )
        keys = Counter(request.headers["idempotency-key"] for request in http_receiver.requests)
        assert set(keys.values()) == {1}

    async def test_an_activity_outlasting_the_grace_is_cancelled_and_retried_elsewhere(
        self,
        stack: Stack,
        own_dev_server: WorkflowEnvironment,
        http_receiver: HttpReceiver,
        tmp_path: Path,
    ) -> None:
        http, settings, _ = stack
        with ExitStack() as processes:
            # Never released: the drain must not wait for it.
            draining, paged = await _holding_a_page(
                processes, stack, http_receiver, tmp_path, grace="3"
            )
            began = time.monotonic()
            draining.send_signal(signal.SIGTERM)
            await asyncio.to_thread(draining.wait, 30)
            assert time.monotonic() - began < 3 + 7, "the drain outlasted its grace"

            _worker(processes, settings, tmp_path, "next")

            async def delivered() -> bool:
                shown = (await http.get(f"/api/v1/incidents/{paged}")).json()
                return any(
                    event["kind"] == "notification_attempted"
                    and event["details"]["outcome"] == "delivered"
                    for event in shown["timeline"]
                )

            await eventually(delivered, 60, "the page delivered by the next worker")

        # The retry carries the first attempt's key, so the receiver can drop it.
        keys = {request.headers["idempotency-key"] for request in http_receiver.requests}
        assert len(http_receiver.requests) == 2 and len(keys) == 1

    async def test_a_second_sigterm_ends_the_drain_at_once(
        self, stack: Stack, http_receiver: HttpReceiver, tmp_path: Path
    ) -> None:
        with ExitStack() as processes:
            draining, _ = await _holding_a_page(
                processes, stack, http_receiver, tmp_path, grace="600"
            )
            draining.send_signal(signal.SIGTERM)
            log = tmp_path / "draining.log"
            await eventually(lambda: b"draining" in log.read_bytes(), 10, "the drain begins")
            draining.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(draining.wait, 10) == 1
        assert b"second stop signal" in log.read_bytes()


class TestApiReplicas:
    async def test_whatever_one_replica_did_the_other_shows_and_a_login_holds_on_both(
        self, own_dev_server: WorkflowEnvironment, tmp_path: Path
    ) -> None:
        """Two `vagt api` processes, as behind the compose file's proxy: an incident
        declared through one is stepped through the other, and a web console session
        begun on one is valid on the other."""
        settings = Settings(
            data_dir=tmp_path,
            temporal_address=own_dev_server.client.service_client.config.target_host,
            task_queue=f"vagt-replicas-{uuid.uuid4()}",
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'vagt.db'}",
        )
        database = Database(settings.read_model_url)
        await database.migrate()
        _, token = await create_user(database, "alice", [Role.RESPONDER, Role.COMMANDER])
        async with database.session() as session:
            await UserRepository(session).set_password("alice", "correct horse battery")
            await session.commit()
        await database.dispose()
        one = settings.model_copy(update={"api_port": free_port()})
        other = settings.model_copy(update={"api_port": free_port()})
        with ExitStack() as processes:
            processes.enter_context(worker_process(settings, tmp_path / "worker.log"))
            async with (
                api_process(one, tmp_path / "one.log"),
                api_process(other, tmp_path / "other.log"),
                httpx.AsyncClient(timeout=30) as http,
            ):
                first = f"http://127.0.0.1:{one.api_port}"
                second = f"http://127.0.0.1:{other.api_port}"
                bearer = {"Authorization": f"Bearer {token}"}
                declared = await http.post(
                    f"{first}/api/v1/incidents",
                    json={"title": "Payments down", "impact": 2, "urgency": 2},
                    headers=bearer,
                )
                assert declared.status_code == 201, declared.text
                url = f"/api/v1/incidents/{declared.json()['id']}"
                stepped = await http.post(f"{second}{url}/acknowledge", headers=bearer)
                assert stepped.status_code == 200, stepped.text

                async def shown() -> bool:
                    answer = await http.get(f"{first}{url}", headers=bearer)
                    return bool(answer.json()["state"] == "acknowledged")

                await eventually(shown, 10, "the acknowledgement shown by the first replica")

                login = await http.get(f"{first}/login")
                csrf = re.search(r'name="csrf_token" value="([^"]*)"', login.text)
                assert csrf is not None
                signed_in = await http.post(
                    f"{first}/login",
                    data={
                        "csrf_token": csrf[1],
                        "username": "alice",
                        "password": "correct horse battery",
                    },
                )
                assert signed_in.status_code == 303, signed_in.text
                page = await http.get(f"{second}/incidents/{declared.json()['id']}")
                assert page.status_code == 200
                assert "Payments down" in page.text

                for replica in (first, second):
                    ready = await http.get(f"{replica}/readyz")
                    assert ready.json() == {"status": "ready", "database": "ok", "temporal": "ok"}
                health = await asyncio.to_thread(
                    _command, "api-health", VAGT_API_PORT=str(one.api_port)
                )
                assert health.returncode == 0, health.stderr
            stopped = await asyncio.to_thread(
                _command, "api-health", VAGT_API_PORT=str(one.api_port)
            )
            assert stopped.returncode == 1
            assert "does not answer" in stopped.stderr


def _command(command: str, **environment: str) -> "subprocess.CompletedProcess[str]":
    """`vagt <command>`, as a container's health check runs it."""
    return subprocess.run(
        [sys.executable, "-m", "vagt.cli", command],
        env=os.environ | environment,
        capture_output=True,
        text=True,
        timeout=30,
    )


def _worker_health(data_dir: Path) -> "subprocess.CompletedProcess[str]":
    return _command("worker-health", VAGT_DATA_DIR=str(data_dir))
