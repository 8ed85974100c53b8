"""Integrations: the monitoring tools allowed to send alerts; only admins manage them."""

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from api.deps import AdminUser, IntegrationId, SessionDep
from api.errors import Problem, problems_from
from domain.integrations import IntegrationChanges, IntegrationFormat, IntegrationSettings
from domain.routing import Routing
from store.integrations import IntegrationExists, IntegrationRecord, IntegrationRepository

router = APIRouter(prefix="/api/v1/integrations", tags=["integrations"])

# `:int`, so these never shadow the senders' routes such as /alertmanager/{key}.
_ONE = "/{integration_id:int}"

_PROBLEM_TEXTS = {
    400: "The body is not JSON.",
    401: "No token, or an unknown or disabled one.",
    403: "Only admins manage integrations.",
    404: "No such integration.",
    409: "Another integration has that name.",
    422: "A field or parameter is missing or invalid; `errors` lists each one.",
}


_problems = problems_from(_PROBLEM_TEXTS)


KeyIn = Literal["routing_key", "bearer", "path"]


class IntegrationOut(BaseModel):
    """An integration's settings; its key is never shown again after it is issued."""

    id: int
    name: str
    format: IntegrationFormat
    enabled: bool
    routing: Routing
    resolve_on_recovery: bool
    rate_limit_per_minute: int
    key_hint: str = Field(description="The key's first characters, to tell keys apart.")
    created_at: datetime
    updated_at: datetime


class SenderEndpoint(BaseModel):
    """One way to send alerts: POST to `url`, with the key where `key_in` says."""

    url: str
    key_in: KeyIn
    how: str


class IntegrationKey(BaseModel):
    """A newly issued key, shown this once, and where senders use it."""

    integration: IntegrationOut
    key: str = Field(description="Shown only now; Vagt keeps only a hash of it.")
    send_to: list[SenderEndpoint]


def _webhook(path: str) -> tuple[tuple[str, KeyIn, str], ...]:
    return (
        (path, "bearer", "Send the header 'Authorization: Bearer <key>'."),
        (path + "/{key}", "path", "For senders that cannot set headers: the key is in the URL."),
    )


# Paths relative to the API's address; {key} is filled in with the new key.
_SEND_TO: dict[IntegrationFormat, tuple[tuple[str, KeyIn, str], ...]] = {
    IntegrationFormat.PAGERDUTY: (
        (
            "/v2/enqueue",
            "routing_key",
            "PagerDuty Events API v2: the key is each event's routing_key. PagerDuty "
            "clients take the API's address as their base URL.",
        ),
    ),
    IntegrationFormat.ALERTMANAGER: _webhook("/api/v1/integrations/alertmanager"),
    IntegrationFormat.GRAFANA: _webhook("/api/v1/integrations/grafana"),
    IntegrationFormat.GENERIC: (
        ("/api/v1/alerts", "bearer", "Send the header 'Authorization: Bearer <key>'."),
    ),
}


def _out(integration: IntegrationRecord) -> IntegrationOut:
    return IntegrationOut.model_validate(integration.model_dump())


def _with_key(integration: IntegrationRecord, key: str, request: Request) -> IntegrationKey:
    # The address the admin reached the API on; behind a proxy it is what the proxy forwards.
    base = str(request.base_url).rstrip("/")
    send_to = [
        SenderEndpoint(url=base + path.format(key=key), key_in=key_in, how=how)
        for path, key_in, how in _SEND_TO[integration.format]
    ]
    return IntegrationKey(integration=_out(integration), key=key, send_to=send_to)


def _not_found(integration_id: int) -> Problem:
    return Problem(
        404,
        "Integration not found",
        f"There is no integration {integration_id}. GET /api/v1/integrations lists them.",
        code="integration-not-found",
    )


def _name_taken(name: str) -> Problem:
    return Problem(
        409,
        "Integration exists",
        f"There is already an integration named {name!r}; pick another name.",
        code="integration-exists",
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=_problems(400, 401, 403, 409, 422))
async def create_integration(
    body: IntegrationSettings, admin: AdminUser, session: SessionDep, request: Request
) -> IntegrationKey:
    """Create an integration; the answer holds its key, which is never shown again,
    and the URLs to point the sender at."""
    try:
        integration, key = await IntegrationRepository(session).create(body)
    except IntegrationExists:
        raise _name_taken(body.name) from None
    await session.commit()
    return _with_key(integration, key, request)


@router.get("", responses=_problems(401, 403))
async def list_integrations(admin: AdminUser, session: SessionDep) -> list[IntegrationOut]:
    """Every integration, by name, with the first characters of its key."""
    return [_out(integration) for integration in await IntegrationRepository(session).list()]


@router.get(_ONE, responses=_problems(401, 403, 404, 422))
async def get_integration(
    integration_id: IntegrationId, admin: AdminUser, session: SessionDep
) -> IntegrationOut:
    integration = await IntegrationRepository(session).get(integration_id)
    if integration is None:
        raise _not_found(integration_id)
    return _out(integration)


@router.patch(_ONE, responses=_problems(400, 401, 403, 404, 409, 422))
async def update_integration(
    integration_id: IntegrationId, body: IntegrationChanges, admin: AdminUser, session: SessionDep
) -> IntegrationOut:
    """Change the fields sent and keep the others; the format cannot change."""
    changes = body.changes()
    try:
        integration = await IntegrationRepository(session).update(integration_id, changes)
    except IntegrationExists:
        raise _name_taken(changes["name"]) from None
    if integration is None:
        raise _not_found(integration_id)
    await session.commit()
    return _out(integration)


@router.post(_ONE + "/rotate-key", responses=_problems(401, 403, 404, 422))
async def rotate_key(
    integration_id: IntegrationId, admin: AdminUser, session: SessionDep, request: Request
) -> IntegrationKey:
    """Issue a new key, shown this once; the old key stops working within 5 seconds (the
    time each API process keeps a key it has looked up)."""
    repository = IntegrationRepository(session)
    key = await repository.rotate_key(integration_id)
    integration = await repository.get(integration_id)
    if key is None or integration is None:
        raise _not_found(integration_id)
    await session.commit()
    return _with_key(integration, key, request)
