"""Integrations by key, remembered for a few seconds, for the alert endpoints.

An alert storm would otherwise read the integrations table once per alert. A key
disabled, rotated or changed by an admin takes effect within `ttl` seconds.
"""

import time
from collections.abc import Callable

from store.db import Database
from store.integrations import IntegrationRecord, IntegrationRepository
from store.users import hash_token

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

    async def by_key(self, key: str) -> IntegrationRecord | None:
        digest, now = hash_token(key), self._clock()
        remembered = self._remembered.get(digest)
        if remembered is not None and remembered[1] > now:
            return remembered[0]
        async with self._database.session() as session:
            integration = await IntegrationRepository(session).by_key(key)
        if len(self._remembered) >= _MAX_REMEMBERED:
            self._remembered.clear()
        self._remembered[digest] = (integration, now + self._ttl)
        return integration
