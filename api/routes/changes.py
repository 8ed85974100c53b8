"""Change events: deploys, config pushes and other changes, listed next to incidents.

`POST /v2/change/enqueue` is PagerDuty's Change Events API, answered as PagerDuty does, so
a CI pipeline or PagerDuty client sends to Vagt with only a new URL. A change never pages
and has no lifecycle, so it goes straight to the read model, not through Temporal; the 202
is given once it is committed there.
"""

import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import CurrentUser, Offset, ServicesDep, SessionDep
from api.errors import Problem, problems
from api.routes.alerts import (
    PAGERDUTY_ANSWERS,
    WEBHOOK_ANSWERS,
    PagerDutyRefusal,
    admit_pagerduty_sender,
    read_body,
)
from api.sender_formats import PAGERDUTY_CHANGE, PagerDutyChangeAccepted, json_body
from domain.alert_formats import ChangeEvent, pagerduty_invalid, parse_pagerduty_change
from domain.alerts import Alert, AlertStatus, InvalidAlert, Severity
from domain.routing import Routing, route
from store.changes import ChangePage, ChangeRecord, ChangeRepository
from store.integrations import IntegrationRecord

log = logging.getLogger("vagt.changes")

router = APIRouter(tags=["changes"])

# The key the routing rules see the change's source under, as for PagerDuty triggers.
SOURCE_LABEL = "source"
# A change carries no severity; routed as the mildest, so rules for severe alerts skip it.
CHANGE_SEVERITY = Severity.INFO


def change_accepted() -> dict[str, str]:
    """The 202 body, keys in the order of PagerDuty's event answer (sent compact)."""
    return {"status": "success", "message": "Change event processed"}


@router.post(
    "/v2/change/enqueue",
    status_code=202,
    response_model=None,
    responses=PAGERDUTY_ANSWERS
    | {
        202: {"model": PagerDutyChangeAccepted, "description": "Recorded: `status` success."},
        503: WEBHOOK_ANSWERS[503]
        | {"description": "The read model could not record it; nothing was recorded."},
    },
    openapi_extra=json_body(PAGERDUTY_CHANGE, "One change event."),
)
async def pagerduty_change_enqueue(
    request: Request, session: SessionDep, services: ServicesDep
) -> JSONResponse:
    """PagerDuty Change Events API: a change recorded for the integration's service; never
    opens or pages an incident."""
    try:
        change = parse_pagerduty_change(await read_body(request))
    except InvalidAlert as refusal:
        return JSONResponse(pagerduty_invalid(refusal.errors), status_code=400)
    admitted = await admit_pagerduty_sender(services, change.routing_key)
    if isinstance(admitted, PagerDutyRefusal):
        return admitted.response
    await _record(session, admitted.integration, change)
    return JSONResponse(change_accepted(), status_code=202)


async def _record(
    session: AsyncSession, integration: IntegrationRecord, change: ChangeEvent
) -> ChangeRecord:
    received_at = datetime.now(UTC)
    try:
        record = await ChangeRepository(session).add(
            integration_id=integration.id,
            service=routed_service(change, integration.routing),
            summary=change.summary,
            source=change.source,
            happened_at=change.timestamp or received_at,
            received_at=received_at,
            details=change.custom_details,
            links=change.links,
        )
        await session.commit()
    except OperationalError as error:
        log.warning("change event for %s not recorded: %s", integration.name, error)
        raise Problem(
            503,
            "Change not recorded",
            "Vagt could not write the change event just now; nothing was recorded. "
            "Send it again (senders retry a 503 by themselves).",
            code="change-not-recorded",
            headers={"Retry-After": "5"},
        ) from error
    return record


def routed_service(change: ChangeEvent, routing: Routing) -> str | None:
    """The service the integration's rules give the change, as if it were an alert.

    Rules see the source (as `source` and as the `source` label) and the custom details
    whose values are strings as labels, so `labels: {environment: prod}` matches a
    deploy reporting `"environment": "prod"`; the severity is info.
    """
    labels = {
        name: value for name, value in change.custom_details.items() if isinstance(value, str)
    }
    if change.source is not None:
        labels[SOURCE_LABEL] = change.source
    alert = Alert(
        # Identity is irrelevant to routing; an alert needs one all the same.
        dedup_key="change",
        fingerprint="change",
        status=AlertStatus.FIRING,
        summary=change.summary,
        source=change.source,
        severity=CHANGE_SEVERITY,
        labels=labels,
    )
    return route(alert, routing).service


@router.get(
    "/api/v1/changes",
    responses=problems(
        {
            401: "No token, or an unknown or disabled one.",
            422: "A parameter is invalid; `errors` lists each one.",
        }
    ),
)
async def list_changes(
    user: CurrentUser,
    session: SessionDep,
    service: str | None = None,
    since: Annotated[
        datetime | None, Query(description="Changes at or after this time (UTC if no offset).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Changes before this time (UTC if no offset).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> ChangePage:
    """Recent changes, newest first by when they happened: what changed before an incident."""
    return await ChangeRepository(session).list(
        service, _aware(since), _aware(until), limit=limit, offset=offset
    )


def _aware(at: datetime | None) -> datetime | None:
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at
