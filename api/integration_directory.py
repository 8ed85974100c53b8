"""Integrations by key, remembered for a few seconds, for the alert endpoints.

An alert storm would otherwise read the integrations table once per alert. A key
disabled, rotated or changed by an admin takes effect within `ttl` seconds. When a
remembered key expires, one lookup refreshes it while concurrent requests for the same
key wait for that one; and if the read model cannot be reached, the last answer is
used again, since alerts are made durable in Temporal, not in the read model.
"""

import asyncio
import logging
import time
from collections.abc import Callable

from store.db import Database
from store.integrations import IntegrationRecord, IntegrationRepository
from store.users import hash_token

log = logging.getLogger("vagt.integrations")

_MAX_REMEMBERED = 10_000


class IntegrationDirectory:
    def __init__(
        self, database: Database, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._database = database
        self._ttl = ttl
        self._clock = clock
        # Keyed by the key's hash, so plain keys are not kept in memory. Unknown keys
        # are remembered too, so a misconfigured sender cannot hammer the database.
        self._remembered: dict[str, tuple[IntegrationRecord | None, float]] = {}
        self._loading: dict[str, asyncio.Task[IntegrationRecord | None]] = {}

    async def by_key(self, key: str) -> IntegrationRecord | None:
        digest = hash_token(key)
        remembered = self._remembered.get(digest)
        if remembered is not None and remembered[1] > self._clock():
            return remembered[0]
        loading = self._loading.get(digest)
        if loading is None:
            loading = asyncio.create_task(self._load(key, digest))
            self._loading[digest] = loading
            loading.add_done_callback(lambda _: self._loading.pop(digest, None))
            # Read even when every waiter was cancelled, so a failure is never "lost".
            loading.add_done_callback(lambda task: task.cancelled() or task.exception())
        # Shielded: one waiter cancelled (its sender hung up) does not cancel the others'.
        return await asyncio.shield(loading)

    async def _load(self, key: str, digest: str) -> IntegrationRecord | None:
        try:
            async with self._database.session() as session:
                integration = await IntegrationRepository(session).by_key(key)
        except Exception:
            stale = self._remembered.get(digest)
            if stale is None:
                raise
            log.warning("read model unreachable; using the integration remembered for a key")
            # Asked again after another `ttl`, not by every request meanwhile.
            self._remembered[digest] = (stale[0], self._clock() + self._ttl)
            return stale[0]
        if len(self._remembered) >= _MAX_REMEMBERED:
            self._remembered.clear()
        self._remembered[digest] = (integration, self._clock() + self._ttl)
        return integration
