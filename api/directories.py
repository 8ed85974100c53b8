"""Integrations by key and users by token, remembered for a few seconds (store/directory.py).

An alert storm would otherwise read the integrations table once per alert, and every
step a responder takes would read the users table before anything else. A key or
token disabled, rotated or changed by an admin takes effect within `ttl` seconds.
"""

import time
from collections.abc import Callable

from store.db import Database
from store.directory import KeyDirectory
from store.integrations import IntegrationRecord, IntegrationRepository
from store.users import UserRecord, UserRepository


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
