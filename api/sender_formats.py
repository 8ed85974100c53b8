"""What monitoring tools send and hear back, for the OpenAPI document.

The alert routes read their bodies themselves (`domain.alert_formats`), so they can answer
as PagerDuty and Alertmanager do; FastAPI cannot derive these schemas from them. Each schema
says what the parser takes: JSON null and blank strings count as absent, unknown fields are
ignored (except in Vagt's generic form), and a required text must hold more than spaces.
"""

from typing import Any, Literal

from pydantic import BaseModel

from domain.alert_formats import PAGERDUTY_SEVERITIES, ROUTING_KEY_LENGTH, EventAction
from domain.alerts import GENERIC_STATUSES, MAX_DEDUP_KEY, Severity

JsonSchema = dict[str, Any]


class PagerDutyAccepted(BaseModel):
    status: Literal["success"]
    message: str
    dedup_key: str


class PagerDutyChangeAccepted(BaseModel):
    status: Literal["success"]
    message: str


class PagerDutyInvalid(BaseModel):
    status: Literal["invalid event"]
    message: str
    errors: list[str]


class PagerDutyThrottled(BaseModel):
    status: Literal["throttle event"]
    message: str


def json_body(schema: JsonSchema, description: str) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its JSON body itself."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }
    }


def _optional(schema: JsonSchema) -> JsonSchema:
    return {"anyOf": [schema, {"type": "null"}]}


# Blank counts as absent, as null does; for a text that must be a choice or a time.
_BLANK = {"type": "string", "pattern": r"^\s*$"}


def _optional_text(schema: JsonSchema) -> JsonSchema:
    return {"anyOf": [schema, {"type": "null"}, _BLANK]}


def _text(*, max_length: int | None = None) -> JsonSchema:
    """An optional text: any string (blank counts as absent), or null."""
    string: JsonSchema = {"type": "string"}
    if max_length is not None:
        string["maxLength"] = max_length
    return _optional(string)


def _required_text(*, max_length: int | None = None, min_length: int = 1) -> JsonSchema:
    schema: JsonSchema = {"type": "string", "minLength": min_length, "pattern": r"\S"}
    if max_length is not None:
        schema["maxLength"] = max_length
    return schema


def _choice(options: tuple[str, ...]) -> JsonSchema:
    return {"type": "string", "enum": list(options)}


_TIMESTAMP = _optional_text({"type": "string", "format": "date-time"})
_STRING_MAP = _optional({"type": "object", "additionalProperties": {"type": "string"}})
_OBJECT = _optional({"type": "object"})


def _objects(item: JsonSchema) -> JsonSchema:
    return _optional({"type": "array", "items": item})


_LINKS = _objects(
    {
        "type": "object",
        "required": ["href"],
        "properties": {"href": _required_text(), "text": _text()},
    }
)
_IMAGES = _objects(
    {
        "type": "object",
        "required": ["src"],
        "properties": {"src": _required_text(), "href": _text(), "alt": _text()},
    }
)
_ROUTING_KEY = _required_text(min_length=ROUTING_KEY_LENGTH, max_length=ROUTING_KEY_LENGTH)

_TRIGGER = {
    "type": "object",
    "required": ["routing_key", "event_action", "payload"],
    "properties": {
        "routing_key": _ROUTING_KEY,
        "event_action": {"const": EventAction.TRIGGER.value},
        "dedup_key": _text(max_length=MAX_DEDUP_KEY),
        "client": _text(),
        "client_url": _text(),
        "payload": {
            "type": "object",
            "required": ["summary", "source", "severity"],
            "properties": {
                "summary": _required_text(),
                "source": _required_text(),
                "severity": _choice(PAGERDUTY_SEVERITIES),
                "timestamp": _TIMESTAMP,
                "component": _text(),
                "group": _text(),
                "class": _text(),
                "custom_details": {"description": "Any JSON."},
            },
        },
        "links": _LINKS,
        "images": _IMAGES,
    },
}

# Acknowledge and resolve name the alert by its key; PagerDuty ignores their payload.
_CLOSING = {
    "type": "object",
    "required": ["routing_key", "event_action", "dedup_key"],
    "properties": {
        "routing_key": _ROUTING_KEY,
        "event_action": _choice((EventAction.ACKNOWLEDGE.value, EventAction.RESOLVE.value)),
        "dedup_key": _required_text(max_length=MAX_DEDUP_KEY),
        "client": _text(),
        "client_url": _text(),
    },
}

PAGERDUTY_EVENT: JsonSchema = {
    "title": "PagerDutyEvent",
    "description": "PagerDuty Events API v2: the integration's key is `routing_key`.",
    "oneOf": [_TRIGGER, _CLOSING],
}

PAGERDUTY_CHANGE: JsonSchema = {
    "title": "PagerDutyChangeEvent",
    "type": "object",
    "required": ["routing_key", "payload"],
    "properties": {
        "routing_key": _ROUTING_KEY,
        "payload": {
            "type": "object",
            "required": ["summary"],
            "properties": {
                "summary": _required_text(),
                "source": _text(),
                "timestamp": _TIMESTAMP,
                "custom_details": {"description": "Any JSON."},
            },
        },
        "links": _LINKS,
    },
}

_WEBHOOK_STATUS = _choice(("firing", "resolved"))


def _webhook(name: str, alert_fields: dict[str, JsonSchema]) -> JsonSchema:
    alert = {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": _WEBHOOK_STATUS,
            "labels": _STRING_MAP,
            "annotations": _STRING_MAP,
            "fingerprint": _text(),
            "startsAt": _TIMESTAMP,
            "generatorURL": _text(),
            **alert_fields,
        },
    }
    return {
        "title": name,
        "type": "object",
        "required": ["receiver", "status", "alerts"],
        "properties": {
            "receiver": _required_text(),
            "status": _WEBHOOK_STATUS,
            "alerts": {"type": "array", "minItems": 1, "items": alert},
            "groupKey": _text(),
            "groupLabels": _STRING_MAP,
            "externalURL": _text(),
            "truncatedAlerts": _optional({"type": "integer", "minimum": 0}),
        },
    }


ALERTMANAGER_WEBHOOK = _webhook("AlertmanagerWebhook", {})
GRAFANA_WEBHOOK = _webhook(
    "GrafanaWebhook",
    {name: _text() for name in ("dashboardURL", "panelURL", "silenceURL", "imageURL")},
)

GENERIC_ALERT: JsonSchema = {
    "title": "GenericAlert",
    "type": "object",
    "required": ["dedup_key", "summary"],
    "additionalProperties": False,
    "properties": {
        "dedup_key": _required_text(max_length=MAX_DEDUP_KEY),
        "summary": _required_text(),
        "severity": _optional_text(_choice(tuple(Severity))),
        "status": _optional_text(_choice(GENERIC_STATUSES)),
        "source": _text(),
        "details": _OBJECT,
        "labels": _STRING_MAP,
        "links": _LINKS,
    },
}
