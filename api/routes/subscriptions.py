"""Subscriptions: people and channels following a service, a priority range or one
incident, to hear its news (domain/subscriptions.py)."""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import MAX_INTEGER, CurrentUser, ServicesDep, SessionDep
from api.errors import Problem, invalid, problems_from
from domain.errors import Forbidden
from domain.roles import Role
from domain.subscriptions import (
    Subscriber,
    Subscription,
    SubscriptionRequest,
    SubscriptionScope,
)
from store.incidents import IncidentRepository
from store.subscriptions import SubscriptionRepository
from store.users import UserRecord

router = APIRouter(prefix="/api/v1/subscriptions", tags=["subscriptions"])

# Besides subscribing themselves, these may subscribe others and channels, and
# unsubscribe anyone.
MANAGERS = frozenset({Role.COMMANDER, Role.PROCESS_OWNER, Role.ADMIN})

_TEXTS = {
    400: "The body is not JSON.",
    401: "No token, or an unknown or disabled one.",
    403: "Only commanders, process owners and admins subscribe others and channels, or "
    "unsubscribe them.",
    404: "No such subscription.",
    422: "A field is missing or invalid, or names a person, channel, service or incident "
    "the process or the desk does not know; `detail` says which.",
}

SubscriptionId = Annotated[int, Path(ge=1, le=MAX_INTEGER)]


_problems = problems_from(_TEXTS)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    responses=_problems(400, 401, 403, 422) | {200: {"description": "Already subscribed so."}},
)
async def subscribe(
    body: SubscriptionRequest,
    user: CurrentUser,
    session: SessionDep,
    services: ServicesDep,
    response: Response,
) -> Subscription:
    """Follow a service, a priority range or one incident. Without a subscriber you
    subscribe yourself; anyone may. Subscribing again to the same scope answers 200
    with the first subscription (taking the new `include_internal`)."""
    subscriber = body.subscriber or Subscriber(user=user.name)
    if subscriber != Subscriber(user=user.name) and MANAGERS.isdisjoint(user.roles):
        raise Forbidden(
            f"{user.name} may subscribe only themselves; commanders, process owners and "
            "admins subscribe others and channels"
        )
    await _check_subscriber(subscriber, services)
    await _check_scope(body.scope, session, services)
    subscription, created = await SubscriptionRepository(session).subscribe(
        subscriber, body.scope, body.include_internal, user.name, datetime.now(UTC)
    )
    await session.commit()
    response.headers["Location"] = f"{router.prefix}/{subscription.id}"
    if not created:
        response.status_code = status.HTTP_200_OK
    return subscription


@router.get("", responses=_problems(401, 422))
async def list_subscriptions(
    user: CurrentUser,
    session: SessionDep,
    mine: Annotated[bool, Query(description="Only the caller's own subscriptions.")] = False,
    user_name: Annotated[str | None, Query(alias="user", min_length=1, max_length=100)] = None,
    channel: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    service: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    incident_id: Annotated[int | None, Query(ge=1, le=MAX_INTEGER)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[int, Query(ge=0, le=MAX_INTEGER, description="Ids after this one.")] = 0,
) -> list[Subscription]:
    """Subscriptions in the order they were made; page with `after` (the last id seen)."""
    given = [name for name in (user_name, channel) if name is not None]
    if (mine and given) or len(given) > 1:
        raise Problem(
            422,
            "Invalid request",
            "Filter by one subscriber at most: mine=true, user or channel.",
            code="invalid-request",
        )
    subscriber = None
    if mine:
        subscriber = Subscriber(user=user.name)
    elif given:
        subscriber = Subscriber(user=user_name, channel=channel)
    return await SubscriptionRepository(session).list(
        subscriber=subscriber,
        service=service,
        incident_id=incident_id,
        limit=limit,
        after_id=after,
    )


@router.get("/{subscription_id}", responses=_problems(401, 404, 422))
async def get_subscription(
    subscription_id: SubscriptionId, user: CurrentUser, session: SessionDep
) -> Subscription:
    """One subscription."""
    found = await SubscriptionRepository(session).get(subscription_id)
    if found is None:
        raise _not_found(subscription_id)
    return found


@router.delete(
    "/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_problems(401, 403, 404, 422),
)
async def unsubscribe(
    subscription_id: SubscriptionId, user: CurrentUser, session: SessionDep
) -> None:
    """Stop following: the subscriber themselves, whoever made the subscription, or a
    commander, process owner or admin. News already on its way is still delivered."""
    repository = SubscriptionRepository(session)
    found = await repository.get(subscription_id)
    if found is None:
        raise _not_found(subscription_id)
    if not _may_unsubscribe(user, found):
        raise Forbidden(
            f"{user.name} may not end subscription {subscription_id}: it is "
            f"{found.subscriber}'s, made by {found.created_by}"
        )
    await repository.delete(subscription_id)
    await session.commit()


def _may_unsubscribe(user: UserRecord, subscription: Subscription) -> bool:
    own = subscription.subscriber == Subscriber(user=user.name)
    return own or subscription.created_by == user.name or not MANAGERS.isdisjoint(user.roles)


async def _check_subscriber(subscriber: Subscriber, services: ServicesDep) -> None:
    channels = services.process.channels  # configured with the workers' process file
    if subscriber.channel is not None and subscriber.channel not in channels:
        known = ", ".join(sorted(channels)) or "none"
        raise invalid(
            (
                "subscriber.channel",
                f"there is no channel {subscriber.channel!r} in the process file; "
                f"its channels: {known}",
            ),
        )
    people = (await services.current_process()).people
    if subscriber.user is not None and subscriber.user not in people:
        raise invalid(
            (
                "subscriber.user",
                f"{subscriber.user} has no contact methods in the process file, so news could "
                "not reach them; add them under people, or subscribe a channel",
            ),
        )


async def _check_scope(
    scope: SubscriptionScope, session: SessionDep, services: ServicesDep
) -> None:
    if scope.service is not None:
        known = (await services.current_process()).services
        if known and scope.service not in known:
            raise invalid(
                (
                    "scope.service",
                    f"unknown service {scope.service!r}; the process knows: {', '.join(known)}",
                ),
            )
    number = scope.incident_id
    if number is not None and await IncidentRepository(session).process_of(number) is None:
        raise invalid(
            (
                "scope.incident_id",
                f"there is no incident {number}; GET /api/v1/incidents lists them",
            ),
        )


def _not_found(subscription_id: int) -> Problem:
    return Problem(
        404,
        "Subscription not found",
        f"There is no subscription {subscription_id}. GET {router.prefix} lists them.",
        code="subscription-not-found",
    )
