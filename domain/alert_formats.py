"""Senders' wire formats read into `Alert`: PagerDuty Events API v2, Alertmanager and Grafana.

Each parser takes already-decoded JSON and returns a typed result, or raises `InvalidAlert`
listing every problem. PagerDuty's wording is kept where its clients or their users see it.
"""

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from domain.alerts import (
    MAX_DEDUP_KEY,
    Alert,
    AlertNotification,
    AlertStatus,
    Image,
    JsonFields,
    Link,
    Severity,
    Summary,
)

ROUTING_KEY_LENGTH = 32
# In PagerDuty's order, so the refusal reads as PagerDuty's does.
PAGERDUTY_SEVERITIES = ("critical", "warning", "error", "info")


class EventAction(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


STATUS_OF_ACTION = {
    EventAction.TRIGGER: AlertStatus.FIRING,
    EventAction.ACKNOWLEDGE: AlertStatus.ACKNOWLEDGED,
    EventAction.RESOLVE: AlertStatus.RESOLVED,
}


class PagerDutyEvent(BaseModel):
    """One `POST /v2/enqueue` event.

    `alert` is set for a trigger only. Acknowledge and resolve name an alert by its dedup key
    and carry no content (PagerDuty ignores their payload); a made-up summary for them would
    hash as a change of content, so the caller applies `status` to the dedup key instead.
    """

    routing_key: str
    action: EventAction
    dedup_key: str
    dedup_key_generated: bool = False
    alert: Alert | None = None
    client: str | None = None
    client_url: str | None = None

    @property
    def status(self) -> AlertStatus:
        return STATUS_OF_ACTION[self.action]


class ChangeEvent(BaseModel):
    """One `POST /v2/change/enqueue` event: recorded on the service's timeline, never pages."""

    routing_key: str
    summary: Summary
    source: str | None = None
    timestamp: datetime | None = None
    custom_details: dict[str, Any] = {}
    links: list[Link] = []


def parse_pagerduty_event(body: Any, generated_dedup_key: str) -> PagerDutyEvent:
    """Events API v2, validated as PagerDuty does; a trigger without a dedup key gets
    `generated_dedup_key`, which the caller makes (and returns to the sender)."""
    event = JsonFields.of_body(body)
    routing_key = _routing_key(event)
    action = event.choice("event_action", tuple(EventAction), required=True)
    closing = action in (EventAction.ACKNOWLEDGE, EventAction.RESOLVE)
    dedup_key = event.text("dedup_key", required=closing, max_length=MAX_DEDUP_KEY)
    parsed: dict[str, Any] = {
        "routing_key": routing_key,
        "action": action,
        "dedup_key": dedup_key or generated_dedup_key,
        "dedup_key_generated": dedup_key is None,
        "client": event.text("client"),
        "client_url": event.text("client_url"),
    }
    if action == EventAction.TRIGGER:
        parsed["alert"] = _trigger(event, dedup_key or generated_dedup_key)
    event.raise_problems()
    return PagerDutyEvent.model_validate(parsed)


def parse_pagerduty_change(body: Any) -> ChangeEvent:
    event = JsonFields.of_body(body)
    change: dict[str, Any] = {"routing_key": _routing_key(event), "links": event.links()}
    payload = event.child("payload", required=True)
    if payload:
        change |= {
            "summary": payload.text("summary", required=True),
            "source": payload.text("source"),
            "timestamp": payload.timestamp("timestamp"),
            "custom_details": _details(payload.value("custom_details")),
        }
    event.raise_problems()
    return ChangeEvent.model_validate(change)


def pagerduty_accepted(dedup_key: str) -> dict[str, str]:
    """The 202 body, keys in PagerDuty's order (send it compact, as PagerDuty does)."""
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def pagerduty_invalid(errors: list[str]) -> dict[str, Any]:
    """The 400 body, keys in PagerDuty's order."""
    return {"status": "invalid event", "message": "Event object is invalid", "errors": errors}


def _routing_key(event: JsonFields) -> str | None:
    value = event.value("routing_key")
    if value is None or (isinstance(value, str) and not value.strip()):
        event.problem("routing_key", "cannot be blank")
        return None
    key = event.text("routing_key")
    if key is not None and len(key) != ROUTING_KEY_LENGTH:
        # Verbatim: PagerDuty's clients and their users match on this sentence.
        event.errors.append("Length of 'routing_key' is incorrect (should be 32 characters)")
    return key


def _trigger(event: JsonFields, dedup_key: str) -> dict[str, Any]:
    payload = event.child("payload", required=True)
    if payload is None:
        return {}
    summary = payload.text("summary", required=True)
    source = payload.text("source", required=True)
    labels = {name: payload.text(name) for name in ("component", "group", "class")}
    return {
        "dedup_key": dedup_key,
        "fingerprint": dedup_key,
        "status": AlertStatus.FIRING,
        "summary": summary,
        "source": source,
        "severity": payload.choice("severity", PAGERDUTY_SEVERITIES, required=True),
        "labels": {k: v for k, v in (labels | {"source": source}).items() if v is not None},
        "details": _details(payload.value("custom_details")),
        "links": event.links(),
        "images": event.images(),
        "started_at": payload.timestamp("timestamp"),
    }


def _details(custom_details: Any) -> dict[str, Any]:
    """PagerDuty takes any JSON as custom details; a non-object is kept under its own name."""
    if custom_details is None:
        return {}
    return (
        custom_details if isinstance(custom_details, dict) else {"custom_details": custom_details}
    )


WEBHOOK_STATUSES = (AlertStatus.FIRING.value, AlertStatus.RESOLVED.value)
SEVERITY_LABELS = {**{s.value: s for s in Severity}, "page": Severity.CRITICAL}

# Alertmanager fingerprints a label set with 64-bit FNV-1a over the sorted names and values,
# each followed by the byte 0xff (prometheus/common model.LabelSet.Fingerprint).
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_LABEL_SEPARATOR = b"\xff"

# Go's zero time: Alertmanager's way of saying "not set" for startsAt and endsAt.
_GO_ZERO_YEAR = 1

# Grafana's "Test contact point" alert, unless the user customised it.
GRAFANA_TEST_LABELS = {"alertname": "TestAlert", "instance": "Grafana"}
GRAFANA_TEST_SUMMARY = "Notification test"


def severity_from_label(value: str | None) -> Severity:
    """A `severity` label as Prometheus rules write it; anything unknown pages as an error."""
    return SEVERITY_LABELS.get((value or "").strip().lower(), Severity.ERROR)


def alertmanager_fingerprint(labels: dict[str, str]) -> str:
    """The fingerprint Alertmanager gives a label set, for senders that leave it out."""
    digest = _FNV_OFFSET
    # Code-point order is UTF-8 byte order, which is how Go sorts the names.
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8", "surrogatepass") + _LABEL_SEPARATOR:
                digest = ((digest ^ byte) * _FNV_PRIME) & 0xFFFF_FFFF_FFFF_FFFF
    return f"{digest:016x}"


def derived_group_key(receiver: str, group_labels: dict[str, str]) -> str:
    """A group key for a sender that sends none: receiver and sorted group labels.

    Alertmanager's own keys start with the route path (`{}/...`), so these never collide.
    """
    pairs = ", ".join(f'{name}="{group_labels[name]}"' for name in sorted(group_labels))
    return f"{receiver}:{{{pairs}}}"


ExtraLinks = Callable[[JsonFields, dict[str, str]], tuple[list[Link], list[Image]]]


def parse_alertmanager(body: Any) -> AlertNotification:
    """Alertmanager's webhook (version 4): one call per alert group, every alert of it."""
    return _parse_webhook(body, lambda item, labels: ([], []))


def parse_grafana(body: Any) -> AlertNotification:
    """Grafana's webhook contact point: Alertmanager's form plus links and an image per alert.

    A test notification from "Test contact point" has every alert marked `test`.
    """
    notification = _parse_webhook(body, _grafana_links)
    if all(_is_grafana_test(alert) for alert in notification.alerts):
        notification.alerts = [a.model_copy(update={"test": True}) for a in notification.alerts]
    return notification


def _parse_webhook(body: Any, extra_links: ExtraLinks) -> AlertNotification:
    hook = JsonFields.of_body(body)
    receiver = hook.text("receiver", required=True)
    group_key = hook.text("groupKey") or derived_group_key(
        receiver or "", hook.string_map("groupLabels")
    )
    alerts = [
        _webhook_alert(item, group_key, extra_links)
        for item in hook.objects("alerts", required=True)
    ]
    if hook.value("alerts") == []:
        hook.problem("alerts", "holds no alert")
    notification = {
        "receiver": receiver,
        "group_key": group_key,
        "status": hook.choice("status", WEBHOOK_STATUSES, required=True),
        "alerts": alerts,
        "external_url": hook.text("externalURL"),
        "truncated_alerts": hook.count("truncatedAlerts"),
    }
    hook.raise_problems()
    return AlertNotification.model_validate(notification)


def _webhook_alert(item: JsonFields, group_key: str, extra_links: ExtraLinks) -> dict[str, Any]:
    labels = item.string_map("labels")
    annotations = item.string_map("annotations")
    fingerprint = item.text("fingerprint") or alertmanager_fingerprint(labels)
    started_at = item.timestamp("startsAt")
    links = _links(
        (item.text("generatorURL"), "Source"), (annotations.get("runbook_url"), "Runbook")
    )
    more_links, images = extra_links(item, labels)
    return {
        "dedup_key": group_key,
        "fingerprint": fingerprint,
        "status": item.choice("status", WEBHOOK_STATUSES, required=True),
        "summary": _first_filled(
            annotations.get("summary"),
            annotations.get("description"),
            labels.get("alertname"),
            f"Alert {fingerprint}",
        ),
        "source": labels.get("instance"),
        "severity": severity_from_label(labels.get("severity")),
        "labels": labels,
        # Annotations only: Grafana's `values` change on every evaluation and would make
        # each repeat hash as a change.
        "details": annotations,
        "links": links + more_links,
        "images": images,
        "started_at": None if started_at and started_at.year == _GO_ZERO_YEAR else started_at,
    }


def _grafana_links(item: JsonFields, labels: dict[str, str]) -> tuple[list[Link], list[Image]]:
    dashboard, panel = item.text("dashboardURL"), item.text("panelURL")
    links = _links((dashboard, "Dashboard"), (panel, "Panel"), (item.text("silenceURL"), "Silence"))
    image_url = item.text("imageURL")
    if image_url is None:
        return links, []
    return links, [Image(src=image_url, href=panel or dashboard, alt=labels.get("alertname"))]


def _is_grafana_test(alert: Alert) -> bool:
    return (
        all(alert.labels.get(name) == value for name, value in GRAFANA_TEST_LABELS.items())
        and alert.details.get("summary") == GRAFANA_TEST_SUMMARY
    )


def _links(*candidates: tuple[str | None, str]) -> list[Link]:
    return [Link(href=href, text=text) for href, text in candidates if href]


def _first_filled(*values: str | None) -> str:
    return next(value for value in values if value and value.strip())
