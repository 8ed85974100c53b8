"""Liveness and readiness: a load balancer sends traffic to a replica only while both
the read model and Temporal answer it."""

import dataclasses
from pathlib import Path

import httpx

from api.app import create_app
from api.deps import Services
from store.db import Database
from tests.api.conftest import PLAIN, Api
from vagt.ports import free_port
from vagt.settings import Settings


async def test_ready_when_the_database_and_temporal_answer(api: Api) -> None:
    answer = await api.http.get("/readyz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "database": "ok", "temporal": "ok"}
    assert (await api.http.get("/healthz")).json() == {"status": "ok"}


async def test_an_api_started_while_temporal_is_down_runs_and_says_it_is_not_ready(
    database: Database, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path, temporal_address=f"127.0.0.1:{free_port()}", step_timeout_seconds=2
    )
    app = create_app(settings, database=database, process=PLAIN)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vagt") as http:
            assert (await http.get("/healthz")).status_code == 200
            answer = await http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "database": "ok", "temporal": "unreachable"}


async def test_a_database_gone_after_start_makes_it_not_ready(api: Api) -> None:
    app = api.transport.app  # type: ignore[attr-defined]
    services: Services = app.state.services
    # Nothing listens on that port: every connection is refused, as when the server died.
    gone = Database(f"postgresql://vagt@127.0.0.1:{free_port()}/vagt")
    app.state.services = dataclasses.replace(services, database=gone)
    try:
        answer = await api.http.get("/readyz")
    finally:
        app.state.services = services
        await gone.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"status": "not ready", "database": "unreachable", "temporal": "ok"}
