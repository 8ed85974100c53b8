"""Reads: incident lists and single incidents from the read model at 100,000 incidents.

The read model is filled with 100,000 incidents (every state, P1 to P5, 50 services,
SLA flags, a few timeline events each), made from templates the domain itself took
through their steps, on SQLite and on PostgreSQL at once, through the real migrations
and tables. One client then asks `vagt api` (no Temporal behind it: lists and closed
incidents come from the read model alone) for lists with the usual filters and for
single closed incidents, one request at a time.

Measured against, in the same run: `GET /healthz` of the same API process (the HTTP
stack and the client, without the database) and the same reads asked of the
repository in this process (the database's share, without HTTP).
"""

import asyncio
import bisect
import contextlib
import itertools
import json
import os
import random
import re
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, make_url, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bench.common import Figures, quiet_process, table
from domain.incident import Incident
from domain.lifecycle import IncidentState, Step
from domain.measures import facts
from domain.priority import Priority
from domain.process import DEFAULT_PROCESS
from domain.requests import (
    AcknowledgeRequest,
    ActionItem,
    ApproveReviewRequest,
    AssignRequest,
    DeclareRequest,
    HoldRequest,
    NoteRequest,
    ResolveRequest,
    StepRequest,
    SubmitReviewRequest,
    TriageRequest,
)
from domain.roles import Actor, Role
from store.db import Database, normalise_url
from store.incidents import (
    IncidentQuery,
    IncidentRepository,
    SlaFilter,
    _event_row,
    _incident_row,
)
from store.reports import approved_items, facts_row, rebuild_day_sums
from store.tables import metadata
from vagt.ports import free_ports

INCIDENTS = 100_000
# Requests per read over HTTP, and calls per read of the repository, sent in rounds
# (one of each read per round) so that the machine's noise falls on every read alike.
# Sized to keep the whole benchmark, filling included, near 90 s on two quiet cores.
REQUESTS = 100
REPOSITORY_CALLS = 30
TARGET_MS = 50.0
POSTGRES_URL_VARIABLE = "VAGT_TEST_POSTGRES_URL"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
SEED = 20261127
# The share of incidents opened by an alert, with a dedup key.
ALERTED = 0.7
REPORT_TARGET_MS = 200.0

S = IncidentState
# Most incidents of a read model that has run for years are closed.
STATES = {
    S.CLOSED: 0.62,
    S.IN_REVIEW: 0.04,
    S.RESOLVED: 0.14,
    S.ON_HOLD: 0.02,
    S.ACKNOWLEDGED: 0.08,
    S.TRIAGED: 0.04,
    S.DETECTED: 0.06,
}
# Impact and urgency 1 (high) to 3 (low); most incidents are minor: P1 about 2%.
IMPACTS = {1: 0.1, 2: 0.3, 3: 0.6}
URGENCIES = {1: 0.2, 2: 0.4, 3: 0.4}
_SYSTEMS = ["checkout", "payments", "search", "login", "catalog"]
_SYSTEMS += ["inventory", "shipping", "billing", "notifications", "profile"]
SERVICES = [f"{s}-{p}" for s in _SYSTEMS for p in ("api", "db", "worker", "cache", "gateway")]
SYMPTOMS = [
    "Elevated latency",
    "5xx errors",
    "Timeouts",
    "Outage",
    "Degraded performance",
    "Slow queries",
    "Memory leak",
    "Disk almost full",
    "Certificate expiring",
    "Packet loss",
    "Crash loop",
    "Queue backlog",
    "Replication lag",
    "Throttled requests",
    "Failed deploy",
]
REGIONS = ["eu-west-1", "eu-north-1", "us-east-1", "us-west-2", "ap-south-1"]
IMPACTS_SEEN = [
    "Customers see errors at checkout.",
    "Some users cannot log in.",
    "Search results are stale.",
    "Orders are delayed.",
    "No visible customer impact yet.",
    "Emails go out late.",
]
# One incident in a thousand mentions it: a search that finds a handful.
RARE = "kerberos"

ALICE = Actor(name="alice", roles=frozenset({Role.RESPONDER, Role.COMMANDER}))
BOB = Actor(name="bob", roles=frozenset({Role.COMMANDER, Role.PROCESS_OWNER}))
T0 = datetime(2024, 1, 1, tzinfo=UTC)


# --- Filling the read model -------------------------------------------------------


# In a template's JSON: a quoted time, or a quoted stand-in for what differs between
# its copies (the number, title, description and service: "\u0000title\u0000").
_PIECE = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d[^"]*|\\u0000[a-z]+\\u0000)"')


class Encoded(str):
    """A JSON document already encoded; the filling's serializer passes it through."""


def _serialize(value: Any) -> str:
    return value if isinstance(value, Encoded) else json.dumps(value)


@dataclass
class Pieces:
    """A JSON document as a format string whose fields are its times and stand-ins, to
    make copies of it fast."""

    form: str
    # The document's distinct times, each with whether it was written with "Z".
    times: list[tuple[datetime, bool]]

    @classmethod
    def of(cls, value: Any) -> "Pieces":
        form: list[str] = []
        times: list[tuple[datetime, bool]] = []
        for n, piece in enumerate(_PIECE.split(json.dumps(value))):
            if n % 2 == 0:
                form.append(piece.replace("{", "{{").replace("}", "}}"))
            elif piece.startswith("\\u0000"):
                form.append(f"{{{piece[6:-6]}}}")
            else:
                time_ = (datetime.fromisoformat(piece), piece.endswith("Z"))
                if time_ not in times:
                    times.append(time_)
                form.append(f'"{{{times.index(time_)}}}"')
        return cls("".join(form), times)

    def render(self, delta: timedelta, values: dict[str, str]) -> Encoded:
        """The document with every time moved by `delta` and the stand-ins replaced by
        `values` (JSON text)."""
        moved = [(at + delta).isoformat() for at, _ in self.times]
        zulu = [
            t.replace("+00:00", "Z") if z else t
            for t, (_, z) in zip(moved, self.times, strict=True)
        ]
        return Encoded(self.form.format(*zulu, **values))


@dataclass
class Template:
    """One incident made by the domain and stored as the projection stores it, declared
    at T0, with stand-ins for its number, title, description and service."""

    row: dict[str, Any]
    snapshot: Pieces
    events: list[tuple[dict[str, Any], Pieces]]
    facts: dict[str, Any]  # its report facts (store.reports.facts_row)
    items: list[dict[str, Any]]  # its approved review's action items


def _steps(state: IncidentState) -> list[Step]:
    """The steps that bring an incident to `state`."""
    if state is S.DETECTED:
        return []
    if state is S.TRIAGED:
        return [Step.TRIAGE]
    worked = [Step.TRIAGE, Step.ACKNOWLEDGE, Step.ASSIGN, Step.NOTE]
    if state is S.ACKNOWLEDGED:
        return worked
    if state is S.ON_HOLD:
        return [*worked, Step.HOLD]
    done = [Step.ACKNOWLEDGE, Step.RESOLVE]
    if state is S.RESOLVED:
        return done
    if state is S.IN_REVIEW:
        return [*done, Step.SUBMIT_REVIEW]
    return [*done, Step.SUBMIT_REVIEW, Step.APPROVE_REVIEW]


def _stand_in(name: str) -> str:
    return f"\x00{name}\x00"


def _request(step: Step, impact: int, urgency: int) -> StepRequest:
    process = DEFAULT_PROCESS
    requests: dict[Step, StepRequest] = {
        Step.TRIAGE: TriageRequest(
            impact=impact, urgency=urgency, category="application", service=_stand_in("service")
        ),
        Step.ACKNOWLEDGE: AcknowledgeRequest(),
        Step.ASSIGN: AssignRequest(commander="alice", responders=["alice", "carol"]),
        Step.NOTE: NoteRequest(text="Rolled back the last deploy; watching the error rate."),
        Step.HOLD: HoldRequest(reason="Waiting for the vendor's fix."),
        Step.RESOLVE: ResolveRequest(
            summary="Rolled back and scaled out; error rate is normal again.",
            root_cause_category=process.root_cause_categories[0],
        ),
        Step.SUBMIT_REVIEW: SubmitReviewRequest(
            root_cause="A configuration change went out without a canary.",
            contributing_factors=["No alert on the error budget"],
            what_went_well="Fast rollback.",
            action_items=[
                ActionItem(
                    description="Canary every config change",
                    owner="alice",
                    due_date=(T0 + timedelta(days=30)).date(),
                )
            ],
        ),
        Step.APPROVE_REVIEW: ApproveReviewRequest(comment="Thanks."),
    }
    return requests[step]


def _template(state: IncidentState, impact: int, urgency: int, late: str) -> Template:
    """An incident taken to `state` by the domain. `late`: "no" keeps every SLA; "warned"
    and "breached" let time pass before the steps and, for unfinished work, after them."""
    process = DEFAULT_PROCESS
    targets = process.sla.targets_for(process.priority_matrix.priority(impact, urgency))
    ack = targets.acknowledge or timedelta(hours=1)
    resolve = targets.resolve or timedelta(days=1)
    review = targets.review or timedelta(days=5)
    slow = {"no": 0.1, "warned": 0.8, "breached": 3.0}[late]
    declare = DeclareRequest(
        title=_stand_in("title"),
        description=_stand_in("description"),
        impact=impact,
        urgency=urgency,
        service=_stand_in("service"),
    )
    incident = Incident.declare(1, declare, ALICE, T0, process)
    at = T0
    for step in _steps(state):
        if step is Step.ACKNOWLEDGE:
            at = T0 + ack * slow
        elif step is Step.RESOLVE:
            at = T0 + resolve * slow
        elif step is Step.APPROVE_REVIEW:
            at = at + review * 0.1
        elif step is Step.SUBMIT_REVIEW:
            at = at + review * min(slow, 0.3)
        else:
            at = at + timedelta(minutes=3)
        incident.fire_due(at)
        actor = BOB if step is Step.APPROVE_REVIEW else ALICE
        incident.apply(step, _request(step, impact, urgency), actor, at)
    if state is not S.CLOSED and late != "no":
        # The time the incident is read at: a running clock is past a warning or its target.
        running = {S.DETECTED: ack, S.TRIAGED: ack, S.RESOLVED: review, S.IN_REVIEW: review}
        incident.fire_due(at + running.get(state, resolve) * slow)
    row = _incident_row(incident)
    snapshot = json.loads(row.pop("snapshot")) | {"id": _stand_in("id")}
    events = [_event_row(event) for event in incident.timeline]
    found = facts_row(facts(incident)) | {"version": incident.seq, "history_length": 0}
    # Its approved review's action items, as the projection keeps them.
    items = approved_items(incident, incident.timeline)
    return Template(
        row,
        Pieces.of(snapshot),
        [(e, Pieces.of(e.pop("details"))) for e in events],
        found,
        items,
    )


@dataclass
class Seeded:
    """What the filling made: counts, and the numbers of some closed incidents."""

    incidents: int = 0
    events: int = 0
    seconds: float = 0.0
    closed_ids: list[int] = field(default_factory=list)


class _Choice:
    """Picks one of `weights`' keys with its weight."""

    def __init__(self, weights: dict[Any, float]) -> None:
        self._population = list(weights)
        self._cumulative = list(itertools.accumulate(weights.values()))

    def __call__(self, rng: random.Random) -> Any:
        drawn = rng.random() * self._cumulative[-1]
        return self._population[bisect.bisect(self._cumulative, drawn)]


# Rows of incidents, of their timeline events, report facts and action items.
Batch = tuple[
    list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]
]


def _batches(rng: random.Random, seeded: Seeded, size: int) -> Iterator[Batch]:
    """Rows of INCIDENTS incidents, `size` at a time, declared over two years, oldest first."""
    templates: dict[tuple[IncidentState, int, int, str], Template] = {}
    states, impacts, urgencies = _Choice(STATES), _Choice(IMPACTS), _Choice(URGENCIES)
    lateness = _Choice({"no": 0.8, "warned": 0.08, "breached": 0.12})
    # A few services have most incidents (Zipf): the busiest about a fifth.
    services = _Choice({service: 1 / rank for rank, service in enumerate(SERVICES, 1)})
    spacing = timedelta(days=730) / INCIDENTS
    incidents: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    facts_rows: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    causes = DEFAULT_PROCESS.root_cause_categories
    for number in range(1, INCIDENTS + 1):
        state: IncidentState = states(rng)
        impact, urgency, late = impacts(rng), urgencies(rng), lateness(rng)
        if state is S.CLOSED and late == "warned":
            late = "no"
        key = (state, impact, urgency, late)
        if key not in templates:
            templates[key] = _template(*key)
        template = templates[key]
        service = services(rng)
        symptom = rng.choice(SYMPTOMS)
        title = f"{symptom} on {service} in {rng.choice(REGIONS)}"
        description = f"{rng.choice(IMPACTS_SEEN)} Alerted by the {service} dashboards."
        if rng.random() < 0.001:
            description += f" The {RARE} ticket renewal fails."
        declared_at = T0 + spacing * number + timedelta(seconds=rng.uniform(-600, 600))
        delta = declared_at - T0
        changed = {"id": number, "title": title, "description": description, "service": service}
        values = {name: json.dumps(value) for name, value in changed.items()}
        row = template.row | changed
        row["snapshot"] = template.snapshot.render(delta, values)
        for name in ("declared_at", "updated_at", "acknowledged_at", "resolved_at", "closed_at"):
            if row[name] is not None:
                row[name] += delta
        incidents.append(row)
        events += [
            event
            | {
                "id": f"incident-{number}:{event['seq']}",
                "incident_id": number,
                "at": event["at"] + delta,
                "details": details.render(delta, values),
            }
            for event, details in template.events
        ]
        facts_rows.append(_moved_facts(template.facts, number, service, delta))
        if rng.random() < ALERTED:
            # Opened by an alert: its dedup key names the symptom on the service.
            facts_rows[-1]["integration"] = "prometheus"
            facts_rows[-1]["dedup_key"] = f"{symptom.lower().replace(' ', '-')}:{service}"
        if facts_rows[-1]["root_cause_category"] is not None:
            facts_rows[-1]["root_cause_category"] = rng.choice(causes)
        items += [
            item
            | {
                "incident_id": number,
                "due_date": item["due_date"] + delta,
                "created_at": item["created_at"] + delta,
                "updated_at": item["updated_at"] + delta,
                # Most are done by now; one in five is still open, so overdue.
                "state": "open" if rng.random() < 0.2 else "done",
            }
            for item in template.items
        ]
        if state is S.CLOSED:
            seeded.closed_ids.append(number)
        if len(incidents) == size or number == INCIDENTS:
            seeded.incidents += len(incidents)
            seeded.events += len(events)
            yield incidents, events, facts_rows, items
            incidents, events, facts_rows, items = [], [], [], []


def _moved_facts(
    found: dict[str, Any], number: int, service: str, delta: timedelta
) -> dict[str, Any]:
    """A template's facts for incident `number`, declared `delta` after the template."""
    moved = found | {"incident_id": number, "service": service}
    moved["declared_at"] = found["declared_at"] + delta
    moved["state_since"] = found["state_since"] + delta.total_seconds()
    day = moved["declared_at"].date()
    moved["declared_day"] = day
    if found["closed_at"] is not None:
        moved["closed_at"] = found["closed_at"] + delta
        day = moved["closed_at"].date()
        moved["closed_day"] = day
    return moved


# Each database's secondary indexes on the filled tables, as the migrations made them.
_SECONDARY_INDEXES = {
    "postgresql": "SELECT indexname, indexdef FROM pg_indexes "
    "WHERE schemaname = current_schema() AND tablename IN "
    "('incidents', 'timeline_events', 'incident_facts', 'action_items') "
    "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
    # Indexes behind UNIQUE and PRIMARY KEY constraints have no SQL of their own.
    "sqlite": "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
    "AND tbl_name IN ('incidents', 'timeline_events', 'incident_facts', 'action_items') "
    "AND sql IS NOT NULL",
}


async def _seed(urls: list[str]) -> Seeded:
    """Migrate each database as the app does, then insert the same INCIDENTS incidents
    with their timelines into all of them at once."""
    began = time.perf_counter()
    for url in urls:
        database = Database(url)
        try:
            await database.migrate()
        finally:
            await database.dispose()
    seeded = Seeded()
    # The real tables through SQLAlchemy Core; the JSON documents come already encoded.
    engines = [create_async_engine(normalise_url(url), json_serializer=_serialize) for url in urls]
    try:
        async with contextlib.AsyncExitStack() as stack:
            connections = [await stack.enter_async_context(e.begin()) for e in engines]
            # Each database takes the batches at its own pace while the next are made.
            queues = [asyncio.Queue[Batch | None](maxsize=2) for _ in connections]
            fills = [
                asyncio.create_task(_fill(c, q)) for c, q in zip(connections, queues, strict=True)
            ]
            try:
                for batch in _batches(random.Random(SEED), seeded, 5_000):
                    for queue, fill in zip(queues, fills, strict=True):
                        await _put(queue, batch, fill)
                for queue, fill in zip(queues, fills, strict=True):
                    await _put(queue, None, fill)
                await asyncio.gather(*fills)
            finally:
                for fill in fills:
                    fill.cancel()
        for url in urls:
            # The day sums the projection would have kept, made from the facts.
            database = Database(url)
            try:
                async with database.session() as session:
                    await rebuild_day_sums(session)
                    await session.commit()
            finally:
                await database.dispose()
        for engine in engines:
            if engine.dialect.name == "postgresql":
                # What autovacuum does soon after a bulk load: statistics for the planner,
                # and the visibility map that lets index-only scans skip the table.
                async with engine.connect() as connection:
                    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                    await autocommit.execute(text("VACUUM ANALYZE incidents"))
                    await autocommit.execute(text("ANALYZE timeline_events"))
                    await autocommit.execute(text("VACUUM ANALYZE incident_facts"))
                    await autocommit.execute(text("ANALYZE action_items"))
    finally:
        for engine in engines:
            await engine.dispose()
    seeded.seconds = time.perf_counter() - began
    return seeded


async def _drop_secondary_indexes(connection: AsyncConnection) -> list[str]:
    """Drop the tables' secondary indexes; the statements that create them again."""
    found = (await connection.execute(text(_SECONDARY_INDEXES[connection.dialect.name]))).all()
    for name, _ in found:
        await connection.exec_driver_sql(f'DROP INDEX "{name}"')
    return [ddl for _, ddl in found]


async def _put(
    queue: "asyncio.Queue[Batch | None]", batch: Batch | None, fill: "asyncio.Task[None]"
) -> None:
    """Put `batch` on `queue`, or raise what stopped `fill`, its taker."""
    putting = asyncio.ensure_future(queue.put(batch))
    await asyncio.wait([putting, fill], return_when=asyncio.FIRST_COMPLETED)
    if not putting.done():
        putting.cancel()
        fill.result()  # raises; a taker only ends early by failing
        raise RuntimeError("filling stopped early")


async def _fill(connection: AsyncConnection, batches: "asyncio.Queue[Batch | None]") -> None:
    """Insert the batches up to None, then build the secondary indexes: once over the
    filled tables rather than entry by entry, the same indexes in a fraction of the time
    (a trigram index above all)."""
    indexes = await _drop_secondary_indexes(connection)
    while (batch := await batches.get()) is not None:
        incidents, events, facts_rows, items = batch
        await connection.execute(insert(metadata.tables["incidents"]), incidents)
        await connection.execute(insert(metadata.tables["timeline_events"]), events)
        await connection.execute(insert(metadata.tables["incident_facts"]), facts_rows)
        if items:
            await connection.execute(insert(metadata.tables["action_items"]), items)
    if connection.dialect.name == "postgresql":
        await connection.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for ddl in indexes:
        await connection.exec_driver_sql(ddl)


@contextlib.asynccontextmanager
async def _postgresql_database() -> AsyncIterator[str | None]:
    """A new, empty PostgreSQL database for this run, dropped on exit; None without a server."""
    base = os.environ.get(POSTGRES_URL_VARIABLE, POSTGRES_URL)
    name = f"vagt_bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(normalise_url(base), isolation_level="AUTOCOMMIT")
    try:
        try:
            async with admin.connect() as connection:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as error:  # no server, or no right to create a database
            print(f"  PostgreSQL at {base} unavailable: {error}", file=sys.stderr, flush=True)
            created = False
        else:
            created = True
        if not created:
            yield None
            return
        try:
            url = make_url(normalise_url(base)).set(database=name)
            yield url.render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


# --- Measuring ------------------------------------------------------------------


Params = list[tuple[str, str | int | float | bool | None]]


@dataclass
class Read:
    """One list read: its query string for the API and the same query for the repository."""

    params: Params
    query: IncidentQuery
    note: str

    @property
    def label(self) -> str:
        string = "&".join(f"{name}={value}" for name, value in self.params)
        path = f"`GET /incidents?{string}`" if string else "`GET /incidents`"
        return f"{path} ({self.note})" if self.note else path


def _reads() -> list[Read]:
    def read(params: Params, note: str = "", **query: Any) -> Read:
        return Read(params, IncidentQuery(**query), note)

    busiest = SERVICES[0]
    return [
        read([], "no filter"),
        read([("state", "acknowledged")], states=[S.ACKNOWLEDGED]),
        read([("priority", "P1"), ("priority", "P2")], priorities=[Priority.P1, Priority.P2]),
        read([("service", busiest)], "the busiest service", service=busiest),
        read([("q", "timeout")], "a common word", text="timeout"),
        read([("q", RARE)], "a rare word", text=RARE),
        read([("sla", "breached")], sla=SlaFilter.BREACHED),
        read(
            [("state", "detected"), ("priority", "P3"), ("sla", "at_risk")],
            states=[S.DETECTED],
            priorities=[Priority.P3],
            sla=SlaFilter.AT_RISK,
        ),
        read([("offset", "99950")], "the last page", offset=99_950),
    ]


@dataclass
class Measured:
    """One read's latencies over HTTP and in the repository, and what it matched."""

    name: str
    matched: int
    http: list[float] = field(default_factory=list)
    repository: list[float] = field(default_factory=list)


def _percentile_ms(latencies: list[float], p: float) -> float:
    return Figures("", len(latencies), len(latencies), 1.0, latencies).percentile(p) * 1000


async def _rounds(
    count: int, calls: list[Callable[[int], Awaitable[None]]], into: list[list[float]]
) -> None:
    """`count` rounds, each making every call once, in order; each call timed."""
    for n in range(count):
        for call, latencies in zip(calls, into, strict=True):
            began = time.perf_counter()
            await call(n)
            latencies.append(time.perf_counter() - began)


@contextlib.asynccontextmanager
async def _api(database_url: str, work: Path) -> AsyncIterator[tuple[str, str]]:
    """`vagt api` on the database, with no Temporal behind it; (its URL, an admin token)."""
    (port, temporal_port), token = free_ports(2), secrets.token_hex(16)
    env = os.environ | {
        "VAGT_DATA_DIR": str(work),
        "VAGT_DATABASE_URL": database_url,
        "VAGT_API_PORT": str(port),
        # Nothing listens there: lists and closed incidents never ask Temporal.
        "VAGT_TEMPORAL_ADDRESS": f"127.0.0.1:{temporal_port}",
        "VAGT_ADMIN_TOKEN": token,
        "VAGT_LOG_LEVEL": "WARNING",
    }
    argv = [sys.executable, "-m", "vagt.cli", "api"]
    with quiet_process(argv, work / "api.log", env) as process:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(trust_env=False) as probe:
            for _ in range(600):
                if process.poll() is not None:
                    raise RuntimeError(f"vagt api exited; see {work / 'api.log'}")
                with contextlib.suppress(httpx.TransportError):
                    if (await probe.get(f"{url}/healthz", timeout=2)).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"vagt api did not answer within 60 s; see {work / 'api.log'}")
        yield url, token


async def _measure_database(
    url: str, seeded: Seeded, work: Path
) -> tuple[Measured, list[Measured], list[Measured]]:
    """Time every read on the filled read model at `url`; (/healthz, the reads, the
    reports)."""
    reads = _reads()
    ids = random.Random(SEED).sample(seeded.closed_ids, REQUESTS)
    async with _api(url, work) as (base_url, token):
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=60, trust_env=False
        ) as http:
            healthz, results, calls = await _http_calls(http, reads, ids)
            for call in calls:  # warm up: connections, caches, the query plans
                await call(0)
            await _rounds(REQUESTS, calls, [m.http for m in [healthz, *results]])
            reports = await _report_rounds(http)
    database = Database(url)
    try:
        await _repository_rounds(database, reads, ids, results)
    finally:
        await database.dispose()
    return healthz, results, reports


# The filled incidents are declared over two years from T0; reports look back from its end.
END = T0 + timedelta(days=731)
REPORT_REQUESTS = 30


def _report_reads() -> list[tuple[str, str, Params]]:
    def since(days: int) -> Params:
        return [("from", (END - timedelta(days=days)).isoformat()), ("to", END.isoformat())]

    everything: Params = [("from", (T0 - timedelta(days=1)).isoformat()), ("to", END.isoformat())]
    busiest = SERVICES[0]
    measures, recurrence = "/api/v1/reports/measures", "/api/v1/reports/recurrence"
    return [
        ("measures, the last 30 days", measures, since(30)),
        (
            "measures, two years (every incident), per week",
            measures,
            [*everything, ("period", "week")],
        ),
        (
            f"measures, 90 days, P1 and P2 on {busiest}",
            measures,
            [*since(90), ("priority", "P1"), ("priority", "P2"), ("service", busiest)],
        ),
        (
            "measures as CSV, two years per week (volume)",
            measures,
            [*everything, ("period", "week"), ("format", "csv"), ("table", "volume")],
        ),
        ("recurrence by dedup key, 90 days", recurrence, since(90)),
        ("recurrence by service, two years", recurrence, [*everything, ("group_by", "service")]),
        (
            "recurrence by root cause, two years",
            recurrence,
            [*everything, ("group_by", "root_cause_category")],
        ),
        ("action items by owner", "/api/v1/reports/action-items", []),
        ("overdue action items", "/api/v1/action-items", [("overdue", "true")]),
    ]


async def _report_rounds(http: httpx.AsyncClient) -> list[Measured]:
    """Each report REPORT_REQUESTS times over HTTP, the reports taking turns."""
    found: list[Measured] = []
    calls: list[Callable[[int], Awaitable[None]]] = []
    for label, path, params in _report_reads():
        answer = await http.get(path, params=params)
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
        found.append(Measured(f"`GET {path}` ({label})", _matched(answer)))

        async def call(n: int, path: str = path, params: Params = params) -> None:
            if (await http.get(path, params=params)).status_code != 200:
                raise RuntimeError(f"{path} failed while measured")

        calls.append(call)
    await _rounds(REPORT_REQUESTS, calls, [m.http for m in found])
    return found


def _matched(answer: httpx.Response) -> int:
    """How many incidents (or items) the report covered."""
    if answer.headers["content-type"].startswith("text/csv"):
        return sum(int(row.split(",")[1]) for row in answer.text.splitlines()[1:])
    body = answer.json()
    if isinstance(body, list):
        return sum(owner["open"] + owner["done"] + owner["dropped"] for owner in body)
    if "measures" in body:
        return int(body["measures"]["incidents"])
    if "groups" in body:
        return sum(group["count"] for group in body["groups"])
    return int(body["total"])


async def _http_calls(
    http: httpx.AsyncClient, reads: list[Read], ids: list[int]
) -> tuple[Measured, list[Measured], list[Callable[[int], Awaitable[None]]]]:
    def expect(answer: httpx.Response) -> httpx.Response:
        if answer.status_code != 200:
            raise RuntimeError(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")
        return answer

    async def healthz(n: int) -> None:
        expect(await http.get("/healthz"))

    def lister(read: Read) -> Callable[[int], Awaitable[None]]:
        async def call(n: int) -> None:
            expect(await http.get("/api/v1/incidents", params=read.params))

        return call

    async def get(n: int) -> None:
        expect(await http.get(f"/api/v1/incidents/{ids[n]}"))

    results = []
    for read in reads:
        answer = expect(await http.get("/api/v1/incidents", params=read.params)).json()
        results.append(Measured(read.label, answer["total"]))
        if not answer["items"]:
            raise RuntimeError(f"{read.label}: an empty page; the filling went wrong")
    results.append(Measured("`GET /incidents/{id}` (closed)", 1))
    calls = [healthz, *(lister(read) for read in reads), get]
    return Measured("`GET /healthz` (no database)", 0), results, calls


async def _repository_rounds(
    database: Database, reads: list[Read], ids: list[int], results: list[Measured]
) -> None:
    """The same reads asked of the repository in this process, a session each as the API."""

    def lister(read: Read) -> Callable[[int], Awaitable[None]]:
        async def call(n: int) -> None:
            async with database.session() as session:
                await IncidentRepository(session).list(read.query)

        return call

    async def get(n: int) -> None:
        async with database.session() as session:
            await IncidentRepository(session).get(ids[n])

    for read, measured in zip(reads, results, strict=False):
        async with database.session() as session:
            total = (await IncidentRepository(session).list(read.query)).total
        if total != measured.matched:  # the API and the repository must read the same
            raise RuntimeError(
                f"{read.label}: {total} in the repository, {measured.matched} over HTTP"
            )
    await get(0)  # the lists above, and this, warm the connection and caches up
    calls = [*(lister(read) for read in reads), get]
    await _rounds(REPOSITORY_CALLS, calls, [m.repository for m in results])


def _rows(healthz: Measured, results: list[Measured]) -> list[list[str]]:
    base = _percentile_ms(healthz.http, 50)
    p99 = _percentile_ms(healthz.http, 99)
    rows = [[healthz.name, "", f"{base:.1f}", f"{p99:.1f}", "1.0x", ""]]
    for m in results:
        p50 = _percentile_ms(m.http, 50)
        rows.append(
            [
                m.name,
                f"{m.matched:,}",
                f"{p50:.1f}",
                f"{_percentile_ms(m.http, 99):.1f}",
                f"{p50 / base:.1f}x",
                f"{_percentile_ms(m.repository, 50):.1f}",
            ]
        )
    return rows


def _verdicts(label: str, results: list[Measured]) -> list[str]:
    lists, get = results[:-1], results[-1]
    slowest = max(lists, key=lambda m: _percentile_ms(m.http, 99))
    worst = _percentile_ms(slowest.http, 99)
    get_p99 = _percentile_ms(get.http, 99)
    return [
        _verdict(
            f"{label} list p99",
            worst < TARGET_MS,
            f"slowest {slowest.name} {worst:.1f} ms, target under {TARGET_MS:.0f} ms",
        ),
        _verdict(
            f"{label} get p99",
            get_p99 < TARGET_MS,
            f"{get_p99:.1f} ms, target under {TARGET_MS:.0f} ms",
        ),
    ]


def _verdict(name: str, met: bool, detail: str) -> str:
    return f"- {name}: {'met' if met else 'NOT met'} ({detail})"


@contextlib.asynccontextmanager
async def _removed_after(database: Path) -> AsyncIterator[None]:
    """Removes the SQLite read model (half a gigabyte) on exit; the logs stay."""
    try:
        yield
    finally:
        _remove_sqlite(database)


def _remove_sqlite(database: Path) -> None:
    for path in database.parent.glob(f"{database.name}*"):
        path.unlink()


async def measure(work: Path) -> str:
    """Run the reads benchmark; its section of BENCHMARKS.md."""
    sections: list[str] = []
    verdicts: list[str] = []
    header = ["read", "matched", "p50 ms", "p99 ms", "p50 vs /healthz", "repository p50 ms"]
    sqlite_file = work / "sqlite" / "vagt.db"
    async with _postgresql_database() as postgresql_url, _removed_after(sqlite_file):
        sqlite_url = f"sqlite:///{sqlite_file}"
        databases = [("SQLite", sqlite_url), ("PostgreSQL", postgresql_url)]
        measured = [(label, url) for label, url in databases if url is not None]
        seeded = await _seed([url for _, url in measured])
        print(
            f"  filled {', '.join(label for label, _ in measured)}: {seeded.incidents:,} "
            f"incidents, {seeded.events:,} events in {seeded.seconds:.0f} s",
            file=sys.stderr,
            flush=True,
        )
        for label, url in measured:
            began = time.perf_counter()
            healthz, results, reports = await _measure_database(url, seeded, work / label.lower())
            took = time.perf_counter() - began
            print(f"  {label}: measured in {took:.0f} s", file=sys.stderr, flush=True)
            sections += [f"### {label}", "", table(header, _rows(healthz, results)), ""]
            sections += [
                f"Reports on {label} ({REPORT_REQUESTS} requests each):",
                "",
                table(header[:-1], [row[:-1] for row in _rows(healthz, reports)]),
                "",
            ]
            verdicts += _verdicts(label, results)
            slowest = max(reports, key=lambda m: _percentile_ms(m.http, 99))
            worst = _percentile_ms(slowest.http, 99)
            verdicts.append(
                _verdict(
                    f"{label} reports p99",
                    worst < REPORT_TARGET_MS,
                    f"slowest {slowest.name} {worst:.1f} ms, target under "
                    f"{REPORT_TARGET_MS:.0f} ms",
                )
            )
        if postgresql_url is None:
            sections += ["### PostgreSQL", "", "Not measured: no server.", ""]
            verdicts.append("- PostgreSQL: not measured (no server)")
    filled = (
        f"{seeded.incidents:,} incidents with {seeded.events:,} timeline events, inserted "
        f"into {' and '.join(label for label, _ in measured)} at once in {seeded.seconds:.0f} s "
        "through the real migrations and tables, secondary indexes built after the rows; "
        "PostgreSQL then vacuumed and analysed, as autovacuum would soon do. Not part of "
        "the figures."
    )
    return "\n".join(
        [
            "## Reads",
            "",
            f"{INCIDENTS:,} incidents in the read model: every state (62% closed), P1 to P5, "
            f"{len(SERVICES)} services, titles and descriptions with words to search, "
            "SLA flags, a few timeline events each. One client (httpx) on the same machine "
            f"asks `vagt api` each read {REQUESTS} times, one request at a time, the reads "
            "taking turns; lists are 50 incidents (the default limit) with their total. "
            "`GET /incidents/{id}` reads closed incidents (open ones are asked of their "
            "workflow first). Baselines in the same run: `GET /healthz` of the same API "
            "process (HTTP alone: no token, no database), and the median of "
            f"{REPOSITORY_CALLS} calls of the repository for each read in the benchmark's "
            "process (the database's share: no HTTP, no token check). Reports read the "
            "per-incident facts the projection keeps (store.reports); in the filling, 70% "
            "of incidents carry an alert's dedup key (a symptom on a service), resolved "
            "ones one of the process's root-cause categories, and closed ones an action "
            "item, one in five still open (overdue). Reports are asked over the end of "
            "the two years filled (`matched`: the incidents or items covered).",
            "",
            filled,
            "",
            *sections,
            *verdicts,
        ]
    )
