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
# While Temporal stays silent, the log says so again this often (not at every beat).
REMIND_EVERY = 300.0


class Outage:
    """Turns health checks into what an operator needs in the log: when Temporal
    stopped answering, that it still does not now and then, and when it answered again
    and after how long; one line each, not one a beat."""

    def __init__(self, target: str, remind_every: float = REMIND_EVERY) -> None:
        self._target = target
        self._remind_every = remind_every
        self._began: float | None = None  # monotonic seconds; None while Temporal answers
        self._reminded = 0.0

    def heard(self, healthy: bool, now: float) -> None:
        """Note one health check's outcome at monotonic time `now`."""
        if healthy:
            if self._began is not None:
                log.warning(
                    "Temporal at %s answers again, after %s without an answer",
                    self._target,
                    _duration(now - self._began),
                )
                self._began = None
            return
        if self._began is None:
            self._began = self._reminded = now
            log.warning(
                "Temporal at %s does not answer its health check: no incident can move "
                "until it does (the worker keeps trying)",
                self._target,
            )
        elif now - self._reminded >= self._remind_every:
            self._reminded = now
            log.warning(
                "Temporal at %s has not answered for %s",
                self._target,
                _duration(now - self._began),
            )


def _duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 120:
        return f"{whole} s"
    return f"{whole // 60} min {whole % 60} s"


async def beat(
    client: Client, settings: Settings, every: float = EVERY, outage: Outage | None = None
) -> None:
    """Touch the heartbeat file while Temporal answers health checks, so a supervisor
    can tell a worker that polls from one cut off from its cluster, and tell the log of
    outages (`Outage`); runs until cancelled."""
    path = settings.worker_heartbeat_file
    path.parent.mkdir(parents=True, exist_ok=True)
    outage = outage or Outage(settings.temporal_target)
    while True:
        try:
            healthy = await client.service_client.check_health(timeout=timedelta(seconds=5))
        except (RPCError, RuntimeError):
            healthy = False
        if healthy:
            path.touch()
        outage.heard(healthy, time.monotonic())
        await asyncio.sleep(every)


def age(settings: Settings) -> float | None:
    """Seconds since the worker last heard from Temporal; None when it never has, or
    has stopped."""
    try:
        return time.time() - settings.worker_heartbeat_file.stat().st_mtime
    except FileNotFoundError:
        return None
