"""The Vagt worker: runs incident workflows and their activities until told to stop."""

import asyncio
import logging
import signal

from temporalio.client import Client
from temporalio.worker import Worker

from activities.read_model import ReadModelActivities
from store.db import Database
from vagt.settings import Settings
from vagt.temporal import register_search_attributes, wait_until_healthy
from workflows.incident import IncidentWorkflow

log = logging.getLogger("vagt.worker")


def build_worker(client: Client, settings: Settings, database: Database) -> Worker:
    """A worker with every workflow and activity Vagt runs, on the settings' task queue."""
    read_model = ReadModelActivities(database)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[IncidentWorkflow],
        activities=[read_model.project_incident],
    )


async def run(settings: Settings) -> None:
    database = Database(settings.read_model_url)
    await database.migrate()
    client = await wait_until_healthy(settings, within=120)
    # Idempotent; done here too so a cluster without `make run` gets them.
    await register_search_attributes(client)
    worker = build_worker(client, settings, database)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("worker polling %s on %s", settings.task_queue, settings.temporal_target)
    async with worker:
        await stop.wait()
        log.info("stopping: finishing running tasks")
    await database.dispose()


def main() -> None:
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(run(settings))


if __name__ == "__main__":
    main()
