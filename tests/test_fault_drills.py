"""Fault drills: in the middle of an alert storm, with SLA clocks and escalations running,
SIGKILL the worker, then the API, then Temporal's dev server, and start each again.

Afterwards nothing Vagt acknowledged is lost: every alert answered 202 is counted in its
incident, every clock or escalation that fell due while a process was down fires once
everything runs again, the notification receiver sees each idempotency key once, and the
read model shows what the workflows hold.

Every process is the real one, as `make run` starts it: `temporal server start-dev` with
its SQLite file, `python worker.py`, `vagt api`. The clocks are real too (a dev server
cannot skip time), so the drill runs for about four minutes.
"""

import asyncio
import contextlib
import itertools
import signal
import subprocess
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, select
from temporalio.client import Client

from domain.incident import Incident
from domain.integrations import IntegrationFormat, IntegrationSettings
from domain.roles import Role
from store.db import Database
from store.incidents import IncidentRepository
from store.integrations import IntegrationRepository
from store.tables import IncidentRow
from store.users import create_user
from tests.conftest import execute, postgres_server
from tests.polling import eventually
from tests.processes import api_process, worker_process
from tests.receivers import HttpReceiver, deliveries_recorded
from vagt.devstack import temporal_binary, temporal_command
from vagt.ports import free_port
from vagt.settings import Settings
from vagt.temporal import register_search_attributes, wait_until_healthy
from workflows.incident import IncidentWorkflow

pytestmark = pytest.mark.slow

# Two sets of declared incidents, one for each outage that must miss a due moment.
# Paged ones (P1) page at 0 s, 40 s and 80 s from their declaration; the worker is
# down while level 2 falls due. Breaching ones (P2) breach their acknowledge clock at
# 30 s; Temporal is down from right after their declaration until after that moment.
# (Their warnings at 15 s and 22 s fall due in the same outage, and are recorded
# without a word once the breach is due too: see domain/watch.py.)
LEVEL_DELAY = 40
BREACH_AFTER = 30
DECLARED = 6

PROCESS = f"""\
name: drill
version: 1
sla:
  warn_at: [0.5, 0.75]
  targets:
    P1: {{acknowledge: 1h, resolve: 4h, review: 5d}}
    P2: {{acknowledge: {BREACH_AFTER}s, resolve: 8h, review: 5d}}
    P3: {{resolve: 3d}}
    P4: {{resolve: 5d}}
    P5: {{resolve: 10d}}
people:
  pager-user: {{notify: [{{channel: pager}}]}}
escalation_policies:
  drill:
    levels:
      - {{targets: [{{user: pager-user}}], delay: {LEVEL_DELAY}s}}
      - {{targets: [{{user: pager-user}}], delay: {LEVEL_DELAY}s}}
      - {{targets: [{{user: pager-user}}], delay: {LEVEL_DELAY}s}}
escalation:
  P1: [drill]
sla_notify: [{{channel: pager}}]
channels:
  pager: {{type: webhook, url: "{{url}}/page"}}
"""

# The storm: PagerDuty triggers over these many dedup keys, severity warning (P3: no
# pages, so that the only notifications are the declared incidents' and their timing is
# known), sent at a steady rate so that it spans every outage. Each alert is sent again
# after a 503 or a refused connection, as PagerDuty's clients do, until it gets its 202.
STORM_RATE = 20  # alerts per second at most, from the first kill to after the last restart
STORM_KEYS = 60
STORM_SENDERS = 16


@dataclass
class Fleet:
    """The three processes, each of which the drill kills and starts again."""

    settings: Settings
    logs: Path
    process_file: Path
    stack: contextlib.AsyncExitStack
    temporal: "subprocess.Popen[bytes] | None" = None
    worker: "subprocess.Popen[bytes] | None" = None
    api: "subprocess.Popen[bytes] | None" = None

    async def start_temporal(self) -> Client:
        self.temporal = _spawn_temporal(self.settings, self.logs / "temporal.log")
        self.stack.callback(_kill, self.temporal)
        return await wait_until_healthy(self.settings, within=60)

    def start_worker(self) -> None:
        self.worker = self.stack.enter_context(
            worker_process(self.settings, self.logs / "worker.log", self.process_file)
        )

    async def start_api(self) -> None:
        self.api = await self.stack.enter_async_context(
            api_process(
                self.settings, self.logs / "api.log", VAGT_PROCESS_FILE=str(self.process_file)
            )
        )


def _spawn_temporal(settings: Settings, log: Path) -> "subprocess.Popen[bytes]":
    """`temporal server start-dev` as `make run` starts it: its state in an SQLite file."""
    with log.open("ab") as out:
        return subprocess.Popen(
            temporal_command(temporal_binary(), settings), stdout=out, stderr=out
        )


def _kill(process: "subprocess.Popen[bytes] | None") -> None:
    """SIGKILL: no shutdown hooks, no flushing, as when a machine loses power."""
    assert process is not None
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
    process.wait()


@dataclass
class Storm:
    """Senders of PagerDuty triggers; what each dedup key was sent and answered."""

    url: str
    routing_key: str
    sent: Counter[str] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    refused: Counter[int] = field(default_factory=Counter)

    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        """Until `stopping` is set; an alert already begun is sent until it gets its 202."""
        began = time.monotonic()
        alerts = itertools.count()
        limits = httpx.Limits(max_connections=STORM_SENDERS)
        async with httpx.AsyncClient(base_url=self.url, limits=limits, timeout=30) as http:

            async def sender() -> None:
                for n in alerts:
                    await asyncio.sleep(max(0.0, began + n / STORM_RATE - time.monotonic()))
                    if self.stopping.is_set():
                        return
                    await self._send(http, n)

            await asyncio.gather(*(sender() for _ in range(STORM_SENDERS)))

    async def _send(self, http: httpx.AsyncClient, n: int) -> None:
        dedup_key = f"disk-{n % STORM_KEYS}"
        body = {
            "routing_key": self.routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {"summary": f"disk {n}", "source": "db-1", "severity": "warning"},
        }
        while True:
            self.sent[dedup_key] += 1
            try:
                answer = await http.post("/v2/enqueue", json=body)
            except httpx.TransportError:
                self.refused[0] += 1
            else:
                if answer.status_code == 202:
                    self.accepted[dedup_key] += 1
                    return
                assert answer.status_code == 503, answer.text
                self.refused[answer.status_code] += 1
            await asyncio.sleep(0.5)


@contextlib.contextmanager
def _phase(name: str, timings: dict[str, float]) -> Iterator[None]:
    began = time.monotonic()
    yield
    timings[name] = time.monotonic() - began


@pytest.fixture(params=["sqlite", "postgresql"])
async def read_model_url(request: pytest.FixtureRequest) -> AsyncIterator[str | None]:
    """The read model the drill's processes share: the default SQLite file (None), or a
    PostgreSQL database of its own (a URL the worker and API processes get as is; a
    schema would need settings they do not have)."""
    if request.param == "sqlite":
        yield None
        return
    server = postgres_server()
    name = f"drill_{uuid.uuid4().hex[:16]}"
    await execute(server, f'CREATE DATABASE "{name}"')
    try:
        yield str(make_url(server).set(database=name).render_as_string(hide_password=False))
    finally:
        await execute(server, f'DROP DATABASE "{name}" WITH (FORCE)')


class TestFaultDrills:
    async def test_sigkill_worker_api_and_temporal_during_a_storm_loses_nothing(
        self, tmp_path: Path, http_receiver: HttpReceiver, read_model_url: str | None
    ) -> None:
        process_file = tmp_path / "process.yaml"
        process_file.write_text(PROCESS.replace("{url}", http_receiver.url))
        settings = Settings(
            data_dir=tmp_path,
            temporal_port=free_port(),
            temporal_ui_port=free_port(),
            api_port=free_port(),
            task_queue=f"vagt-drill-{uuid.uuid4()}",
            process_file=process_file,
            database_url=read_model_url,
        )
        database = Database(settings.read_model_url)
        await database.migrate()
        _, token = await create_user(database, "pager-user", [Role.RESPONDER, Role.COMMANDER])
        async with database.session() as session:
            _, routing_key = await IntegrationRepository(session).create(
                IntegrationSettings(
                    name="drill", format=IntegrationFormat.PAGERDUTY, rate_limit_per_minute=100_000
                )
            )
            await session.commit()
        url = f"http://{settings.api_host}:{settings.api_port}"
        timings: dict[str, float] = {}

        async with contextlib.AsyncExitStack() as stack:
            fleet = Fleet(settings, tmp_path, process_file, stack)
            client = await fleet.start_temporal()
            await register_search_attributes(client)
            fleet.start_worker()
            await fleet.start_api()
            http = await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
                )
            )

            async def declare(impact: int, urgency: int) -> list[int]:
                ids = []
                for n in range(DECLARED):
                    answer = await http.post(
                        "/api/v1/incidents",
                        json={"title": f"Checkout down {n}", "impact": impact, "urgency": urgency},
                    )
                    assert answer.status_code == 201, answer.text
                    ids.append(answer.json()["id"])
                return ids

            def notified(kind: str) -> Counter[int]:
                bodies = (request.json() for request in http_receiver.requests)
                return Counter(body["incident_id"] for body in bodies if body["kind"] == kind)

            async def delivered(incidents: list[int], kind: str, times: int, what: str) -> None:
                """Until the receiver got `times` of `kind` for each of `incidents`, and
                Temporal recorded every delivery's outcome. So no kill lands inside a
                delivery: a kill between the receiver's answer and Temporal recording it
                rightly repeats that delivery with the same key, which receivers drop.
                The drill is after repeats that are not that."""

                async def enough() -> bool:
                    counts = notified(kind)
                    return all(counts[incident] >= times for incident in incidents)

                def seen() -> str:
                    bodies = [request.json() for request in http_receiver.requests]
                    return ", ".join(f"{body['incident_id']}:{body['kind']}" for body in bodies)

                await eventually(enough, 120, what, every=0.5, seen=seen)
                await eventually(
                    lambda: deliveries_recorded(http, http_receiver),
                    60,
                    f"{what}: outcomes recorded",
                    every=0.5,
                    seen=seen,
                )

            paged = await declare(impact=1, urgency=1)  # P1: pages at 0, 40 and 80 s
            t0 = time.monotonic()
            storm = Storm(url, routing_key)
            storming = asyncio.create_task(storm.run())

            # The worker dies after the first pages, and level 2 falls due while it is down.
            await delivered(paged, "page", 1, "level 1 before the worker is killed")
            assert notified("page").total() == DECLARED, "level 2 must fall due in the outage"
            with _phase("worker down", timings):
                _kill(fleet.worker)
                await asyncio.sleep(max(0.0, t0 + LEVEL_DELAY + 10 - time.monotonic()))
                fleet.start_worker()
            await delivered(paged, "page", 2, "level 2 after the worker's restart")

            # The API dies under the storm's load; its senders see refused connections.
            with _phase("API down", timings):
                _kill(fleet.api)
                await asyncio.sleep(5)
                await fleet.start_api()

            # Temporal dies right after the second set is declared, and their acknowledge
            # clocks breach while it is down.
            await delivered(paged, "page", 3, "level 3 before Temporal is killed")
            breaching = await declare(impact=1, urgency=2)  # P2: breaches at 30 s
            with _phase("Temporal down", timings):
                _kill(fleet.temporal)
                assert notified("sla_breach") == {}, "the breach must fall due in the outage"
                await asyncio.sleep(BREACH_AFTER + 5)
                client = await fleet.start_temporal()
            await delivered(breaching, "sla_breach", 1, "breaches after Temporal's restart")

            # The storm goes on for a while against the restarted stack, then every alert
            # it began is sent until it gets its 202.
            await asyncio.sleep(10)
            storm.stopping.set()
            async with asyncio.timeout(300):
                await storming
            assert storm.accepted.total() > 1_000, "a storm of a few thousand alerts"
            assert fleet.worker is not None and fleet.worker.poll() is None, "worker exited"
            assert fleet.api is not None and fleet.api.poll() is None, "API exited"

            await self._every_accepted_alert_is_counted(database, storm)
            self._no_idempotency_key_twice(http_receiver)
            assert [notified("page")[incident] for incident in paged] == [3] * DECLARED
            await self._read_model_matches_workflows(database, client, settings)
            failed = client.list_workflows(
                f"TaskQueue = '{settings.task_queue}' AND ExecutionStatus IN "
                "('Failed', 'Terminated', 'TimedOut', 'Canceled')"
            )
            assert [execution.id async for execution in failed] == []
            print(
                f"drill: {timings}, storm sent {sum(storm.sent.values())}, "
                f"accepted {sum(storm.accepted.values())}, refused {dict(storm.refused)}"
            )
        await database.dispose()

    async def _every_accepted_alert_is_counted(self, database: Database, storm: Storm) -> None:
        """Each key's incident counts at least the alerts answered 202 and at most the
        alerts sent (a 503 or a cut connection may come after Temporal took the alert)."""
        counts: dict[str, int] = defaultdict(int)

        async def all_counted() -> bool:
            counts.clear()
            async with database.session() as session:
                rows = (await session.scalars(select(IncidentRow))).all()
            for row in rows:
                source = row.snapshot.get("source") or {}
                if source.get("dedup_key"):
                    counts[source["dedup_key"]] += row.snapshot["alerts"]["count"]
            return all(counts[key] >= storm.accepted[key] for key in storm.accepted)

        await eventually(
            all_counted, 180, "every accepted alert counted in its incident", every=0.5
        )
        for key, accepted in storm.accepted.items():
            assert accepted <= counts[key] <= storm.sent[key], (key, accepted, counts[key])

    def _no_idempotency_key_twice(self, http_receiver: HttpReceiver) -> None:
        keys = Counter(request.headers["idempotency-key"] for request in http_receiver.requests)
        assert [key for key, seen in keys.items() if seen > 1] == []

    async def _read_model_matches_workflows(
        self, database: Database, client: Client, settings: Settings
    ) -> None:
        """Every incident workflow's state, priority, alert count and timeline length is
        what the read model shows (once its projections caught up)."""
        ids = [
            execution.id
            async for execution in client.list_workflows(
                f"TaskQueue = '{settings.task_queue}' AND WorkflowType = 'IncidentWorkflow'"
            )
        ]
        assert ids

        async def matching() -> list[str]:
            differences = []
            async with database.session() as session:
                repository = IncidentRepository(session)
                for workflow_id in ids:
                    held: Incident = await client.get_workflow_handle(workflow_id).query(
                        IncidentWorkflow.incident
                    )
                    shown = await repository.get(held.id)
                    if shown is None:
                        differences.append(f"{workflow_id}: not in the read model")
                    elif shown.model_dump(exclude={"updated_at"}) != held.model_dump(
                        exclude={"updated_at"}
                    ):
                        differences.append(f"{workflow_id}: the read model differs")
            return differences

        differences: list[str] = []

        async def caught_up() -> bool:
            differences[:] = await matching()
            return not differences

        with contextlib.suppress(AssertionError):
            await eventually(caught_up, 60, "the read model to catch up", every=0.5)
        assert differences == []
        async with database.session() as session:
            assert len(ids) == len((await session.scalars(select(IncidentRow.id))).all())
