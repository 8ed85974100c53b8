"""The FastAPI application: JSON API under /api/v1, OpenAPI at /docs."""

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI
from temporalio.client import Client

from api import errors, web
from api.deps import Services
from api.directories import IntegrationDirectory, UserDirectory
from api.gateway import IncidentGateway
from api.ingest import AlertIngestor
from api.metrics import Metrics
from api.ratelimit import RateLimiter
from api.routes import (
    alerts,
    changes,
    health,
    incidents,
    integrations,
    metrics,
    processes,
    reports,
    schedules,
    subscriptions,
    users,
    what_if,
)
from domain.process import ProcessDocument
from store.db import Database
from store.processes import ProcessCatalog, adopt_process_file
from store.projection import ProjectionWriter
from store.users import bootstrap_admin
from vagt.process_file import load_process
from vagt.settings import Settings
from vagt.temporal import connect

log = logging.getLogger("vagt.api")

# How long the API's write of a step waits, while other steps are with Temporal, for
# their writes to share its commit (store/projection.py). Measured with the lifecycle
# benchmark: under load, 5 ms more per step saved about a tenth of the API's CPU.
GATHER_SECONDS = 0.005


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    temporal: Client | None = None,
    process: ProcessDocument | None = None,
) -> FastAPI:
    """Build the app; tests pass their own database and Temporal client."""
    settings = settings or Settings()
    # Checked before anything starts: a broken process file stops the API with its problems.
    process = process or load_process(settings.process_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            db = database
            if db is None:
                db = Database(settings.read_model_url)
                stack.push_async_callback(db.dispose)
            await db.migrate()
            await _bootstrap_admin(settings, db)
            # The process file publishes a version of its process when it changed.
            await adopt_process_file(db, process.definition())
            # Lazy, so the API starts (and reports not ready) while Temporal is down.
            client = temporal or await connect(settings, lazy=True)
            gateway = IncidentGateway(
                client,
                settings.task_queue,
                settings.step_timeout_seconds,
                # Lists and the incident at once; the reports' facts come with the
                # workflow's write of the same steps, a few seconds later.
                writer=ProjectionWriter(db, facts=False, gather_seconds=GATHER_SECONDS),
                batch_seconds=settings.step_batch_seconds,
                database=db,
            )
            app.state.services = Services(
                settings=settings,
                database=db,
                gateway=gateway,
                process=process,
                ingestor=AlertIngestor(
                    client, settings.task_queue, timeout=settings.step_timeout_seconds
                ),
                rate_limiter=RateLimiter(),
                integrations=IntegrationDirectory(db),
                users=UserDirectory(db),
                processes=ProcessCatalog(db),
            )
            yield

    app = FastAPI(
        title="Vagt",
        summary="Durable incident process engine",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.metrics = Metrics()
    errors.install(app)
    # Routes are tried in the order they are added, and each request walks them until one
    # matches: the busiest first (alerts, then incident steps), the console's pages last.
    # No path of one router can be taken by another's.
    for module in (
        alerts,
        incidents,
        health,
        integrations,
        processes,
        what_if,
        reports,
        schedules,
        subscriptions,
        users,
        changes,
        metrics,
    ):
        app.include_router(module.router)
    web.install(app)
    return app


async def _bootstrap_admin(settings: Settings, db: Database) -> None:
    given = settings.admin_token.get_secret_value() if settings.admin_token else None
    token = await bootstrap_admin(db, given, settings.admin_token_file)
    if token is not None and given is None:
        log.warning(
            "created the first admin user 'admin'; token (shown once): %s; saved in %s",
            token,
            settings.admin_token_file,
        )
