"""Vagt's own processes started by tests, to be killed and replaced."""

import asyncio
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
from temporalio.client import Client

from api.app import create_app
from domain.roles import Role
from store.db import Database
from store.users import create_user
from tests.numbering import fresh_numbering
from vagt.process_file import load_process
from vagt.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def worker_process(
    settings: Settings, log: Path, process_file: Path | None = None, **environment: str
) -> Iterator["subprocess.Popen[bytes]"]:
    """`python worker.py` with `settings` and extra VAGT_* `environment`, its output
    appended to `log`; killed on exit."""
    env = os.environ | {
        "VAGT_TEMPORAL_ADDRESS": settings.temporal_target,
        "VAGT_TASK_QUEUE": settings.task_queue,
        "VAGT_DATABASE_URL": settings.read_model_url,
        **environment,
    }
    if process_file is not None:
        env["VAGT_PROCESS_FILE"] = str(process_file)
    process = _spawn([sys.executable, str(ROOT / "worker.py")], env, log)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _spawn(command: list[str], env: dict[str, str], log: Path) -> "subprocess.Popen[bytes]":
    with log.open("ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


@asynccontextmanager
async def api_process(
    settings: Settings, log: Path, **environment: str
) -> AsyncIterator["subprocess.Popen[bytes]"]:
    """`vagt api` with `settings` and extra VAGT_* `environment`, once it answers /healthz
    (over https when VAGT_TLS_CERT_FILE is given); killed on exit."""
    env = os.environ | {
        "VAGT_TEMPORAL_ADDRESS": settings.temporal_target,
        "VAGT_TASK_QUEUE": settings.task_queue,
        "VAGT_DATABASE_URL": settings.read_model_url,
        "VAGT_API_HOST": settings.api_host,
        "VAGT_API_PORT": str(settings.api_port),
        "VAGT_LOG_LEVEL": "WARNING",
        **environment,
    }
    certificate = environment.get("VAGT_TLS_CERT_FILE")
    scheme = "https" if certificate else "http"
    url = f"{scheme}://{settings.api_host}:{settings.api_port}/healthz"
    process = _spawn([sys.executable, "-m", "vagt.cli", "api"], env, log)
    try:
        verify = ssl.create_default_context(cafile=certificate) if certificate else True
        async with httpx.AsyncClient(verify=verify, trust_env=False) as probe:
            for _ in range(300):
                if process.poll() is not None:
                    raise AssertionError(f"vagt api exited: {_tail(log)}")
                try:
                    if (await probe.get(url, timeout=1)).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError(f"vagt api did not answer {url} within 30 s")
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


@asynccontextmanager
async def api_stack(
    client: Client, data_dir: Path, process_file: Path | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings, Database]]:
    """The API in this process on a fresh SQLite read model and task queue, with an
    HTTP client authenticated as alice (responder, commander); no worker."""
    settings = Settings(
        temporal_address=client.service_client.config.target_host,
        task_queue=f"vagt-test-{uuid.uuid4()}",
        database_url=f"sqlite+aiosqlite:///{data_dir / 'vagt.db'}",
        data_dir=data_dir,
        step_timeout_seconds=30,
        process_file=process_file,
        workflow_sandbox=True,  # for workers in this process; see Settings.workflow_sandbox
    )
    database = Database(settings.read_model_url)
    await database.migrate()
    await fresh_numbering(database)
    _, token = await create_user(database, "alice", [Role.RESPONDER, Role.COMMANDER])
    app = create_app(
        settings, database=database, temporal=client, process=load_process(process_file)
    )
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://vagt",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
            ) as http:
                yield http, settings, database
    finally:
        await database.dispose()
