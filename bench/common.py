"""What every benchmark shares: a stack on spare ports, a load generator, figures."""

import asyncio
import contextlib
import math
import os
import platform
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from vagt.ports import free_ports

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Stack:
    """`vagt run` (Temporal's dev server with SQLite, the worker, the API) on spare ports."""

    url: str
    temporal_address: str
    admin_token: str
    data_dir: Path
    process: "subprocess.Popen[bytes]"

    def admin(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=60,
            trust_env=False,
        )

    async def integration(self, name: str, **settings: Any) -> str:
        """A PagerDuty-format integration's routing key."""
        async with self.admin() as http:
            body = {"name": name, "format": "pagerduty", **settings}
            answer = await http.post("/api/v1/integrations", json=body)
            if answer.status_code != 201:
                raise RuntimeError(f"creating the integration: {answer.text}")
            key: str = answer.json()["key"]
            return key


@contextlib.asynccontextmanager
async def vagt_stack(data_dir: Path, **environment: str) -> AsyncIterator[Stack]:
    """`python -m vagt.cli run` with its data in `data_dir`; stopped with SIGTERM on exit."""
    api_port, temporal_port, ui_port = free_ports(3)
    token = secrets.token_hex(16)
    env = os.environ | {
        "VAGT_DATA_DIR": str(data_dir),
        "VAGT_API_PORT": str(api_port),
        "VAGT_TEMPORAL_PORT": str(temporal_port),
        "VAGT_TEMPORAL_UI_PORT": str(ui_port),
        "VAGT_ADMIN_TOKEN": token,
        "VAGT_LOG_LEVEL": "WARNING",
        **environment,
    }
    process = _spawn([sys.executable, "-m", "vagt.cli", "run"], data_dir / "run.log", env)
    url = f"http://127.0.0.1:{api_port}"
    try:
        await _wait_ready(url, process, data_dir)
        yield Stack(url, f"127.0.0.1:{temporal_port}", token, data_dir, process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(process.wait, 60)
            except subprocess.TimeoutExpired:
                process.kill()


async def _wait_ready(url: str, process: "subprocess.Popen[bytes]", data_dir: Path) -> None:
    async with httpx.AsyncClient(trust_env=False) as http:
        for _ in range(1_200):
            if process.poll() is not None:
                raise RuntimeError(f"vagt run exited; see {data_dir / 'run.log'}")
            with contextlib.suppress(httpx.TransportError):
                if (await http.get(f"{url}/readyz", timeout=2)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"vagt run was not ready within 120 s; see {data_dir / 'run.log'}")


@dataclass
class Figures:
    """What one load run measured: the rate of successes and their latencies."""

    name: str
    sent: int
    succeeded: int
    seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        return self.succeeded / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """The nearest-rank percentile of the successes' latencies."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    def with_(self, later: "Figures") -> "Figures":
        """These figures and a later window's of the same load, counted as one."""
        return Figures(
            self.name,
            self.sent + later.sent,
            self.succeeded + later.succeeded,
            self.seconds + later.seconds,
            self.latencies + later.latencies,
        )

    def row(self, baseline: "Figures | None" = None) -> list[str]:
        ratio = f"{self.rate / baseline.rate:.0%}" if baseline and baseline.rate else ""
        return [
            self.name,
            f"{self.succeeded:,}/{self.sent:,}",
            f"{self.rate:,.0f}",
            f"{self.percentile(50) * 1000:.1f}",
            f"{self.percentile(99) * 1000:.1f}",
            ratio,
        ]


async def load(
    name: str, count: int, concurrency: int, send: Callable[[int], Awaitable[bool]]
) -> Figures:
    """Call `send(n)` for n in range(count) from `concurrency` tasks; time each call."""
    next_n = iter(range(count))
    latencies: list[float] = []
    failures = 0

    async def sender() -> None:
        nonlocal failures
        for n in next_n:
            began = time.perf_counter()
            ok = await send(n)
            if ok:
                latencies.append(time.perf_counter() - began)
            else:
                failures += 1

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    figures = Figures(name, count, len(latencies), time.perf_counter() - began, latencies)
    report(figures, {"failed": failures})
    return figures


def report(figures: Figures, outcomes: dict[Any, int]) -> None:
    """One line on stderr as each load ends, so a long run shows its progress."""
    counted = ", ".join(f"{outcome}: {n:,}" for outcome, n in sorted(outcomes.items(), key=str))
    print(f"  {figures.name}: {figures.rate:,.0f}/s ({counted})", file=sys.stderr, flush=True)


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def machine() -> str:
    cpus = os.cpu_count() or 0
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    return f"{platform.machine()}, {cpus} cores{memory}, Python {platform.python_version()}"


def _spawn(argv: list[str], log: Path, env: dict[str, str]) -> "subprocess.Popen[bytes]":
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


@contextlib.contextmanager
def quiet_process(
    argv: list[str], log: Path, env: dict[str, str]
) -> Iterator["subprocess.Popen[bytes]"]:
    """A helper process (a baseline server or worker), killed on exit."""
    process = _spawn(argv, log, env)
    try:
        yield process
    finally:
        process.kill()
        process.wait()


@contextlib.asynccontextmanager
async def bare_worker(
    module: str, stack: Stack, task_queue: str, receiver_url: str, log: Path
) -> AsyncIterator[Client]:
    """While inside: `python -m module`, a minimal bare Temporal worker
    (`bench/bare_worker.py`), on `stack`'s Temporal server and `task_queue`, posting to
    `receiver_url`; yields a client of that server to start its workflows with."""
    argv = [sys.executable, "-m", module, stack.temporal_address, task_queue, receiver_url]
    with quiet_process(argv, log, dict(os.environ)):
        yield await Client.connect(stack.temporal_address, data_converter=pydantic_data_converter)


def stack_processes(pid: int) -> dict[str, int]:
    """`vagt run`'s children by role: the Temporal server, the worker, the API."""
    roles = {b"worker": "Vagt worker", b"api": "Vagt API"}
    found: dict[str, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            argv = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if parent != pid or not argv:
            continue
        if Path(argv[0].decode()).name == "temporal":
            found["Temporal server"] = int(stat.parent.name)
        elif len(argv) > 1 and argv[-2] in roles:  # argv ends with the subcommand and ""
            found[roles[argv[-2]]] = int(stat.parent.name)
    return found


def cpu_seconds(processes: dict[str, int]) -> dict[str, float]:
    """CPU seconds (user and system, every thread) each process has used so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in processes.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        used[name] = (int(fields[11]) + int(fields[12])) / ticks
    return used


# A stack is settled when its processes together use less than this share of one core.
_SETTLED = 0.1
_SETTLE_SAMPLE = 0.5  # seconds


async def settle(stack: Stack, most: float = 60.0) -> None:
    """Wait until the stack has done the work a load left behind it (the alert groups
    and incidents still taking alerts answered 202, their writes), at most `most`
    seconds: each load is then measured on a quiet stack, as its baseline is."""
    processes = stack_processes(stack.process.pid)
    deadline = time.perf_counter() + most
    before = cpu_seconds(processes)
    while time.perf_counter() < deadline:
        await asyncio.sleep(_SETTLE_SAMPLE)
        after = cpu_seconds(processes)
        used = sum(after.values()) - sum(before.values())
        if used < _SETTLED * _SETTLE_SAMPLE:
            return
        before = after
