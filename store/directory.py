"""Records by key, remembered for a few seconds: one read per key per `ttl`, however
many ask at once.

When a remembered key expires, one lookup refreshes it while concurrent callers for
the same key wait for that one. Keys are remembered by their hash, so secrets used as
keys (integration keys, user tokens) are not kept in memory; unknown keys are
remembered too, so a caller cannot hammer the database with them. `forget` drops a key
at once, for a change made in this process.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from store.users import hash_token

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

    def forget(self, key: str) -> None:
        """Read `key` afresh next time it is asked for."""
        self._remembered.pop(hash_token(key), None)

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
