"""The web console's subscriptions: follow a service, priorities or one incident, and
stop following, through the same route functions as the API."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

from api.deps import MAX_INTEGER, ServicesDep, SessionDep
from api.errors import Problem
from api.routes import subscriptions as api_subscriptions
from api.web import SignedIn, checked_form, local_path, page, reason
from domain.errors import DomainError
from domain.priority import Priority
from domain.subscriptions import Subscription, SubscriptionRequest
from store.subscriptions import SubscriptionRepository

router = APIRouter(include_in_schema=False)


@router.get("/subscriptions")
async def subscriptions_page(
    request: Request, web: SignedIn, session: SessionDep, services: ServicesDep
) -> Response:
    return await _page(request, web, session, services)


@router.post("/subscriptions")
async def subscribe(
    request: Request, web: SignedIn, session: SessionDep, services: ServicesDep
) -> Response:
    form = await checked_form(request, web)
    if isinstance(form, Response):
        return form
    fields = {key: str(value).strip() for key, value in form.items() if key != "csrf_token"}
    try:
        body = SubscriptionRequest.model_validate(_request(fields))
        await api_subscriptions.subscribe(body, web.user, session, services, Response())
    except (ValidationError, Problem, DomainError) as refusal:
        await session.rollback()
        why, status = reason(refusal)
        return await _page(request, web, session, services, why, fields, status)
    return RedirectResponse(local_path(fields.get("next") or "/subscriptions"), status_code=303)


@router.post("/subscriptions/{subscription_id}/delete")
async def unsubscribe(
    request: Request,
    subscription_id: Annotated[int, Path(ge=1, le=MAX_INTEGER)],
    web: SignedIn,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    form = await checked_form(request, web)
    if isinstance(form, Response):
        return form
    try:
        await api_subscriptions.unsubscribe(subscription_id, web.user, session)
    except (Problem, DomainError) as refusal:
        await session.rollback()
        why, status = reason(refusal)
        return await _page(request, web, session, services, why, {}, status)
    return RedirectResponse("/subscriptions", status_code=303)


def _request(fields: dict[str, str]) -> dict[str, Any]:
    """The form as a subscription request: whom (me, or a channel), what it follows."""
    body: dict[str, Any] = {"include_internal": "include_internal" in fields}
    channel = fields.get("channel", "")
    if channel:
        body["subscriber"] = {"channel": channel}
    if "incident_id" in fields:
        body["scope"] = {"incident_id": fields["incident_id"]}
    elif fields.get("follows") == "priorities":
        body["scope"] = {
            "priorities": {"highest": fields.get("highest", "P1"), "lowest": fields.get("lowest")}
        }
    else:
        body["scope"] = {"service": fields.get("service") or None}
    return body


async def _page(
    request: Request,
    web: SignedIn,
    session: SessionDep,
    services: ServicesDep,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    repository = SubscriptionRepository(session)
    everyone: list[Subscription] = await repository.list(limit=500)
    context = {
        "subscriptions": everyone,
        "me_subscriber": f"user:{web.user.name}",
        "channels": sorted(services.process.channels),
        "manager": not api_subscriptions.MANAGERS.isdisjoint(web.user.roles),
        "priorities": list(Priority),
        "error": error,
        "form": form or {},
    }
    return page(request, "subscriptions.html", context, web, status_code)
