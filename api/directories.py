"""Records by secret key (integration keys, user tokens), remembered for a few seconds.

An alert storm would otherwise read the integrations table once per alert, and every
step a responder takes would read the users table before anything else. A key or
token disabled, rotated or changed by an admin takes effect within `ttl` seconds. When
a remembered key expires, one lookup refreshes it while concurrent requests for the
same key wait for that one. Keys are remembered by their hash, so plain secrets are
not kept in memory; unknown keys are remembered too, so a misconfigured sender cannot
hammer the database.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from store.db import Database
from store.integrations import IntegrationRecord, IntegrationRepository
from store.users import UserRecord, UserRepository, hash_token

log = logging.getLogger("vagt.directories")

_MAX_REMEMBERED = 10_000

T = TypeVar("T")


class KeyDirectory(Generic[T]):
    def __init__(
        self,
        load: Callable[[str], Awaitable[T | None]],
        *,
        ttl: float,
        serve_stale: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`load` reads the record for a key; with `serve_stale`, the last answer for a
        key is used again while `load` fails, instead of failing the request."""
        self._load_record = load
        self._ttl = ttl
        self._serve_stale = serve_stale
        self._clock = clock
        self._remembered: dict[str, tuple[T | None, float]] = {}
        self._loading: dict[str, asyncio.Task[T | None]] = {}

    async def by_key(self, key: str) -> T | None:
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

    async def _load(self, key: str, digest: str) -> T | None:
        try:
            record = await self._load_record(key)
        except Exception:
            stale = self._remembered.get(digest) if self._serve_stale else None
            if stale is None:
                raise
            log.warning("read model unreachable; using the record remembered for a key")
            # Asked again after another `ttl`, not by every request meanwhile.
            self._remembered[digest] = (stale[0], self._clock() + self._ttl)
            return stale[0]
        if len(self._remembered) >= _MAX_REMEMBERED:
            self._remembered.clear()
        self._remembered[digest] = (record, self._clock() + self._ttl)
        return record


class IntegrationDirectory(KeyDirectory[IntegrationRecord]):
    """Integrations by key, for the alert endpoints. While the read model cannot be
    reached, the last answer is used again: alerts are made durable in Temporal, not
    in the read model, and must keep flowing."""

    def __init__(
        self, database: Database, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        async def load(key: str) -> IntegrationRecord | None:
            async with database.session() as session:
                return await IntegrationRepository(session).by_key(key)

        super().__init__(load, ttl=ttl, serve_stale=True, clock=clock)


class UserDirectory(KeyDirectory[UserRecord]):
    """Enabled users by token, for every authenticated request. A read model that
    cannot be reached fails the request once the token's answer expires: who may act
    is not guessed from an old answer."""

    def __init__(
        self, database: Database, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        async def load(token: str) -> UserRecord | None:
            async with database.session() as session:
                return await UserRepository(session).by_token(token)

        super().__init__(load, ttl=ttl, serve_stale=False, clock=clock)
