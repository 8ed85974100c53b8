"""Where monitoring sends alerts, in the formats it already speaks.

PagerDuty's Events API v2 answers as PagerDuty does (202 `success`, 400 `invalid
event`, 429), so its clients need only a new URL. Webhooks (Alertmanager, Grafana,
generic) are answered 4xx only for a bad key or a malformed body, since their
senders do not retry a 4xx. Every 202 is given once the alerts are durable in
Temporal; when Temporal does not take them the answer is a 503, which senders retry.
"""

import json
import logging
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel

from api.deps import MetricsDep, ServicesDep
from api.errors import Problem, problems
from api.ingest import IngestUnavailable
from api.integration_auth import authenticate_sender, key_from_request
from api.metrics import AlertOutcome
from api.sender_formats import (
    ALERTMANAGER_WEBHOOK,
    GENERIC_ALERT,
    GRAFANA_WEBHOOK,
    PAGERDUTY_EVENT,
    PagerDutyAccepted,
    PagerDutyInvalid,
    PagerDutyThrottled,
    json_body,
)
from domain.alert_formats import (
    PagerDutyEvent,
    pagerduty_accepted,
    pagerduty_invalid,
    parse_alertmanager,
    parse_grafana,
    parse_pagerduty_event,
)
from domain.alert_groups import AlertAction, AlertEnvelope, GroupSettings, Receipt
from domain.alerts import Alert, AlertNotification, AlertStatus, InvalidAlert, parse_generic
from domain.integrations import IntegrationFormat
from domain.routing import route
from store.integrations import IntegrationRecord

log = logging.getLogger("vagt.alerts")

router = APIRouter(tags=["alerts"])

# PagerDuty refuses events over 512 KB; so does Vagt, on every alert endpoint.
MAX_BODY = 512 * 1024

PathKey = Annotated[str, Path(description="The integration key, for senders that set no header.")]


# Documents the key for the OpenAPI document only: `key_from_request` reads it, Basic too.
_integration_key = HTTPBearer(
    auto_error=False,
    scheme_name="IntegrationKey",
    description="An integration's key: `Bearer <key>`, or as the URL's last segment.",
)

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}

# What senders hear besides 202; they retry 429 and 503 by themselves, and no other 4xx.
WEBHOOK_ANSWERS: dict[int | str, dict[str, Any]] = problems(
    {
        400: "The body is not JSON, over 512 KB, or not in the sender's format; "
        "`detail` names every problem.",
        401: "No integration key, or one no integration holds.",
        403: "The integration is disabled, or of another format.",
    }
) | {
    status: answer | {"headers": RETRY_AFTER}
    for status, answer in problems(
        {
            429: "The integration passed its `rate_limit_per_minute`.",
            503: "Vagt could not confirm that Temporal recorded the alerts; send them again.",
        }
    ).items()
}

PAGERDUTY_ANSWERS: dict[int | str, dict[str, Any]] = {
    202: {"model": PagerDutyAccepted, "description": "Recorded in Temporal: `status` success."},
    400: {
        "model": PagerDutyInvalid,
        "description": "PagerDuty's `invalid event`, its `errors` naming each problem: a bad "
        "event, or an unknown, disabled or non-PagerDuty routing key.",
    },
    429: {
        "model": PagerDutyThrottled,
        "description": "The integration passed its `rate_limit_per_minute`.",
        "headers": RETRY_AFTER,
    },
    503: WEBHOOK_ANSWERS[503],
}


class AlertsAccepted(BaseModel):
    """The alerts are durable in Temporal; their alert group opens or feeds the incident
    right after, whose `source.dedup_key` is this `dedup_key`."""

    status: str = "accepted"
    dedup_key: str
    alerts: int


async def read_body(request: Request) -> Any:
    """The JSON body; past MAX_BODY it is refused as soon as that is known (from its
    Content-Length, or while it streams in), never read whole into memory first."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise InvalidAlert([f"The body is {int(declared)} bytes; the limit is 512 KB"])
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise InvalidAlert([f"The body is over {MAX_BODY} bytes; the limit is 512 KB"])
        chunks.append(chunk)
    raw = b"".join(chunks)
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidAlert([f"The body is not valid JSON: {error}"]) from None


def _settings(integration: IntegrationRecord) -> GroupSettings:
    return GroupSettings(
        integration_id=integration.id,
        integration_uid=integration.uid,
        integration_name=integration.name,
        resolve_on_recovery=integration.resolve_on_recovery,
    )


def _envelope(
    integration: IntegrationRecord, alert: Alert, action: AlertAction, *, report: bool = False
) -> AlertEnvelope:
    return AlertEnvelope(
        alert=alert,
        action=action,
        received_at=datetime.now(UTC),
        decision=route(alert, integration.routing),
        report=report,
    )


def retry_after(wait: float) -> str:
    """Whole seconds, rounded up: a sender that waits this long is let through."""
    return str(max(1, math.ceil(wait)))


def throttle(services: ServicesDep, integration: IntegrationRecord) -> float | None:
    return services.rate_limiter.allow(
        integration.id, integration.rate_limit_per_minute, time.monotonic()
    )


async def _submit(
    services: ServicesDep, integration: IntegrationRecord, key: str, envelopes: list[AlertEnvelope]
) -> Receipt:
    try:
        return await services.ingestor.submit(_settings(integration), key, envelopes)
    except IngestUnavailable as error:
        log.warning("alerts for %s not taken: %s", integration.name, error)
        raise Problem(
            503,
            "Alerts not confirmed",
            "Vagt could not confirm that Temporal recorded the alerts (Temporal did not "
            "answer in time, or not at all). Send them again; senders retry a 503 by "
            "themselves. If the first attempt did land, a trigger sent again only adds "
            "to its dedup key's alert count, so give every event a dedup_key.",
            code="alerts-not-confirmed",
            headers={"Retry-After": "5"},
        ) from error


# --- PagerDuty Events API v2 ----------------------------------------------------------


@router.post(
    "/v2/enqueue",
    status_code=202,
    response_model=None,
    responses=PAGERDUTY_ANSWERS,
    openapi_extra=json_body(PAGERDUTY_EVENT, "One event: trigger, acknowledge or resolve."),
)
async def pagerduty_enqueue(
    request: Request, services: ServicesDep, metrics: MetricsDep
) -> JSONResponse:
    """PagerDuty Events API v2: trigger, acknowledge and resolve, answered as PagerDuty does."""
    with metrics.observe_alerts(IntegrationFormat.PAGERDUTY) as observed:
        try:
            event = parse_pagerduty_event(await read_body(request), uuid.uuid4().hex)
        except InvalidAlert as refusal:
            observed.refused(AlertOutcome.INVALID)
            return JSONResponse(pagerduty_invalid(refusal.errors), status_code=400)
        admitted = await admit_pagerduty_sender(services, event.routing_key)
        observed.integration = admitted.name
        if isinstance(admitted, PagerDutyRefusal):
            observed.refused(admitted.outcome)
            return admitted.response
        integration = admitted.integration
        envelope = _envelope(integration, _pagerduty_alert(event, integration), _action(event))
        await _submit(services, integration, event.dedup_key, [envelope])
        observed.accepted()
    return JSONResponse(pagerduty_accepted(event.dedup_key), status_code=202)


@dataclass
class PagerDutySender:
    integration: IntegrationRecord

    @property
    def name(self) -> str:
        return self.integration.name


@dataclass
class PagerDutyRefusal:
    """PagerDuty's answer to a key it does not take, or to a sender over its rate."""

    response: JSONResponse
    outcome: AlertOutcome
    name: str  # the integration's, when the key names one


async def admit_pagerduty_sender(
    services: ServicesDep, routing_key: str
) -> PagerDutySender | PagerDutyRefusal:
    """The integration behind a PagerDuty routing key, or PagerDuty's refusal: 400 for an
    unknown, disabled or non-PagerDuty key, 429 past the integration's rate."""
    integration = await services.integrations.by_key(routing_key)
    problem = _pagerduty_key_problem(integration)
    if problem is not None or integration is None:
        return PagerDutyRefusal(
            JSONResponse(pagerduty_invalid([problem or "Invalid routing key"]), status_code=400),
            AlertOutcome.UNAUTHORIZED,
            integration.name if integration else "",
        )
    wait = throttle(services, integration)
    if wait is not None:
        return PagerDutyRefusal(
            JSONResponse(
                {"status": "throttle event", "message": "Too many events for this routing key"},
                status_code=429,
                headers={"Retry-After": retry_after(wait)},
            ),
            AlertOutcome.RATE_LIMITED,
            integration.name,
        )
    return PagerDutySender(integration)


def _pagerduty_key_problem(integration: IntegrationRecord | None) -> str | None:
    if integration is None:
        return "Invalid routing key"
    if not integration.enabled:
        return f"Routing key belongs to the disabled integration {integration.name!r}"
    if integration.format is not IntegrationFormat.PAGERDUTY:
        return f"Routing key belongs to a {integration.format} integration, not a PagerDuty one"
    return None


def _action(event: PagerDutyEvent) -> AlertAction:
    return AlertAction(event.action.value)


def _pagerduty_alert(event: PagerDutyEvent, integration: IntegrationRecord) -> Alert:
    if event.alert is not None:
        return event.alert
    # Acknowledge and resolve carry no content: they name the alert by its key.
    return Alert(
        dedup_key=event.dedup_key,
        fingerprint=event.dedup_key,
        status=event.status,
        summary=f"{event.action.value} from {integration.name}",
    )


# --- webhooks -------------------------------------------------------------------------


async def _sender(
    request: Request, services: ServicesDep, path_key: str | None, expected: IntegrationFormat
) -> IntegrationRecord:
    integration = await authenticate_sender(
        services.integrations.by_key, key_from_request(request, path_key)
    )
    if integration.format is not expected:
        raise Problem(
            403,
            "Wrong integration",
            f"This key belongs to the {integration.format} integration {integration.name!r}; "
            f"send {expected} alerts with the key of a {expected} integration.",
            code="wrong-integration",
        )
    return integration


async def _webhook(
    request: Request,
    services: ServicesDep,
    metrics: MetricsDep,
    path_key: str | None,
    expected: IntegrationFormat,
) -> AlertsAccepted:
    with metrics.observe_alerts(expected) as observed:
        integration = await _sender(request, services, path_key, expected)
        observed.integration = integration.name
        body = await read_body(request)
        parse = parse_alertmanager if expected is IntegrationFormat.ALERTMANAGER else parse_grafana
        notification: AlertNotification = parse(body)
        wait = throttle(services, integration)
        if wait is not None:
            raise _too_many(integration, wait)
        envelopes = [
            _envelope(integration, alert, _webhook_action(alert), report=True)
            for alert in notification.alerts
        ]
        await _submit(services, integration, notification.group_key, envelopes)
        observed.accepted(len(envelopes))
    return AlertsAccepted(dedup_key=notification.group_key, alerts=len(envelopes))


def _webhook_action(alert: Alert) -> AlertAction:
    return AlertAction.RESOLVE if alert.status is AlertStatus.RESOLVED else AlertAction.TRIGGER


def _too_many(integration: IntegrationRecord, wait: float) -> Problem:
    return Problem(
        429,
        "Too many alerts",
        f"Integration {integration.name!r} allows {integration.rate_limit_per_minute} alerts "
        "a minute; send again later.",
        code="too-many-alerts",
        headers={"Retry-After": retry_after(wait)},
    )


@router.post(
    "/api/v1/integrations/alertmanager",
    status_code=202,
    dependencies=[Depends(_integration_key)],
    responses=WEBHOOK_ANSWERS,
    openapi_extra=json_body(ALERTMANAGER_WEBHOOK, "Alertmanager's webhook body (version 4)."),
)
async def alertmanager(
    request: Request, services: ServicesDep, metrics: MetricsDep
) -> AlertsAccepted:
    """Alertmanager's webhook (`webhook_configs`), key as a bearer token."""
    return await _webhook(request, services, metrics, None, IntegrationFormat.ALERTMANAGER)


@router.post(
    "/api/v1/integrations/alertmanager/{key}",
    status_code=202,
    responses=WEBHOOK_ANSWERS,
    openapi_extra=json_body(ALERTMANAGER_WEBHOOK, "Alertmanager's webhook body (version 4)."),
)
async def alertmanager_with_key(
    request: Request, services: ServicesDep, metrics: MetricsDep, key: PathKey
) -> AlertsAccepted:
    """Alertmanager's webhook, key in the URL."""
    return await _webhook(request, services, metrics, key, IntegrationFormat.ALERTMANAGER)


@router.post(
    "/api/v1/integrations/grafana",
    status_code=202,
    dependencies=[Depends(_integration_key)],
    responses=WEBHOOK_ANSWERS,
    openapi_extra=json_body(GRAFANA_WEBHOOK, "Grafana's webhook body."),
)
async def grafana(request: Request, services: ServicesDep, metrics: MetricsDep) -> AlertsAccepted:
    """Grafana's webhook contact point, key as a bearer token."""
    return await _webhook(request, services, metrics, None, IntegrationFormat.GRAFANA)


@router.post(
    "/api/v1/integrations/grafana/{key}",
    status_code=202,
    responses=WEBHOOK_ANSWERS,
    openapi_extra=json_body(GRAFANA_WEBHOOK, "Grafana's webhook body."),
)
async def grafana_with_key(
    request: Request, services: ServicesDep, metrics: MetricsDep, key: PathKey
) -> AlertsAccepted:
    """Grafana's webhook contact point, key in the URL."""
    return await _webhook(request, services, metrics, key, IntegrationFormat.GRAFANA)


@router.post(
    "/api/v1/alerts",
    status_code=202,
    dependencies=[Depends(_integration_key)],
    responses=WEBHOOK_ANSWERS,
    openapi_extra=json_body(GENERIC_ALERT, "One alert; unknown fields are refused."),
)
async def generic_alert(
    request: Request, services: ServicesDep, metrics: MetricsDep
) -> AlertsAccepted:
    """Vagt's own JSON form, for scripts: dedup_key, summary, severity, source, details,
    labels, links, and status `firing` (default) or `resolved`."""
    with metrics.observe_alerts(IntegrationFormat.GENERIC) as observed:
        integration = await _sender(request, services, None, IntegrationFormat.GENERIC)
        observed.integration = integration.name
        alert = parse_generic(await read_body(request))
        wait = throttle(services, integration)
        if wait is not None:
            raise _too_many(integration, wait)
        await _submit(
            services,
            integration,
            alert.dedup_key,
            [_envelope(integration, alert, _webhook_action(alert))],
        )
        observed.accepted()
    return AlertsAccepted(dedup_key=alert.dedup_key, alerts=1)
