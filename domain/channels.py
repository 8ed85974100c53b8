"""Notification channels, what a notification says, and what one delivery attempt achieved.

The workflow drives retries: each attempt is one activity execution that reports a
`DeliveryResult` instead of raising, and every attempt of one notification carries the
same idempotency key so a receiver can drop duplicates.
"""

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
    model_validator,
)

from domain.durations import Duration

DEFAULT_TIMEOUT = timedelta(seconds=10)
MAX_RETRY_AFTER = timedelta(hours=1)
_DIGITS = re.compile(r"[0-9]+")

# Deliberately loose: one @, no spaces or angle brackets. The mail server is the judge of
# the rest; this only catches typos and header injection before an attempt is spent.
_EMAIL_ADDRESS = re.compile(r"[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+")


def is_email_address(text: str) -> bool:
    """True for something shaped like `alice@example.com`."""
    return _EMAIL_ADDRESS.fullmatch(text) is not None


def _email_address(text: str) -> str:
    if not is_email_address(text):
        raise ValueError(f"{text!r} is not an email address, e.g. alice@example.com")
    return text


EmailAddress = Annotated[str, AfterValidator(_email_address)]


class WebhookChannel(BaseModel):
    """A JSON POST; signed with HMAC-SHA256 over the body when `secret` is set."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["webhook"]
    url: HttpUrl
    secret: SecretStr | None = None
    timeout: Duration = DEFAULT_TIMEOUT


class SlackChannel(BaseModel):
    """A Slack incoming webhook; the URL itself is the credential."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["slack"]
    webhook_url: HttpUrl
    timeout: Duration = DEFAULT_TIMEOUT


class EmailChannel(BaseModel):
    """An SMTP relay; `recipients` receive deliveries that name no address."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["email"]
    host: str
    port: int = Field(default=25, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    ssl: bool = False
    sender: EmailAddress
    recipients: list[EmailAddress] = []
    timeout: Duration = DEFAULT_TIMEOUT

    @model_validator(mode="after")
    def _consistent_security(self) -> Self:
        if self.starttls and self.ssl:
            raise ValueError(
                "choose one of starttls (upgrade a plain connection) and ssl (TLS from the start)"
            )
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together: set both to log in, or neither")
        return self


Channel = Annotated[WebhookChannel | SlackChannel | EmailChannel, Field(discriminator="type")]


class NotificationKind(StrEnum):
    PAGE = "page"
    SLA_WARNING = "sla_warning"
    SLA_BREACH = "sla_breach"
    ESCALATION = "escalation"
    ACTION_ITEM_OVERDUE = "action_item_overdue"
    DIGEST = "digest"
    # A status update is due (to the commander), or still missing (to the next level).
    UPDATE_DUE = "update_due"
    UPDATE_OVERDUE = "update_overdue"
    # What subscribers hear.
    INCIDENT_DECLARED = "incident_declared"
    PRIORITY_CHANGED = "priority_changed"
    STATUS_UPDATE = "status_update"
    INCIDENT_RESOLVED = "incident_resolved"
    INCIDENT_REOPENED = "incident_reopened"
    INCIDENT_CLOSED = "incident_closed"


# What subscribers hear: it reaches each of them in the order it happened.
NEWS = frozenset(
    {
        NotificationKind.INCIDENT_DECLARED,
        NotificationKind.PRIORITY_CHANGED,
        NotificationKind.STATUS_UPDATE,
        NotificationKind.INCIDENT_RESOLVED,
        NotificationKind.INCIDENT_REOPENED,
        NotificationKind.INCIDENT_CLOSED,
    }
)


class Notification(BaseModel):
    """What is said, identical on every attempt; holds no secrets."""

    idempotency_key: str = Field(min_length=1)
    incident_id: int | None = Field(description="None for a report about many incidents.")
    kind: NotificationKind
    title: str
    text: str
    priority: str = ""
    state: str = ""
    recipient: str | None = None
    details: dict[str, Any] = {}
    at: datetime


class Delivery(BaseModel):
    """One attempt to send a notification through a named channel."""

    notification: Notification
    channel: str
    address: str | None = None
    attempt: int = Field(ge=1)


class DeliveryOutcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    REJECTED = "rejected"


class DeliveryResult(BaseModel):
    """What one attempt achieved; `retry_after` is the receiver's wish, within [0, 1h]."""

    outcome: DeliveryOutcome
    status_code: int | None = None
    retry_after: timedelta | None = None
    detail: str


def parse_retry_after(value: str, now: datetime) -> timedelta | None:
    """Retry-After as delay-seconds or an HTTP-date, clamped to [0, 1h]; None if unreadable."""
    value = value.strip()
    if _DIGITS.fullmatch(value):
        # Capped before timedelta sees it: a huge number must not overflow.
        return timedelta(seconds=min(int(value), MAX_RETRY_AFTER.total_seconds()))
    when = parse_http_date(value)
    if when is None:
        return None
    return min(max(when - now, timedelta(0)), MAX_RETRY_AFTER)


def parse_http_date(value: str) -> datetime | None:
    """An RFC 9110 HTTP-date (or any RFC 5322 date) as an aware datetime; None if unreadable."""
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
