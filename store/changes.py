"""Change events in the read model: what changed, where and when, for responders to see.

Written once when a sender reports a change and never updated: no workflow owns them,
because a change pages no one and has no lifecycle.
"""

import builtins
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.alerts import Link
from store.tables import ChangeEventRow


class ChangeRecord(BaseModel):
    """One stored change event."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    integration_id: int
    service: str | None = Field(description="From the integration's routing; None if unrouted.")
    summary: str
    source: str | None
    happened_at: datetime = Field(
        description="The sender's timestamp, or when Vagt received the event if it gave none."
    )
    received_at: datetime
    details: dict[str, Any]
    links: list[Link]


class ChangePage(BaseModel):
    items: list[ChangeRecord]
    total: int
    limit: int
    offset: int


class ChangeRepository:
    """Adds and lists change events within the caller's session; the caller commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        *,
        integration_id: int,
        service: str | None,
        summary: str,
        source: str | None,
        happened_at: datetime,
        received_at: datetime,
        details: dict[str, Any],
        links: builtins.list[Link],
    ) -> ChangeRecord:
        row = ChangeEventRow(
            integration_id=integration_id,
            service=service,
            summary=summary,
            source=source,
            happened_at=happened_at,
            received_at=received_at,
            details=details,
            links=[link.model_dump(mode="json") for link in links],
        )
        self._session.add(row)
        await self._session.flush()
        return ChangeRecord.model_validate(row)

    async def list(
        self,
        service: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> ChangePage:
        """One page of changes, newest first; `since` is inclusive and `until` exclusive,
        so consecutive windows neither repeat nor miss a change."""
        conditions = _conditions(service, since, until)
        total = await self._session.scalar(
            select(func.count()).select_from(ChangeEventRow).where(*conditions)
        )
        rows = await self._session.scalars(
            select(ChangeEventRow)
            .where(*conditions)
            .order_by(ChangeEventRow.happened_at.desc(), ChangeEventRow.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return ChangePage(
            items=[ChangeRecord.model_validate(row) for row in rows],
            total=total or 0,
            limit=limit,
            offset=offset,
        )


def _conditions(
    service: str | None, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if service is not None:
        conditions.append(ChangeEventRow.service == service)
    if since is not None:
        conditions.append(ChangeEventRow.happened_at >= since)
    if until is not None:
        conditions.append(ChangeEventRow.happened_at < until)
    return conditions
