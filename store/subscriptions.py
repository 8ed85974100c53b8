"""Subscriptions to incidents' news, and the question the incident workflow asks of
them: who follows this incident now?"""

import builtins
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.escalation import EscalationTarget
from domain.subscriptions import (
    PriorityRange,
    Subscriber,
    SubscriberQuery,
    Subscription,
    SubscriptionScope,
)
from store.tables import SubscriptionRow


class SubscriptionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def subscribe(
        self,
        subscriber: Subscriber,
        scope: SubscriptionScope,
        include_internal: bool,
        created_by: str,
        now: datetime,
    ) -> tuple[Subscription, bool]:
        """The subscription, and whether it is new; subscribing again to the same scope
        keeps the first one and takes the new `include_internal`. Not committed."""
        existing = await self._find(subscriber, scope)
        if existing is None:
            highest, lowest = scope.priorities.bounds() if scope.priorities else (None, None)
            row = SubscriptionRow(
                subscriber=str(subscriber),
                scope=str(scope),
                user_name=subscriber.user,
                channel=subscriber.channel,
                service=scope.service,
                priority_highest=highest,
                priority_lowest=lowest,
                incident_id=scope.incident_id,
                include_internal=include_internal,
                created_by=created_by,
                created_at=now,
            )
            try:
                async with self._session.begin_nested():
                    self._session.add(row)
            except IntegrityError:
                # Another request subscribed the same way at the same moment.
                existing = await self._find(subscriber, scope)
                assert existing is not None
            else:
                return _subscription(row), True
        existing.include_internal = include_internal
        await self._session.flush()
        return _subscription(existing), False

    async def get(self, subscription_id: int) -> Subscription | None:
        row = await self._session.get(SubscriptionRow, subscription_id)
        return _subscription(row) if row else None

    async def list(
        self,
        *,
        subscriber: Subscriber | None = None,
        service: str | None = None,
        incident_id: int | None = None,
        limit: int = 100,
        after_id: int = 0,
    ) -> builtins.list[Subscription]:
        """Subscriptions in creation order, filtered by whichever of the arguments are given."""
        query = select(SubscriptionRow).where(SubscriptionRow.id > after_id)
        if subscriber is not None:
            query = query.where(SubscriptionRow.subscriber == str(subscriber))
        if service is not None:
            query = query.where(SubscriptionRow.service == service)
        if incident_id is not None:
            query = query.where(SubscriptionRow.incident_id == incident_id)
        rows = await self._session.scalars(query.order_by(SubscriptionRow.id).limit(limit))
        return [_subscription(row) for row in rows]

    async def delete(self, subscription_id: int) -> bool:
        """Unsubscribe; False if there was no such subscription. Not committed."""
        result = await self._session.execute(
            delete(SubscriptionRow).where(SubscriptionRow.id == subscription_id)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def followers(self, query: SubscriberQuery) -> builtins.list[EscalationTarget]:
        """Everyone who follows the incident for news of that kind, each once, in the
        order they first subscribed."""
        connection = await self._session.connection()
        return (await connection.run_sync(followers_in, [query]))[0]

    async def _find(
        self, subscriber: Subscriber, scope: SubscriptionScope
    ) -> SubscriptionRow | None:
        found: SubscriptionRow | None = await self._session.scalar(
            select(SubscriptionRow).where(
                SubscriptionRow.subscriber == str(subscriber),
                SubscriptionRow.scope == str(scope),
            )
        )
        return found


def followers_in(
    connection: Connection, queries: Sequence[SubscriberQuery]
) -> list[list[EscalationTarget]]:
    """`SubscriptionRepository.followers` of each query, with one read for them all, on
    a synchronous connection: the projection asks for every piece of news of every
    incident in its batch at once, in its own transaction."""
    if not queries:
        return []
    rows = connection.execute(
        _CANDIDATES,
        {
            "incidents": sorted({query.incident_id for query in queries}),
            "services": sorted({q.service for q in queries if q.service is not None}),
        },
    )
    subscriptions = [_subscription(row) for row in rows]
    answers = []
    for query in queries:
        found: dict[str, EscalationTarget] = {}
        for subscription in subscriptions:
            if subscription.follows(query.incident_id, query.service, query.priority, query.public):
                subscriber = subscription.subscriber
                found.setdefault(str(subscriber), subscriber.target())
        answers.append(list(found.values()))
    return answers


# The subscriptions that may follow some incident of a batch (by number, by service or
# by priority), in the order they were made; built once, as the projection asks for
# every batch. Plain rows: the answer is read, never changed.
_CANDIDATES = (
    select(*SubscriptionRow.__table__.columns)
    .where(
        or_(
            SubscriptionRow.incident_id.in_(bindparam("incidents", expanding=True)),
            SubscriptionRow.service.in_(bindparam("services", expanding=True)),
            SubscriptionRow.priority_highest.is_not(None),
        )
    )
    .order_by(SubscriptionRow.id)
)


def _subscription(row: SubscriptionRow | Row[Any]) -> Subscription:
    priorities = None
    if row.priority_highest is not None and row.priority_lowest is not None:
        priorities = PriorityRange.from_bounds(row.priority_highest, row.priority_lowest)
    return Subscription(
        id=row.id,
        subscriber=Subscriber(user=row.user_name, channel=row.channel),
        scope=SubscriptionScope(
            service=row.service, priorities=priorities, incident_id=row.incident_id
        ),
        include_internal=row.include_internal,
        created_by=row.created_by,
        created_at=row.created_at,
    )
