"""Lifecycle: whole incidents per second, declared through the API and walked to closed.

Each incident is six requests, each answered 2xx before the next is sent: declare,
triage, acknowledge, resolve, review (by one responder) and approve (by a process
owner, since the review's author may not approve it). Measured against, in the same
run on the same Temporal server: a bare workflow started and then sent five no-op
updates, completing at the last, as Vagt starts an incident's workflow at the
declaration and sends every later step as one update (`bench/bare_lifecycle.py`). And
against the same bare workflow running a no-op local activity after its start and each
update: the ceiling of any design whose workflow writes the read model within each
step, as Vagt's did until its API came to write the steps it takes.

Each side runs CONCURRENCY walkers, each starting its next lifecycle when its last one
ends. After a warm-up (the first CONCURRENCY lifecycles, or WARMUP_SECONDS), the
lifecycles ending within a fixed window are counted: a steady-state rate, and a run
whose length does not depend on how fast the machine is. Each side is measured twice,
in the order bare, projecting, Vagt, Vagt, projecting, bare, and counted over both its
windows: a stack slows as Temporal's database grows (the same bare load measured twice
in a row ran about a tenth slower the second time), and that order gives no side the
fresher stack. The CPU
each process spent in the windows, per lifecycle, says where the time goes (Linux only:
read from /proc).
"""

import asyncio
import contextlib
import itertools
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.bare_lifecycle import STEPS, BareLifecycleWorkflow, ProjectingLifecycleWorkflow
from bench.common import (
    Figures,
    Stack,
    cpu_seconds,
    quiet_process,
    stack_processes,
    table,
    vagt_stack,
)
from bench.loadgen import Connection

CONCURRENCY = 16
# Sized so this benchmark stays within about 90 seconds on two cores, stack included.
WINDOW_SECONDS = 14.0  # per side: two windows of half this, one early and one late
# The warm-up ends after CONCURRENCY lifecycles (imports, pools, caches, the walkers
# out of step with each other), or after this long, whichever comes first.
WARMUP_SECONDS = 8.0

RESPONDER = "bench-responder"
APPROVER = "bench-owner"
NAMES = ("declare", *STEPS)
BARE = "bare Temporal: start and 5 updates"
PROJECTING = "bare Temporal, and a no-op local activity at the start and each update"


@dataclass
class Steps:
    """The latencies of each step that succeeded, by step name."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: {n: [] for n in NAMES})

    def took(self, name: str, began: float) -> None:
        self.latencies[name].append(time.perf_counter() - began)

    def add(self, other: "Steps") -> None:
        for name, latencies in other.latencies.items():
            self.latencies[name] += latencies

    def figures(self, name: str, whole: Figures) -> Figures:
        done = self.latencies[name]
        return Figures(name, whole.sent, len(done), whole.seconds, done)


# One lifecycle: its number, and where it records its steps; True if every step was 2xx.
Walk = Callable[[int, Steps], Awaitable[bool]]


@dataclass
class Run:
    """What one side measured in its window."""

    whole: Figures
    steps: Steps
    cpu: dict[str, float]  # CPU seconds each process spent in the window
    busy: float | None  # how busy the machine's cores were in the window, 0 to 1

    def with_(self, later: "Run") -> "Run":
        """This run and a later one of the same side, counted as one."""
        whole = self.whole.with_(later.whole)
        steps = Steps()
        steps.add(self.steps)
        steps.add(later.steps)
        cpu = {key: self.cpu[key] + later.cpu[key] for key in self.cpu if key in later.cpu}
        busy = None
        if self.busy is not None and later.busy is not None and whole.seconds:
            busy = (
                self.busy * self.whole.seconds + later.busy * later.whole.seconds
            ) / whole.seconds
        return Run(whole, steps, cpu, busy)


class _Failures:
    """Counts refusals and prints the first few, so a broken run says why."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.count = 0
        self.stopping = False  # then failures are the walkers' cancellation: not shown

    def record(self, what: str) -> None:
        self.count += 1
        if self.count <= 5 and not self.stopping:
            print(f"  {self.label}: {what}", file=sys.stderr, flush=True)


async def _drive(
    name: str, walk: Walk, failures: _Failures, processes: dict[str, int], seconds: float
) -> Run:
    """CONCURRENCY walkers; count the lifecycles ending within a window of `seconds`."""
    numbers = itertools.count()
    window = [float("inf"), float("inf")]
    ended = 0
    whole: list[float] = []
    failed = 0
    steps = Steps()
    warm = asyncio.Event()
    # Checked as well as cancelling: Temporal's client turns a cancelled update into
    # an exception of its own, which a walk counts as a failure and returns from.
    stopping = False

    async def walker() -> None:
        nonlocal ended, failed
        while not stopping:
            began = time.perf_counter()
            mine = Steps()
            ok = await walk(next(numbers), mine)
            end = time.perf_counter()
            ended += 1
            if ended >= CONCURRENCY:
                warm.set()
            if not window[0] <= end < window[1]:
                continue
            if ok:
                whole.append(end - began)
                steps.add(mine)
            else:
                failed += 1

    walkers = [asyncio.create_task(walker()) for _ in range(CONCURRENCY)]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(warm.wait(), WARMUP_SECONDS)
        cpu_before, machine_before = cpu_seconds(processes), _machine()
        window[0] = time.perf_counter()
        await asyncio.sleep(seconds)
        window[1] = time.perf_counter()
        cpu_after, machine_after = cpu_seconds(processes), _machine()
    finally:
        # Lifecycles still going are dropped rather than waited for: a slow machine
        # would wait one whole lifecycle more. What they leave in flight (at most
        # CONCURRENCY steps) ends within the next run's warm-up.
        stopping = failures.stopping = True
        for task in walkers:
            task.cancel()
        for outcome in await asyncio.gather(*walkers, return_exceptions=True):
            if isinstance(outcome, Exception):  # a walker's bug, not a cancellation
                raise outcome
    figures = Figures(name, len(whole) + failed, len(whole), window[1] - window[0], whole)
    print(f"  {name}: {figures.rate:,.1f}/s, {failed} failed", file=sys.stderr, flush=True)
    cpu = {key: cpu_after[key] - cpu_before[key] for key in cpu_after if key in cpu_before}
    busy = None
    if machine_before and machine_after:
        total = machine_after[0] - machine_before[0]
        busy = (machine_after[1] - machine_before[1]) / total if total else None
    return Run(figures, steps, cpu, busy)


async def _user(stack: Stack, name: str, role: str) -> str:
    async with stack.admin() as http:
        answer = await http.post("/api/v1/users", json={"name": name, "roles": [role]})
        if answer.status_code != 201:
            raise RuntimeError(f"creating user {name}: {answer.text}")
        token: str = answer.json()["token"]
        return token


def _declaration(n: int) -> dict[str, Any]:
    # Declared P3, triaged to P2 below: the review then needs an action item.
    return {
        "title": f"Checkout returns 500 ({n})",
        "description": "Seen by the load generator",
        "impact": 2,
        "urgency": 2,
        "service": "checkout",
    }


_TRIAGE = {"impact": 1, "urgency": 2, "category": "application", "service": "checkout"}
_RESOLVE = {"summary": "Rolled back the config push", "root_cause_category": "configuration"}
_REVIEW = {
    "root_cause": "A config push removed the provider key",
    "contributing_factors": ["no canary for config pushes"],
    "what_went_well": "Rollback took 3 minutes",
    "timeline_summary": "09:00 alert, 09:05 ack, 09:20 rollback",
    "action_items": [
        {"description": "Canary config pushes", "owner": RESPONDER, "due_date": "2030-01-31"}
    ],
}
_APPROVE = {"comment": "Good review"}


async def _users(stack: Stack) -> tuple[str, str]:
    """The responder's and the approver's Authorization headers."""
    responder = f"Authorization: Bearer {await _user(stack, RESPONDER, 'responder')}\r\n"
    approver = f"Authorization: Bearer {await _user(stack, APPROVER, 'process_owner')}\r\n"
    return responder, approver


async def _vagt(stack: Stack, users: tuple[str, str], seconds: float) -> Run:
    responder, approver = users
    url = urlsplit(stack.url)
    failures = _Failures("Vagt")
    # Encoded once: the stack's work is measured, not json.dumps.
    bodies = {
        name: json.dumps(body).encode()
        for name, body in (
            ("triage", _TRIAGE),
            ("acknowledge", {}),
            ("resolve", _RESOLVE),
            ("review", _REVIEW),
            ("approve", _APPROVE),
        )
    }
    # Keep-alive connections, one per walker at a time, as a browser or a script keeps one.
    connections = [Connection(url.hostname or "", url.port or 80) for _ in range(CONCURRENCY)]
    idle = list(connections)

    async def walk(n: int, steps: Steps) -> bool:
        http = idle.pop()
        try:
            return await _walk(http, n, steps)
        finally:
            idle.append(http)

    async def _walk(http: Connection, n: int, steps: Steps) -> bool:
        began = time.perf_counter()
        status, answer = await http.exchange(
            "/api/v1/incidents", json.dumps(_declaration(n)).encode(), responder
        )
        if status != 201:
            failures.record(f"declare: {status} {answer[:300]!r}")
            return False
        steps.took("declare", began)
        path = f"/api/v1/incidents/{json.loads(answer)['id']}"
        for step, url_path, caller in (
            ("triage", f"{path}/triage", responder),
            ("acknowledge", f"{path}/acknowledge", responder),
            ("resolve", f"{path}/resolve", responder),
            ("review", f"{path}/review", responder),
            ("approve", f"{path}/review/approve", approver),
        ):
            began = time.perf_counter()
            status, answer = await http.exchange(url_path, bodies[step], caller)
            if status != 200:
                failures.record(f"{url_path}: {status} {answer[:300]!r}")
                return False
            steps.took(step, began)
        return True

    processes = stack_processes(stack.process.pid) | {"load generator": os.getpid()}
    try:
        return await _drive(
            "Vagt: whole incidents through the API", walk, failures, processes, seconds
        )
    finally:
        for connection in connections:
            await connection.close()


async def _bare(stack: Stack, work: Path, seconds: float, *, projecting: bool = False) -> Run:
    client = await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)
    queue = f"bare-lifecycle-{uuid.uuid4()}"
    argv = [sys.executable, "-m", "bench.bare_lifecycle", stack.temporal_address, queue]
    flow = ProjectingLifecycleWorkflow if projecting else BareLifecycleWorkflow
    name = PROJECTING if projecting else BARE
    with quiet_process(argv, work / "bare-lifecycle-worker.log", dict(os.environ)) as worker:
        run = uuid.uuid4().hex[:8]
        failures = _Failures(name)

        async def walk(n: int, steps: Steps) -> bool:
            try:
                began = time.perf_counter()
                handle = await client.start_workflow(
                    flow.run, id=f"bare-lifecycle-{run}-{n}", task_queue=queue
                )
                steps.took("declare", began)
                for step in STEPS:
                    began = time.perf_counter()
                    await handle.execute_update(flow.step, step)
                    steps.took(step, began)
            except Exception as error:  # counted and shown, not raised
                failures.record(f"{error!r}")
                return False
            return True

        processes = {
            name: pid
            for name, pid in stack_processes(stack.process.pid).items()
            if name == "Temporal server"
        } | {"bare worker": worker.pid, "load generator": os.getpid()}
        return await _drive(name, walk, failures, processes, seconds)


async def measure(work: Path) -> str:
    """Run the lifecycle benchmark; its section of BENCHMARKS.md."""
    async with vagt_stack(work / "vagt") as stack:
        users = await _users(stack)
        half = WINDOW_SECONDS / 2
        # Bare, projecting, Vagt, Vagt, projecting, bare: the stack's slowing as it
        # fills falls on each alike.
        bare = await _bare(stack, work, half)
        projecting = await _bare(stack, work, half, projecting=True)
        vagt = await _vagt(stack, users, half)
        vagt = vagt.with_(await _vagt(stack, users, half))
        projecting = projecting.with_(await _bare(stack, work, half, projecting=True))
        bare = bare.with_(await _bare(stack, work, half))
    header = ["load", "whole / ended", "whole per second", "p50 ms", "p99 ms", "of baseline"]
    step_header = ["step", "Vagt p50 ms", "Vagt p99 ms", "bare p50 ms", "bare p99 ms"]
    step_rows = []
    for name in NAMES:
        ours, theirs = vagt.steps.figures(name, vagt.whole), bare.steps.figures(name, bare.whole)
        step_rows.append(
            [
                name,
                *_milliseconds(
                    ours.percentile(50),
                    ours.percentile(99),
                    theirs.percentile(50),
                    theirs.percentile(99),
                ),
            ]
        )
    ratio = vagt.whole.rate / bare.whole.rate if bare.whole.rate else 0.0
    ceiling = projecting.whole.rate / bare.whole.rate if bare.whole.rate else 0.0
    of_ceiling = vagt.whole.rate / projecting.whole.rate if projecting.whole.rate else 0.0
    return "\n".join(
        [
            "## Lifecycle",
            "",
            f"Whole incidents from {CONCURRENCY} concurrent walkers in one Python process "
            "(the lean keep-alive client of `bench/loadgen.py`: httpx spent more CPU than "
            "the API it measured) on the same machine: declare, triage, acknowledge, "
            "resolve, review, approve, each answered 2xx before the next is sent; an "
            "incident that got anything else is not counted as whole. The baseline is a "
            "bare workflow, started and sent five no-op updates (the last completes it) "
            "from the same process with Temporal's client. Each walker starts its next "
            f"lifecycle when its last ends; after a warm-up ({CONCURRENCY} lifecycles or "
            f"{WARMUP_SECONDS:.0f} s, whichever ends first), those ending within "
            f"{WINDOW_SECONDS / 2:.0f} s are counted. Each side runs twice, in the order "
            "bare, projecting, Vagt, Vagt, projecting, bare, and its figures are those of "
            "both its windows: a stack slows as Temporal's database grows (the same bare "
            "load measured twice in a row ran about a tenth slower the second time), and "
            "this order gives no side the fresher stack.",
            "",
            "The projecting row is the bare workflow writing a read model from the "
            "workflow within each step, with nothing to write: a local activity that "
            "returns at once, after the start and after each update, in the workflow task "
            "that took it (`bench/bare_lifecycle.py`): every step two activations of the "
            "workflow and a local activity. That is the ceiling of the design Vagt had "
            "until 28 November, whatever the write and Vagt's own work cost. Vagt's API "
            "now writes each step it takes to the read model before it answers, and the "
            "incident's workflow writes the steps of a burst again in one go, with their "
            "news, at most `VAGT_STEP_BATCH_SECONDS` (5 s) later, or at once when the step "
            "closes the incident: in this lifecycle, one write at the declaration and one "
            "at the approval.",
            "",
            table(
                header,
                [
                    _row(bare.whole),
                    _row(projecting.whole, bare.whole),
                    _row(vagt.whole, bare.whole),
                ],
            ),
            "",
            f"Vagt ran at {of_ceiling:.0%} of the projecting row's rate, which ran at "
            f"{ceiling:.0%} of bare.",
            "",
            "Each step's latency, over the steps of the whole lifecycles counted "
            "(declare is the bare workflow's start):",
            "",
            table(step_header, step_rows),
            "",
            *_cpu_section(vagt, projecting, bare),
            _verdict(
                "lifecycle",
                ratio >= 0.7,
                f"{ratio:.0%} of bare, {vagt.whole.rate:,.1f} against "
                f"{bare.whole.rate:,.1f} whole lifecycles per second, target 70%",
            ),
        ]
    )


def _row(figures: Figures, baseline: Figures | None = None) -> list[str]:
    # Figures.row with the rate to a tenth: a few lifecycles a second is the scale here.
    row = figures.row(baseline)
    row[2] = f"{figures.rate:,.1f}"
    return row


def _milliseconds(*seconds: float) -> list[str]:
    return [f"{s * 1000:.1f}" for s in seconds]


def _cpu_section(vagt: Run, projecting: Run, bare: Run) -> list[str]:
    """CPU per whole lifecycle by process: where the time goes, whatever else runs."""
    runs = (vagt, projecting, bare)
    if any(not run.cpu or not run.whole.succeeded for run in runs):
        return []
    names = ["Temporal server", "Vagt worker", "Vagt API", "bare worker", "load generator"]

    def per(run: Run, name: str) -> str:
        used = run.cpu.get(name)
        return "" if used is None else f"{used / run.whole.succeeded * 1000:,.0f}"

    rows = [[name, *(per(run, name) for run in runs)] for name in names]
    totals = [sum(run.cpu.values()) / run.whole.succeeded * 1000 for run in runs]
    rows.append(["all of these", *(f"{total:,.0f}" for total in totals)])
    lines = [
        "CPU time per whole lifecycle in the window, by process (ms):",
        "",
        table(["process", "Vagt", "projecting", "bare"], rows),
        "",
    ]
    if all(run.busy is not None for run in runs):
        cores = os.cpu_count() or 1
        others = [
            max(0.0, (run.busy or 0.0) * cores - sum(run.cpu.values()) / run.whole.seconds)
            for run in runs
        ]
        lines += [
            f"The machine's {cores} cores were {vagt.busy:.0%} busy in Vagt's windows, "
            f"{projecting.busy:.0%} in the projecting ones' and {bare.busy:.0%} in bare's; "
            "processes outside the benchmark used "
            f"{others[0]:.1f}, {others[1]:.1f} and {others[2]:.1f} cores. When the cores "
            "are saturated, the ratio of rates follows the ratio of CPU per lifecycle.",
            "",
        ]
    return lines


def _machine() -> tuple[float, float] | None:
    """Seconds of all cores since boot, and of those the busy ones (not idle or iowait)."""
    try:
        fields = [int(f) for f in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except (OSError, ValueError):
        return None
    return float(sum(fields)), float(sum(fields) - fields[3] - fields[4])


def _verdict(name: str, met: bool, detail: str) -> str:
    return f"- {name}: {'met' if met else 'NOT met'} ({detail})"
