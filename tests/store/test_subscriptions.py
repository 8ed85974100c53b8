"""Subscriptions in the read model, and who follows an incident for its news."""

from datetime import UTC, datetime

import pytest

from domain.escalation import EscalationTarget
from domain.priority import Priority
from domain.subscriptions import (
    PriorityRange,
    Subscriber,
    SubscriberQuery,
    Subscription,
    SubscriptionScope,
)
from store.db import Database
from store.subscriptions import SubscriptionRepository

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)

CHECKOUT = SubscriptionScope(service="checkout")
TOP_TWO = SubscriptionScope(priorities=PriorityRange(lowest=Priority.P2))
INCIDENT_7 = SubscriptionScope(incident_id=7)


async def subscribe(
    database: Database, subscriber: Subscriber, scope: SubscriptionScope, internal: bool = False
) -> tuple[Subscription, bool]:
    async with database.session() as session:
        made = await SubscriptionRepository(session).subscribe(
            subscriber, scope, internal, "ada", NOW
        )
        await session.commit()
    return made


async def followers(
    database: Database,
    incident_id: int = 1,
    service: str | None = None,
    priority: Priority = Priority.P3,
    public: bool = True,
) -> list[str]:
    async with database.session() as session:
        found = await SubscriptionRepository(session).followers(
            SubscriberQuery(
                incident_id=incident_id, service=service, priority=priority, public=public
            )
        )
    return [str(target) for target in found]


class TestSubscribing:
    async def test_a_subscription_reads_back_as_made(self, database: Database) -> None:
        made, created = await subscribe(database, Subscriber(user="alice"), TOP_TWO)

        assert created
        async with database.session() as session:
            assert await SubscriptionRepository(session).get(made.id) == made
        assert made.scope.priorities == PriorityRange(highest=Priority.P1, lowest=Priority.P2)
        assert (made.created_by, made.created_at, made.include_internal) == ("ada", NOW, False)

    async def test_subscribing_again_finds_the_first_and_takes_the_new_choice(
        self, database: Database
    ) -> None:
        first, _ = await subscribe(database, Subscriber(channel="status"), CHECKOUT)

        again, created = await subscribe(database, Subscriber(channel="status"), CHECKOUT, True)

        assert not created
        assert again.id == first.id
        assert again.include_internal
        async with database.session() as session:
            assert len(await SubscriptionRepository(session).list()) == 1

    async def test_listing_filters_by_subscriber_service_and_incident(
        self, database: Database
    ) -> None:
        alice, _ = await subscribe(database, Subscriber(user="alice"), CHECKOUT)
        status, _ = await subscribe(database, Subscriber(channel="status"), CHECKOUT)
        seventh, _ = await subscribe(database, Subscriber(user="alice"), INCIDENT_7)

        async with database.session() as session:
            repository = SubscriptionRepository(session)
            assert await repository.list(subscriber=Subscriber(user="alice")) == [alice, seventh]
            assert await repository.list(service="checkout") == [alice, status]
            assert await repository.list(incident_id=7) == [seventh]
            assert await repository.list(limit=1, after_id=alice.id) == [status]

    async def test_unsubscribing_removes_it_once(self, database: Database) -> None:
        made, _ = await subscribe(database, Subscriber(user="alice"), CHECKOUT)

        async with database.session() as session:
            repository = SubscriptionRepository(session)
            assert await repository.delete(made.id)
            assert not await repository.delete(made.id)
            await session.commit()
            assert await repository.get(made.id) is None


class TestFollowers:
    async def test_each_scope_follows_what_it_names(self, database: Database) -> None:
        await subscribe(database, Subscriber(user="by-service"), CHECKOUT)
        await subscribe(database, Subscriber(user="by-priority"), TOP_TWO)
        await subscribe(database, Subscriber(user="by-incident"), INCIDENT_7)

        assert await followers(database, service="checkout") == ["user:by-service"]
        assert await followers(database, priority=Priority.P1) == ["user:by-priority"]
        assert await followers(database, priority=Priority.P2) == ["user:by-priority"]
        assert await followers(database, priority=Priority.P3) == []
        assert await followers(database, incident_id=7) == ["user:by-incident"]
        assert await followers(
            database, incident_id=7, service="checkout", priority=Priority.P1
        ) == ["user:by-service", "user:by-priority", "user:by-incident"]
        assert await followers(database, service=None) == []

    async def test_a_subscriber_following_several_ways_is_told_once(
        self, database: Database
    ) -> None:
        await subscribe(database, Subscriber(channel="status"), TOP_TWO)
        await subscribe(database, Subscriber(channel="status"), CHECKOUT)

        assert await followers(database, service="checkout", priority=Priority.P1) == [
            "channel:status"
        ]

    async def test_internal_news_goes_only_to_who_asked_for_it(self, database: Database) -> None:
        await subscribe(database, Subscriber(channel="status"), CHECKOUT)
        await subscribe(database, Subscriber(user="bob"), CHECKOUT, internal=True)

        assert await followers(database, service="checkout", public=False) == ["user:bob"]
        assert await followers(database, service="checkout") == ["channel:status", "user:bob"]

    async def test_each_subscription_agrees_with_its_own_rule(self, database: Database) -> None:
        scopes = [
            CHECKOUT,
            SubscriptionScope(service="search"),
            INCIDENT_7,
            TOP_TWO,
            SubscriptionScope(priorities=PriorityRange(highest=Priority.P3, lowest=Priority.P5)),
        ]
        made = [
            (await subscribe(database, Subscriber(user=f"u{n}"), scope, n % 2 == 0))[0]
            for n, scope in enumerate(scopes)
        ]
        for incident_id in (1, 7):
            for service in ("checkout", "search", None):
                for priority in Priority:
                    for public in (True, False):
                        expected = [
                            str(s.subscriber)
                            for s in made
                            if s.follows(incident_id, service, priority, public)
                        ]
                        found = await followers(database, incident_id, service, priority, public)
                        assert found == expected, (incident_id, service, priority, public)


@pytest.mark.parametrize(
    ("highest", "lowest", "inside", "outside"),
    [
        (Priority.P1, Priority.P1, [Priority.P1], [Priority.P2]),
        (Priority.P2, Priority.P4, [Priority.P3], [Priority.P1, Priority.P5]),
    ],
)
def test_a_priority_range_holds_both_ends(
    highest: Priority, lowest: Priority, inside: list[Priority], outside: list[Priority]
) -> None:
    span = PriorityRange(highest=highest, lowest=lowest)
    assert all(p in span for p in [highest, lowest, *inside])
    assert not any(p in span for p in outside)


def test_a_target_names_the_subscriber() -> None:
    assert Subscriber(channel="status").target() == EscalationTarget(channel="status")
