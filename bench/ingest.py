"""Ingest: alerts per second answered 202 (durable in Temporal) at the HTTP edge.

Measured against, in the same run on the same machine: a no-op FastAPI endpoint (the
HTTP ceiling) and bare Temporal workflow starts, signal-with-starts and signals on the
same dev server (the engine's ceiling).
"""

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.bare import BareWorkflow
from bench.common import (
    Figures,
    Stack,
    load,
    quiet_process,
    report,
    settle,
    table,
    vagt_stack,
)
from bench.loadgen import post_all
from vagt.ports import free_port

CONCURRENCY = 256  # a storm's fan-in: hundreds of hosts and Alertmanagers sending at once
# Sized so the whole of `make bench` stays within minutes on two cores.
NEW_KEYS = 500
REPEATS = 3_000
REPEATED_KEYS = 10
# Repeats sent before the measured ones and not counted: the first requests of a fresh
# stack build caches (pydantic, SQLAlchemy, Temporal's client) a steady stream has.
WARMUP_REPEATS = 500
OPEN_WAIT = 90  # seconds to wait for the new keys' incidents
BARE = 500
NEW_KEYS_WINDOWS = (
    "New keys and bare starts are each measured twice, in the order bare, Vagt, Vagt, "
    "bare, and counted over both their windows: a stack slows as Temporal's database "
    "grows, and this order gives neither side the fresher stack."
)


def _event(routing_key: str, dedup_key: str, n: int) -> dict[str, Any]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {
            "summary": f"Disk almost full on db-{n % 50}",
            "source": f"db-{n % 50}",
            "severity": "error",
            "custom_details": {"free_bytes": 1024 * n},
        },
    }


def _client(base_url: str) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    return httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60, trust_env=False)


async def _post_all(
    name: str, base_url: str, count: int, body: Callable[[int], dict[str, Any]]
) -> Figures:
    return await post_all(name, base_url, "/v2/enqueue", count, CONCURRENCY, body)


async def _noop(work: Path) -> Figures:
    port = free_port()
    with quiet_process(
        [sys.executable, "-m", "bench.noop", str(port)], work / "noop.log", dict(os.environ)
    ):
        base_url = f"http://127.0.0.1:{port}"
        async with _client(base_url) as http:
            for _ in range(200):
                try:
                    await http.post("/v2/enqueue", json={})
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
        return await _post_all(
            "no-op FastAPI endpoint", base_url, REPEATS, lambda n: _event("k", "d", n)
        )


class _Bare:
    """Bare Temporal loads on the stack's dev server, from `client`, and the bare worker
    that runs their workflows (idle while Vagt is measured)."""

    def __init__(self, stack: Stack, client: Client, queue: str) -> None:
        self._stack = stack
        self._client = client
        self._queue = queue
        self._windows = 0

    async def starts(self) -> Figures:
        """One window of bare workflow starts, each a workflow of its own."""
        self._windows += 1
        window = self._windows

        async def start(n: int) -> bool:
            await self._client.start_workflow(
                BareWorkflow.run, id=f"bare-{window}-{n}", task_queue=self._queue
            )
            return True

        figures = await load("bare Temporal workflow starts", BARE, CONCURRENCY, start)
        await settle(self._stack)  # the bare worker runs the new workflows' first tasks
        return figures

    async def signals(self) -> tuple[Figures, Figures]:
        """Signal-with-starts of new workflows, then signals to the first starts'."""

        async def signal_with_start(n: int) -> bool:
            await self._client.start_workflow(
                BareWorkflow.run, id=f"bare-sws-{n}", task_queue=self._queue, start_signal="poke"
            )
            return True

        name = "bare Temporal signal-with-start (new workflow)"
        updates = await load(name, BARE, CONCURRENCY, signal_with_start)
        await settle(self._stack)

        async def signal(n: int) -> bool:
            await self._client.get_workflow_handle(f"bare-1-{n % BARE}").signal(BareWorkflow.poke)
            return True

        signals = await load("bare Temporal signals", REPEATS, CONCURRENCY, signal)
        await settle(self._stack)
        return updates, signals


@contextlib.asynccontextmanager
async def _bare(stack: Stack, work: Path) -> AsyncIterator[_Bare]:
    address = stack.temporal_address
    client = await Client.connect(address, data_converter=pydantic_data_converter)
    queue = f"bare-{uuid.uuid4()}"
    argv = [sys.executable, "-m", "bench.bare", address, queue]
    with quiet_process(argv, work / "bare-worker.log", dict(os.environ)):
        yield _Bare(stack, client, queue)


async def _new_keys(stack: Stack, key: str, prefix: str) -> Figures:
    """One window of NEW_KEYS alerts, each with a dedup key of its own (`prefix`-n)."""
    return await _post_all(
        "Vagt: new dedup keys, 202s",
        stack.url,
        NEW_KEYS,
        lambda n: _event(key, f"{prefix}-{n}", n),
    )


async def measure(work: Path) -> str:
    """Run the ingest benchmark; its section of BENCHMARKS.md."""
    noop = await _noop(work)
    async with vagt_stack(work / "vagt") as stack, _bare(stack, work) as bare:
        key = await stack.integration("bench", rate_limit_per_minute=1_000_000)
        bare_starts = await bare.starts()
        bare_updates, bare_signals = await bare.signals()
        # Open the repeated keys' incidents first, one alert each.
        await _post_all("open", stack.url, REPEATED_KEYS, lambda n: _event(key, f"rep-{n}", n))
        await _post_all(
            "warm-up",
            stack.url,
            WARMUP_REPEATS,
            lambda n: _event(key, f"rep-{n % REPEATED_KEYS}", n),
        )
        await settle(stack)
        repeats = await _post_all(
            "Vagt: repeats (10 open dedup keys)",
            stack.url,
            REPEATS,
            lambda n: _event(key, f"rep-{n % REPEATED_KEYS}", n),
        )
        # The repeats' alerts reach their incidents after their 202s: not measured here.
        await settle(stack)
        began = time.perf_counter()
        new = await _new_keys(stack, key, "new")
        opened = await _incidents_opened(stack, began, REPEATED_KEYS + new.succeeded)
        opened.sent = NEW_KEYS
        await settle(stack)
        # New keys and bare starts again, in the other order: each side has a window on
        # the fresher stack and one on the fuller (NEW_KEYS_WINDOWS).
        new = new.with_(await _new_keys(stack, key, "again"))
        await settle(stack)  # their incidents open, outside any figure
        bare_starts = bare_starts.with_(await bare.starts())
    rows = [
        noop.row(),
        repeats.row(noop),
        bare_starts.row(),
        bare_updates.row(bare_starts),
        bare_signals.row(),
        new.row(bare_starts),
        opened.row(bare_starts),
    ]
    header = ["load", "202s / sent", "202s per second", "p50 ms", "p99 ms", "of baseline"]
    verdicts = [
        _verdict("repeats", repeats.rate >= 1_000, f"{repeats.rate:,.0f}/s, target 1,000/s"),
        _verdict(
            "new incidents",
            new.rate >= 0.7 * bare_starts.rate,
            f"alerts with new dedup keys accepted at {new.rate / bare_starts.rate:.0%} of bare "
            "starts, target 70%",
        ),
    ]
    opening = (
        f"- behind the 202s, incidents opened at {opened.rate:,.0f}/s "
        f"({opened.rate / bare_starts.rate:.0%} of bare starts): each is two workflows (the "
        "alert group, then the incident) and a read-model write, where a bare start is one "
        "workflow; a steady stream of new keys above that rate waits in Temporal, durable, "
        "and is paged late (see Time to page)"
    )
    return "\n".join(
        [
            "## Ingest",
            "",
            f"PagerDuty Events v2 triggers from {CONCURRENCY} keep-alive connections of a "
            "lean asyncio load generator (`bench/loadgen.py`) on the same machine. Repeats "
            f"are measured after {WARMUP_REPEATS} not counted, and compared with the no-op "
            "endpoint; new keys with bare workflow starts. Each load starts once the stack "
            "has done what the last one left it (the groups and incidents taking alerts "
            "answered 202): on a quiet stack, as the bare loads are. "
            f"{NEW_KEYS_WINDOWS} The "
            "202 for a new key comes once its alert is in its group's history; the "
            "incidents row runs from the first new key sent until every accepted key's "
            "incident workflow exists in Temporal (no latencies: one figure for the lot).",
            "",
            table(header, rows),
            "",
            *verdicts,
            opening,
        ]
    )


async def _incidents_opened(stack: Stack, began: float, expected: int) -> Figures:
    """Incidents opened per second: from `began` until `expected` incident workflows exist."""
    client = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)
    count = 0
    deadline = time.perf_counter() + OPEN_WAIT
    while time.perf_counter() < deadline:
        count = (await client.count_workflows("WorkflowType = 'IncidentWorkflow'")).count
        if count >= expected:
            break
        await asyncio.sleep(0.2)
    seconds = time.perf_counter() - began
    opened = count - REPEATED_KEYS
    figures = Figures("Vagt: new dedup keys, incidents opened", opened, opened, seconds, [])
    report(figures, {"opened": opened, "expected": expected - REPEATED_KEYS})
    return figures


def _verdict(name: str, met: bool, detail: str) -> str:
    return f"- {name}: {'met' if met else 'NOT met'} ({detail})"
