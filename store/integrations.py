"""Integrations and their keys; only a hash of each key is stored."""

import builtins
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.integrations import IntegrationFormat, IntegrationSettings
from domain.routing import Routing
from store.tables import IntegrationRow
from store.users import hash_token

KEY_HINT_LENGTH = 4


class IntegrationRecord(BaseModel):
    """A stored integration, without its key or the key's hash."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    uid: str
    name: str
    format: IntegrationFormat
    enabled: bool
    routing: Routing
    resolve_on_recovery: bool
    rate_limit_per_minute: int
    key_hint: str
    created_at: datetime
    updated_at: datetime

    def settings(self) -> IntegrationSettings:
        return IntegrationSettings.model_validate(
            self.model_dump(include=set(IntegrationSettings.model_fields))
        )


class IntegrationExists(Exception):
    """An integration with that name is already there."""


def issue_key() -> str:
    # 32 lowercase hex characters: the shape of a PagerDuty routing key, which some
    # PagerDuty clients check before sending. 128 random bits cannot be guessed.
    return secrets.token_hex(16)


class IntegrationRepository:
    """Integrations within the caller's session; the caller commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, settings: IntegrationSettings) -> tuple[IntegrationRecord, str]:
        """A new integration and its key, which is returned here and nowhere else;
        IntegrationExists if the name is taken."""
        key = issue_key()
        now = datetime.now(UTC)
        values = {
            **settings.model_dump(mode="json"),
            **_key_columns(key),
            "uid": uuid.uuid4().hex,
            "created_at": now,
            "updated_at": now,
        }
        # ON CONFLICT covers a concurrent create of the same name without breaking the
        # caller's transaction.
        statement = (
            self._insert()
            .values(values)
            .on_conflict_do_nothing(index_elements=[IntegrationRow.name])
            .returning(IntegrationRow)
        )
        row = (await self._session.execute(statement)).scalar_one_or_none()
        if row is None:
            raise IntegrationExists(f"an integration named {settings.name!r} already exists")
        return IntegrationRecord.model_validate(row), key

    async def by_key(self, key: str) -> IntegrationRecord | None:
        """The integration holding `key`, disabled or not: callers tell the two apart."""
        row = await self._session.scalar(
            select(IntegrationRow).where(IntegrationRow.key_hash == hash_token(key))
        )
        return None if row is None else IntegrationRecord.model_validate(row)

    async def get(self, integration_id: int) -> IntegrationRecord | None:
        row = await self._session.get(IntegrationRow, integration_id)
        return None if row is None else IntegrationRecord.model_validate(row)

    async def list(self) -> builtins.list[IntegrationRecord]:
        rows = await self._session.scalars(select(IntegrationRow).order_by(IntegrationRow.name))
        return [IntegrationRecord.model_validate(row) for row in rows]

    async def update(
        self, integration_id: int, changes: dict[str, Any]
    ) -> IntegrationRecord | None:
        """Apply `changes` (settings fields) and return the result; None if there is no
        such integration. Raises pydantic's ValidationError if the result breaks a rule
        of IntegrationSettings, and IntegrationExists if the new name is taken (after a
        concurrent rename the caller's transaction must then be rolled back)."""
        row = await self._session.get(IntegrationRow, integration_id)
        if row is None:
            return None
        current = IntegrationRecord.model_validate(row).settings()
        updated = IntegrationSettings.model_validate({**current.model_dump(), **changes})
        if updated == current:
            return IntegrationRecord.model_validate(row)
        if updated.name != current.name and await self._name_taken(updated.name):
            raise IntegrationExists(f"an integration named {updated.name!r} already exists")
        for column, value in updated.model_dump(mode="json").items():
            setattr(row, column, value)
        row.updated_at = datetime.now(UTC)
        try:
            await self._session.flush()
        except IntegrityError as error:
            raise IntegrationExists(
                f"an integration named {updated.name!r} already exists"
            ) from error
        return IntegrationRecord.model_validate(row)

    async def rotate_key(self, integration_id: int) -> str | None:
        """Replace the integration's key; the old one stops working when the caller
        commits. Returns the new key, or None if there is no such integration."""
        row = await self._session.get(IntegrationRow, integration_id)
        if row is None:
            return None
        key = issue_key()
        for column, value in _key_columns(key).items():
            setattr(row, column, value)
        row.updated_at = datetime.now(UTC)
        await self._session.flush()
        return key

    async def _name_taken(self, name: str) -> bool:
        found = await self._session.scalar(
            select(IntegrationRow.id).where(IntegrationRow.name == name)
        )
        return found is not None

    def _insert(self) -> Any:
        if self._session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(IntegrationRow)
        return sqlite.insert(IntegrationRow)


def _key_columns(key: str) -> dict[str, str]:
    return {"key_hash": hash_token(key), "key_hint": key[:KEY_HINT_LENGTH]}
