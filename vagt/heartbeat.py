"""The worker's heartbeat: a file it touches while Temporal answers it, which the
worker container's health check (`vagt worker-health`) reads without loading the
worker itself."""

import asyncio
import logging
import time
from datetime import timedelta

from temporalio.client import Client
from temporalio.service import RPCError

from vagt.settings import Settings

log = logging.getLogger("vagt.worker")

EVERY = 10.0
# `vagt worker-health` fails when the heartbeat is older than this: three beats missed.
STALE_AFTER = 3 * EVERY + 5


async def beat(client: Client, settings: Settings) -> None:
    """Touch the heartbeat file while Temporal answers health checks, so a supervisor
    can tell a worker that polls from one cut off from its cluster; runs until
    cancelled."""
    path = settings.worker_heartbeat_file
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            healthy = await client.service_client.check_health(timeout=timedelta(seconds=5))
        except (RPCError, RuntimeError):
            healthy = False
        if healthy:
            path.touch()
        else:
            log.warning("Temporal at %s does not answer its health check", settings.temporal_target)
        await asyncio.sleep(EVERY)


def age(settings: Settings) -> float | None:
    """Seconds since the worker last heard from Temporal; None when it never has, or
    has stopped."""
    try:
        return time.time() - settings.worker_heartbeat_file.stat().st_mtime
    except FileNotFoundError:
        return None
