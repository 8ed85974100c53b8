"""Ingest: alerts per second answered 202 (durable in Temporal) at the HTTP edge.

Measured against, in the same run on the same machine: a no-op FastAPI endpoint (the
HTTP ceiling) and bare Temporal workflow starts, update-with-starts and signals on the
same dev server (the engine's ceiling).
"""

import asyncio
import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.bare import BareWorkflow
from bench.common import Figures, Stack, load, quiet_process, spare_port, table, vagt_stack

CONCURRENCY = 64
# Sized so the whole of `make bench` stays within minutes on two cores.
NEW_KEYS = 300
REPEATS = 3_000
REPEATED_KEYS = 10
BARE = 500


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
    async with _client(base_url) as http:

        async def send(n: int) -> bool:
            try:
                answer = await http.post("/v2/enqueue", json=body(n))
            except httpx.TransportError:
                return False  # counted as not accepted; the stack's logs say why
            return answer.status_code == 202

        return await load(name, count, CONCURRENCY, send)


async def _noop(work: Path) -> Figures:
    port = spare_port()
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


async def _bare(stack: Stack, work: Path) -> list[Figures]:
    client = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)
    queue = f"bare-{uuid.uuid4()}"
    argv = [sys.executable, "-m", "bench.bare", stack.temporal_address, queue]
    with quiet_process(argv, work / "bare-worker.log", dict(os.environ)):
        run = uuid.uuid4().hex[:8]

        async def start(n: int) -> bool:
            await client.start_workflow(BareWorkflow.run, id=f"bare-{run}-{n}", task_queue=queue)
            return True

        starts = await load("bare Temporal workflow starts", BARE, CONCURRENCY, start)

        async def update_with_start(n: int) -> bool:
            operation = WithStartWorkflowOperation(
                BareWorkflow.run,
                id=f"bare-uws-{run}-{n}",
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                task_queue=queue,
            )
            await client.execute_update_with_start_workflow(
                BareWorkflow.add, 1, start_workflow_operation=operation
            )
            return True

        updates = await load(
            "bare Temporal update-with-start (new workflow)", BARE, CONCURRENCY, update_with_start
        )

        async def signal(n: int) -> bool:
            await client.get_workflow_handle(f"bare-{run}-{n % BARE}").signal(BareWorkflow.poke)
            return True

        signals = await load("bare Temporal signals", REPEATS, CONCURRENCY, signal)
        return [starts, updates, signals]


async def measure(work: Path) -> str:
    """Run the ingest benchmark; its section of BENCHMARKS.md."""
    noop = await _noop(work)
    async with vagt_stack(work / "vagt") as stack:
        key = await stack.integration("bench", rate_limit_per_minute=1_000_000)
        bare_starts, bare_updates, bare_signals = await _bare(stack, work)
        # Open the repeated keys' incidents first, one alert each.
        await _post_all("open", stack.url, REPEATED_KEYS, lambda n: _event(key, f"rep-{n}", n))
        repeats = await _post_all(
            "Vagt: repeats (10 open dedup keys)",
            stack.url,
            REPEATS,
            lambda n: _event(key, f"rep-{n % REPEATED_KEYS}", n),
        )
        new = await _post_all(
            "Vagt: new dedup keys (each then opens an incident)",
            stack.url,
            NEW_KEYS,
            lambda n: _event(key, f"new-{n}", n),
        )
    rows = [
        noop.row(),
        repeats.row(noop),
        bare_starts.row(),
        bare_updates.row(bare_starts),
        bare_signals.row(),
        new.row(bare_starts),
    ]
    header = ["load", "202s / sent", "202s per second", "p50 ms", "p99 ms", "of baseline"]
    verdicts = [
        _verdict("repeats", repeats.rate >= 1_000, f"{repeats.rate:,.0f}/s, target 1,000/s"),
        _verdict(
            "new dedup keys",
            new.rate >= 0.7 * bare_starts.rate,
            f"{new.rate / bare_starts.rate:.0%} of bare starts, target 70%",
        ),
    ]
    return "\n".join(
        [
            "## Ingest",
            "",
            f"PagerDuty Events v2 triggers from {CONCURRENCY} concurrent senders in one "
            "Python process (httpx) on the same machine. Repeats are compared with the "
            "no-op endpoint, new keys with bare workflow starts.",
            "",
            table(header, rows),
            "",
            *verdicts,
        ]
    )


def _verdict(name: str, met: bool, detail: str) -> str:
    return f"- {name}: {'met' if met else 'NOT met'} ({detail})"
