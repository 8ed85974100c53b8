"""Delivers notifications by webhook, Slack and email, one attempt per activity execution.

The workflow runs `deliver_notification` with Temporal's retry disabled and decides itself
when to try again, so a failed delivery is a result, never an exception. Every attempt
carries the notification's idempotency key, which lets receivers drop duplicates left by a
retry, a replay or a worker that crashed mid-send.
"""

import asyncio
import hashlib
import hmac
import json
import smtplib
import ssl
import string
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import httpx
from temporalio import activity

from domain.channels import (
    Channel,
    Delivery,
    DeliveryOutcome,
    DeliveryResult,
    EmailChannel,
    Notification,
    NotificationKind,
    SlackChannel,
    WebhookChannel,
    is_email_address,
    parse_http_date,
    parse_retry_after,
)

# RFC 5322 atext without "%" (the escape) and "." (which may not repeat or end an id).
_MESSAGE_ID_SAFE = frozenset(string.ascii_letters + string.digits + "!#$&'*+-/=?^_`{|}~")


@asynccontextmanager
async def _heartbeating(every: float = 1.0) -> AsyncIterator[None]:
    """Heartbeat while a send is under way, so Temporal notices a dead worker in
    seconds (the heartbeat timeout) instead of after the whole send timeout."""

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(every)

    beating = asyncio.create_task(beat()) if activity.in_activity() else None
    try:
        yield
    finally:
        if beating is not None:
            beating.cancel()


class NotificationActivities:
    """Activities bound to the configured channels and one shared HTTP client."""

    def __init__(
        self, channels: Mapping[str, Channel], http: httpx.AsyncClient | None = None
    ) -> None:
        self._channels = dict(channels)
        self._owns_http = http is None
        # trust_env=False: proxies and netrc from the environment must not change
        # where pages go, and Settings is the only reader of the environment.
        self._http = http if http is not None else httpx.AsyncClient(trust_env=False)

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    @activity.defn(name="deliver_notification")
    async def deliver(self, delivery: Delivery) -> DeliveryResult:
        """Make one attempt; a failed delivery is reported in the result, not raised."""
        async with _heartbeating():
            return await self._deliver(delivery)

    async def _deliver(self, delivery: Delivery) -> DeliveryResult:
        channel = self._channels.get(delivery.channel)
        match channel:
            case WebhookChannel():
                return await self._post_webhook(channel, delivery)
            case SlackChannel():
                return await self._post_slack(channel, delivery)
            case EmailChannel():
                return await _send_email(channel, delivery)
        known = ", ".join(sorted(self._channels)) or "none"
        return _rejected(f"no channel named {delivery.channel!r} (configured: {known})")

    async def _post_webhook(self, channel: WebhookChannel, delivery: Delivery) -> DeliveryResult:
        notification = delivery.notification
        body = _json_bytes({**notification.model_dump(mode="json"), "attempt": delivery.attempt})
        headers = _delivery_headers(delivery) | {"X-Vagt-Event": notification.kind.value}
        # No signed timestamp: the idempotency key is inside the signed body, so a
        # replayed request is a duplicate the receiver already drops, and a freshness
        # window would refuse honest retries made after a long Retry-After.
        if channel.secret is not None:
            key = channel.secret.get_secret_value().encode()
            digest = hmac.new(key, body, hashlib.sha256).hexdigest()
            headers["X-Vagt-Signature"] = f"sha256={digest}"
        return await self._post(str(channel.url), body, headers, channel.timeout)

    async def _post_slack(self, channel: SlackChannel, delivery: Delivery) -> DeliveryResult:
        body = _json_bytes(_slack_message(delivery.notification))
        headers = _delivery_headers(delivery)
        return await self._post(str(channel.webhook_url), body, headers, channel.timeout)

    async def _post(
        self, url: str, body: bytes, headers: dict[str, str], time_limit: timedelta
    ) -> DeliveryResult:
        # Only the host goes into details: a Slack webhook URL's path is its secret.
        host = httpx.URL(url).host
        try:
            response = await self._http.post(
                url, content=body, headers=headers, timeout=time_limit.total_seconds()
            )
        except httpx.TimeoutException:
            return _retry(f"{host} did not answer within {time_limit.total_seconds():g}s")
        except httpx.TransportError as error:
            return _retry(f"could not reach {host}: {str(error) or type(error).__name__}")
        return _classify(response)


def _classify(response: httpx.Response) -> DeliveryResult:
    """2xx delivered; 408, 429 and 5xx worth retrying (after Retry-After); the rest final."""
    status = response.status_code
    detail = f"HTTP {status} from {response.url.host}{_excerpt(response)}"
    if response.is_success:
        return DeliveryResult(outcome=DeliveryOutcome.DELIVERED, status_code=status, detail=detail)
    if status in (408, 429) or status >= 500:
        return DeliveryResult(
            outcome=DeliveryOutcome.RETRY,
            status_code=status,
            retry_after=_retry_after(response.headers),
            detail=detail,
        )
    return DeliveryResult(outcome=DeliveryOutcome.REJECTED, status_code=status, detail=detail)


def _retry_after(headers: httpx.Headers) -> timedelta | None:
    value = headers.get("Retry-After")
    if value is None:
        return None
    # Measured against the receiver's own Date header when it sends one, so a skewed
    # clock on either side does not stretch or shrink the wait.
    now = parse_http_date(headers.get("Date", "")) or datetime.now(UTC)
    return parse_retry_after(value, now)


def _excerpt(response: httpx.Response) -> str:
    text = " ".join(response.text.split())
    return f": {text[:120]}" if text else ""


def _delivery_headers(delivery: Delivery) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Idempotency-Key": delivery.notification.idempotency_key,
        "X-Vagt-Delivery-Attempt": str(delivery.attempt),
    }


def _json_bytes(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


def _slack_message(notification: Notification) -> dict[str, Any]:
    fields = [
        (name, value)
        for name, value in (("Priority", notification.priority), ("State", notification.state))
        if value
    ]
    if notification.recipient:
        fields.append(("Recipient", notification.recipient))
    about = f"Incident #{notification.incident_id}" if notification.incident_id else "Vagt"
    header = notification.title or about
    summary = notification.text or header
    return {
        "text": _mrkdwn(f"{notification.title}: {summary}"),
        "blocks": [
            # Slack refuses headers over 150 characters and sections over 3,000.
            {"type": "header", "text": {"type": "plain_text", "text": header[:150]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _mrkdwn(summary)[:3000]},
                # Slack refuses an empty list of fields; a digest has none.
                **(
                    {
                        "fields": [
                            {"type": "mrkdwn", "text": f"*{k}*\n{_mrkdwn(v)}"} for k, v in fields
                        ]
                    }
                    if fields
                    else {}
                ),
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"{about} · {notification.kind.value}",
                    }
                ],
            },
        ],
    }


def _mrkdwn(text: str) -> str:
    # Slack reads <...> as links and mentions; user text must not ping @channel.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


async def _send_email(channel: EmailChannel, delivery: Delivery) -> DeliveryResult:
    recipients = [delivery.address] if delivery.address else list(channel.recipients)
    if not recipients:
        return _rejected(f"channel {delivery.channel!r} has no recipients and none was given")
    if not all(is_email_address(address) for address in recipients):
        return _rejected(f"{delivery.address!r} is not an email address")
    message = _email_message(channel.sender, recipients, delivery.notification)
    try:
        refused = await asyncio.to_thread(_smtp_send, channel, message, recipients)
    except smtplib.SMTPAuthenticationError as error:
        return _rejected(f"{channel.host} refused the login: {_smtp_text(error.smtp_error)}")
    except smtplib.SMTPRecipientsRefused as error:
        # The mildest refusal decides: if any recipient may accept later, try again.
        return _smtp_refusal(channel.host, *min(error.recipients.values()))
    except smtplib.SMTPResponseException as error:
        return _smtp_refusal(channel.host, error.smtp_code, error.smtp_error)
    except smtplib.SMTPNotSupportedError as error:
        return _rejected(f"{channel.host} does not support what the channel asks: {error}")
    except (smtplib.SMTPException, OSError) as error:
        return _retry(
            f"could not reach {channel.host}:{channel.port}: {str(error) or type(error).__name__}"
        )
    accepted = len(recipients) - len(refused)
    refusals = f", refused {', '.join(sorted(refused))}" if refused else ""
    return DeliveryResult(
        outcome=DeliveryOutcome.DELIVERED,
        detail=f"{channel.host} accepted the mail for {accepted} recipient(s){refusals}",
    )


def _smtp_send(
    channel: EmailChannel, message: EmailMessage, recipients: list[str]
) -> dict[str, Any]:
    timeout = channel.timeout.total_seconds()
    # smtplib's own default context does not verify certificates; this one does.
    context = ssl.create_default_context()
    smtp = (
        smtplib.SMTP_SSL(channel.host, channel.port, timeout=timeout, context=context)
        if channel.ssl
        else smtplib.SMTP(channel.host, channel.port, timeout=timeout)
    )
    try:
        if channel.starttls:
            smtp.starttls(context=context)
        if channel.username is not None and channel.password is not None:
            smtp.login(channel.username, channel.password.get_secret_value())
        return smtp.send_message(message, from_addr=channel.sender, to_addrs=recipients)
    finally:
        _quit(smtp)


def _quit(smtp: smtplib.SMTP) -> None:
    # The mail is accepted once DATA is answered; a failed QUIT must not turn that
    # into a retry or a rejection (as `with smtp:` would by raising from __exit__).
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _email_message(sender: str, recipients: list[str], notification: Notification) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    # Header values may not hold line breaks; a title typed with one must still send.
    subject = " ".join(notification.title.split())
    what = _SUBJECT_SAYS.get(notification.kind)
    message["Subject"] = f"{subject}: {what}" if what else subject
    message["Date"] = format_datetime(notification.at)
    message["Message-ID"] = message_id(notification.idempotency_key)
    message["X-Vagt-Idempotency-Key"] = " ".join(notification.idempotency_key.split())
    message.set_content(_email_body(notification))
    return message


# What a mail's subject says besides the incident's title; a page needs no more.
_SUBJECT_SAYS = {
    NotificationKind.SLA_WARNING: "SLA warning",
    NotificationKind.SLA_BREACH: "SLA breached",
    NotificationKind.ESCALATION: "escalated",
    NotificationKind.UPDATE_DUE: "status update due",
    NotificationKind.UPDATE_OVERDUE: "status update missing",
    NotificationKind.INCIDENT_DECLARED: "new incident",
    NotificationKind.PRIORITY_CHANGED: "priority changed",
    NotificationKind.STATUS_UPDATE: "status update",
    NotificationKind.INCIDENT_RESOLVED: "resolved",
    NotificationKind.INCIDENT_REOPENED: "reopened",
    NotificationKind.INCIDENT_CLOSED: "closed",
}


def message_id(idempotency_key: str) -> str:
    """`<key@vagt>` with characters RFC 5322 forbids %-escaped, so distinct keys stay distinct."""
    local = "".join(
        char if char in _MESSAGE_ID_SAFE else "".join(f"%{b:02X}" for b in char.encode())
        for char in idempotency_key
    )
    return f"<{local}@vagt>"


def _email_body(notification: Notification) -> str:
    lines = [notification.text, ""]
    if notification.incident_id is not None:
        lines.append(f"Incident: #{notification.incident_id}")
    lines += [
        f"{name}: {value}"
        for name, value in (("Priority", notification.priority), ("State", notification.state))
        if value
    ]
    if notification.recipient:
        lines.append(f"Recipient: {notification.recipient}")
    lines += [f"{key}: {value}" for key, value in notification.details.items()]
    return "\n".join(lines) + "\n"


def _smtp_refusal(host: str, code: int, reply: bytes | str) -> DeliveryResult:
    # 5xx replies are permanent by RFC 5321; 4xx and anything odd are worth another try.
    outcome = DeliveryOutcome.REJECTED if 500 <= code < 600 else DeliveryOutcome.RETRY
    return DeliveryResult(
        outcome=outcome, status_code=code, detail=f"SMTP {code} from {host}: {_smtp_text(reply)}"
    )


def _smtp_text(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    return " ".join(text.split())[:200]


def _retry(detail: str) -> DeliveryResult:
    return DeliveryResult(outcome=DeliveryOutcome.RETRY, detail=detail)


def _rejected(detail: str) -> DeliveryResult:
    return DeliveryResult(outcome=DeliveryOutcome.REJECTED, detail=detail)
