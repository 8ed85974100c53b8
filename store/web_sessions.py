"""Signed-in browsers of the web console.

A session is a random cookie value; only its sha256 is stored, as for API tokens, so a
copy of the table signs nobody in. Each session has its own CSRF token, which every
form of the console carries and every form post must return. Sessions end at logout,
after `LIFETIME`, or when their user is disabled.
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.tables import UserRow, WebSessionRow
from store.users import UserRecord

# A responder's shift and then some; after it, sign in again.
LIFETIME = timedelta(hours=12)


class WebSession(BaseModel):
    user: UserRecord
    csrf_token: str
    expires_at: datetime


class WebSessionRepository:
    """Sessions within the caller's session (the database's); the caller commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def open(self, user: UserRecord) -> tuple[str, WebSession]:
        """A new session for `user`: the cookie value (shown only now) and the session."""
        cookie = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        row = WebSessionRow(
            id_hash=_hash(cookie),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + LIFETIME,
        )
        self._session.add(row)
        # Expired sessions go as new ones come: the table holds only live ones.
        await self._session.execute(delete(WebSessionRow).where(WebSessionRow.expires_at < now))
        await self._session.flush()
        return cookie, WebSession(user=user, csrf_token=row.csrf_token, expires_at=row.expires_at)

    async def find(self, cookie: str) -> WebSession | None:
        """The live session behind `cookie`, with its enabled user, if any."""
        found = (
            await self._session.execute(
                select(WebSessionRow, UserRow)
                .join(UserRow, UserRow.id == WebSessionRow.user_id)
                .where(
                    WebSessionRow.id_hash == _hash(cookie),
                    WebSessionRow.expires_at > datetime.now(UTC),
                    UserRow.disabled.is_(False),
                )
            )
        ).first()
        if found is None:
            return None
        row, user = found
        return WebSession(
            user=UserRecord.model_validate(user),
            csrf_token=row.csrf_token,
            expires_at=row.expires_at,
        )

    async def close(self, cookie: str) -> None:
        await self._session.execute(
            delete(WebSessionRow).where(WebSessionRow.id_hash == _hash(cookie))
        )


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()
