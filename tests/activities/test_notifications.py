"""Notification delivery against real HTTP and SMTP servers on 127.0.0.1."""

import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from pydantic import SecretStr, TypeAdapter, ValidationError
from temporalio.testing import ActivityEnvironment

from activities.notifications import NotificationActivities, message_id
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
    parse_retry_after,
)
from tests.receivers import HttpReceiver, Reply, SmtpServer
from vagt.ports import free_port

KEY = "incident-42:page:default:r1:l2:alice:ops-email"
SECRET = "s3cret-signing-key"
SLACK_PATH = "/services/T000/B000/slack-path-is-a-secret"
AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def page(**changes: Any) -> Notification:
    values: dict[str, Any] = {
        "idempotency_key": KEY,
        "incident_id": 42,
        "kind": NotificationKind.PAGE,
        "title": "[P1] Checkout returns 500",
        "text": "Checkout fails for every customer. <!channel> Please acknowledge.",
        "priority": "P1",
        "state": "triaged",
        "recipient": "alice",
        "details": {"service": "checkout", "level": 2},
        "at": AT,
    }
    return Notification.model_validate(values | changes)


def delivery(channel: str, attempt: int = 1, address: str | None = None) -> Delivery:
    return Delivery(notification=page(), channel=channel, address=address, attempt=attempt)


# --- fixtures ---------------------------------------------------------------------------


@pytest.fixture
async def notifications(
    http_receiver: HttpReceiver, smtp_server: SmtpServer
) -> AsyncIterator[NotificationActivities]:
    email = {"type": "email", "host": "127.0.0.1", "port": smtp_server.port}
    email |= {"sender": "vagt@example.com", "recipients": ["oncall@example.com"]}
    channels: dict[str, Channel] = {
        "ops-webhook": WebhookChannel(
            type="webhook", url=f"{http_receiver.url}/hooks/vagt", secret=SecretStr(SECRET)
        ),
        "plain-webhook": WebhookChannel(type="webhook", url=f"{http_receiver.url}/hooks/plain"),
        "impatient-webhook": WebhookChannel(
            type="webhook", url=f"{http_receiver.url}/hooks/slow", timeout=timedelta(seconds=0.2)
        ),
        "nowhere": WebhookChannel(type="webhook", url=f"http://127.0.0.1:{free_port()}/"),
        "slack": SlackChannel(type="slack", webhook_url=f"{http_receiver.url}{SLACK_PATH}"),
        "ops-email": EmailChannel.model_validate(email),
        "empty-email": EmailChannel.model_validate(email | {"recipients": []}),
        "login-email": EmailChannel.model_validate(
            email | {"username": "alice", "password": "correct horse"}
        ),
        "bad-login-email": EmailChannel.model_validate(
            email | {"username": "alice", "password": "wrong"}
        ),
        "dead-email": EmailChannel.model_validate(email | {"port": free_port()}),
    }
    activities = NotificationActivities(channels)
    yield activities
    await activities.aclose()


async def deliver(activities: NotificationActivities, attempt: Delivery) -> DeliveryResult:
    # Through ActivityEnvironment, so the method is proven to run as an activity.
    return await ActivityEnvironment().run(activities.deliver, attempt)


# --- tests ------------------------------------------------------------------------------


class TestWebhook:
    async def test_delivered_as_signed_json(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        result = await deliver(notifications, delivery("ops-webhook"))

        assert (result.outcome, result.status_code) == (DeliveryOutcome.DELIVERED, 200)
        [request] = http_receiver.requests
        assert (request.method, request.path) == ("POST", "/hooks/vagt")
        assert request.json() == page().model_dump(mode="json") | {"attempt": 1}
        assert request.headers["content-type"] == "application/json"
        assert request.headers["idempotency-key"] == KEY
        assert request.headers["x-vagt-delivery-attempt"] == "1"
        assert request.headers["x-vagt-event"] == "page"
        assert "x-vagt-timestamp" not in request.headers
        expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(request.headers["x-vagt-signature"], f"sha256={expected}")

    async def test_unsigned_without_a_secret(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        await deliver(notifications, delivery("plain-webhook"))

        assert "x-vagt-signature" not in http_receiver.requests[0].headers

    async def test_every_attempt_carries_the_same_idempotency_key(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        http_receiver.script(Reply(500, body=b"database is down"))

        first = await deliver(notifications, delivery("ops-webhook", attempt=1))
        second = await deliver(notifications, delivery("ops-webhook", attempt=2))

        assert (first.outcome, first.status_code) == (DeliveryOutcome.RETRY, 500)
        assert "database is down" in first.detail
        assert second.outcome == DeliveryOutcome.DELIVERED
        assert [r.headers["idempotency-key"] for r in http_receiver.requests] == [KEY, KEY]
        assert [r.json()["idempotency_key"] for r in http_receiver.requests] == [KEY, KEY]
        assert [r.headers["x-vagt-delivery-attempt"] for r in http_receiver.requests] == ["1", "2"]

    async def test_too_many_requests_retries_after_the_seconds_asked(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        http_receiver.script(Reply(429, {"Retry-After": "7"}))

        result = await deliver(notifications, delivery("ops-webhook"))

        assert (result.outcome, result.status_code) == (DeliveryOutcome.RETRY, 429)
        assert result.retry_after == timedelta(seconds=7)

    async def test_retry_after_as_http_date_is_measured_from_the_receivers_date(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        sent = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
        later = format_datetime(sent + timedelta(minutes=2), usegmt=True)
        http_receiver.script(
            Reply(429, {"Date": format_datetime(sent, usegmt=True), "Retry-After": later})
        )

        result = await deliver(notifications, delivery("ops-webhook"))

        assert result.retry_after == timedelta(minutes=2)

    async def test_retry_after_as_http_date_without_a_date_uses_the_clock(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
        http_receiver.script(Reply(503, {"Retry-After": when}))

        result = await deliver(notifications, delivery("ops-webhook"))

        assert result.outcome == DeliveryOutcome.RETRY
        assert result.retry_after is not None
        assert timedelta(seconds=85) <= result.retry_after <= timedelta(seconds=90)

    async def test_retry_after_is_capped_at_an_hour(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        http_receiver.script(Reply(429, {"Retry-After": "86400"}))

        result = await deliver(notifications, delivery("ops-webhook"))

        assert result.retry_after == timedelta(hours=1)

    @pytest.mark.parametrize("status", [408, 500, 502, 503])
    async def test_server_trouble_is_retried(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver, status: int
    ) -> None:
        http_receiver.script(Reply(status))

        result = await deliver(notifications, delivery("ops-webhook"))

        assert (result.outcome, result.status_code, result.retry_after) == (
            DeliveryOutcome.RETRY,
            status,
            None,
        )

    @pytest.mark.parametrize("status", [400, 401, 404, 410])
    async def test_client_errors_are_final(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver, status: int
    ) -> None:
        http_receiver.script(Reply(status, body=b"no such hook"))

        result = await deliver(notifications, delivery("ops-webhook"))

        assert (result.outcome, result.status_code) == (DeliveryOutcome.REJECTED, status)
        assert f"HTTP {status}" in result.detail

    async def test_connection_refused_is_retried(
        self, notifications: NotificationActivities
    ) -> None:
        result = await deliver(notifications, delivery("nowhere"))

        assert (result.outcome, result.status_code) == (DeliveryOutcome.RETRY, None)
        assert "could not reach 127.0.0.1" in result.detail

    async def test_a_receiver_that_never_answers_is_retried_after_the_timeout(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        http_receiver.script(Reply(hang=True))

        result = await deliver(notifications, delivery("impatient-webhook"))

        assert result.outcome == DeliveryOutcome.RETRY
        assert "did not answer within 0.2s" in result.detail


class TestSlack:
    async def test_posts_fallback_text_and_blocks(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        result = await deliver(notifications, delivery("slack"))

        assert result.outcome == DeliveryOutcome.DELIVERED
        [request] = http_receiver.requests
        assert request.path == SLACK_PATH
        assert request.headers["idempotency-key"] == KEY
        body = request.json()
        assert body["text"].startswith("[P1] Checkout returns 500: Checkout fails")
        header, section, context = body["blocks"]
        assert header == {
            "type": "header",
            "text": {"type": "plain_text", "text": "[P1] Checkout returns 500"},
        }
        assert "&lt;!channel&gt;" in section["text"]["text"]
        assert "<!channel>" not in json.dumps(body)
        fields = [f["text"] for f in section["fields"]]
        assert fields == ["*Priority*\nP1", "*State*\ntriaged", "*Recipient*\nalice"]
        assert "Incident #42" in context["elements"][0]["text"]

    async def test_unknown_webhook_is_final_and_detail_keeps_the_url_secret(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        http_receiver.script(Reply(404, body=b"no_service"))

        result = await deliver(notifications, delivery("slack"))

        assert (result.outcome, result.status_code) == (DeliveryOutcome.REJECTED, 404)
        assert "no_service" in result.detail
        assert "slack-path-is-a-secret" not in result.detail

    async def test_rate_limit_is_retried(
        self, notifications: NotificationActivities, http_receiver: HttpReceiver
    ) -> None:
        http_receiver.script(Reply(429, {"Retry-After": "30"}))

        result = await deliver(notifications, delivery("slack"))

        assert (result.outcome, result.retry_after) == (
            DeliveryOutcome.RETRY,
            timedelta(seconds=30),
        )


class TestEmail:
    async def test_the_subject_says_what_kind_of_news_it_is(
        self, notifications: NotificationActivities, smtp_server: SmtpServer
    ) -> None:
        news = page(kind=NotificationKind.STATUS_UPDATE, text="Failing over")
        sent = Delivery(notification=news, channel="ops-email", attempt=1)

        assert (await deliver(notifications, sent)).outcome == DeliveryOutcome.DELIVERED

        [mail] = smtp_server.mailbox.messages
        assert mail["Subject"] == "[P1] Checkout returns 500: status update"

    async def test_mail_arrives_for_the_channel_recipients(
        self, notifications: NotificationActivities, smtp_server: SmtpServer
    ) -> None:
        result = await deliver(notifications, delivery("ops-email"))

        assert result.outcome == DeliveryOutcome.DELIVERED
        [mail] = smtp_server.mailbox.messages
        assert mail["Subject"] == "[P1] Checkout returns 500"
        assert (mail["From"], mail["To"]) == ("vagt@example.com", "oncall@example.com")
        assert mail["X-Vagt-Idempotency-Key"] == KEY
        body = mail.get_payload(decode=True)
        assert isinstance(body, bytes)
        text = body.decode()
        assert "Checkout fails for every customer." in text
        assert "Incident: #42" in text
        assert "service: checkout" in text

    async def test_the_delivery_address_replaces_the_channel_recipients(
        self, notifications: NotificationActivities, smtp_server: SmtpServer
    ) -> None:
        await deliver(notifications, delivery("ops-email", address="alice@example.com"))

        assert smtp_server.mailbox.messages[0]["To"] == "alice@example.com"

    async def test_message_id_comes_from_the_key_and_repeats_on_every_attempt(
        self, notifications: NotificationActivities, smtp_server: SmtpServer
    ) -> None:
        await deliver(notifications, delivery("ops-email", attempt=1))
        await deliver(notifications, delivery("ops-email", attempt=2))

        ids = [mail["Message-ID"] for mail in smtp_server.mailbox.messages]
        assert ids == [message_id(KEY)] * 2
        assert ids[0] == "<incident-42%3Apage%3Adefault%3Ar1%3Al2%3Aalice%3Aops-email@vagt>"

    async def test_permanent_refusal_is_final(self, notifications: NotificationActivities) -> None:
        result = await deliver(notifications, delivery("ops-email", address="gone@example.com"))

        assert (result.outcome, result.status_code) == (DeliveryOutcome.REJECTED, 550)
        assert "No such user" in result.detail

    async def test_temporary_refusal_is_retried(
        self, notifications: NotificationActivities
    ) -> None:
        result = await deliver(notifications, delivery("ops-email", address="busy@example.com"))

        assert (result.outcome, result.status_code) == (DeliveryOutcome.RETRY, 451)

    async def test_no_recipient_anywhere_is_final(
        self, notifications: NotificationActivities
    ) -> None:
        result = await deliver(notifications, delivery("empty-email"))

        assert result.outcome == DeliveryOutcome.REJECTED
        assert "no recipients" in result.detail

    async def test_an_address_that_is_not_one_is_final(
        self, notifications: NotificationActivities
    ) -> None:
        result = await deliver(notifications, delivery("ops-email", address="alice\r\nRCPT TO:<x>"))

        assert result.outcome == DeliveryOutcome.REJECTED

    async def test_logs_in_when_the_channel_has_credentials(
        self, notifications: NotificationActivities, smtp_server: SmtpServer
    ) -> None:
        result = await deliver(notifications, delivery("login-email"))

        assert result.outcome == DeliveryOutcome.DELIVERED
        assert len(smtp_server.mailbox.messages) == 1

    async def test_refused_login_is_final(
        self, notifications: NotificationActivities, smtp_server: SmtpServer
    ) -> None:
        result = await deliver(notifications, delivery("bad-login-email"))

        assert result.outcome == DeliveryOutcome.REJECTED
        assert "refused the login" in result.detail
        assert "wrong" not in result.detail
        assert smtp_server.mailbox.messages == []

    async def test_unreachable_server_is_retried(
        self, notifications: NotificationActivities
    ) -> None:
        result = await deliver(notifications, delivery("dead-email"))

        assert result.outcome == DeliveryOutcome.RETRY
        assert "could not reach 127.0.0.1" in result.detail


class TestUnknownChannel:
    async def test_is_final_and_named(self, notifications: NotificationActivities) -> None:
        result = await deliver(notifications, delivery("pager-duty"))

        assert result.outcome == DeliveryOutcome.REJECTED
        assert "'pager-duty'" in result.detail


class TestRetryAfter:
    def test_a_date_in_the_past_means_now(self) -> None:
        past = format_datetime(AT - timedelta(minutes=5), usegmt=True)

        assert parse_retry_after(past, AT) == timedelta(0)

    @pytest.mark.parametrize("value", ["soon", "-5", "1.5", ""])
    def test_unreadable_values_are_ignored(self, value: str) -> None:
        assert parse_retry_after(value, AT) is None


class TestChannelSettings:
    def test_channels_parse_by_type_with_durations_as_written(self) -> None:
        channel = TypeAdapter(Channel).validate_python(
            {
                "type": "slack",
                "webhook_url": "https://hooks.slack.com/services/T/B/X",
                "timeout": "5s",
            }
        )

        assert isinstance(channel, SlackChannel)
        assert channel.timeout == timedelta(seconds=5)

    @pytest.mark.parametrize(
        "changes",
        [
            {"starttls": True, "ssl": True},
            {"username": "alice"},
            {"sender": "not an address"},
            {"recipients": ["oncall"]},
        ],
    )
    def test_inconsistent_email_settings_are_refused(self, changes: dict[str, Any]) -> None:
        settings = {"type": "email", "host": "smtp.example.com", "sender": "vagt@example.com"}

        with pytest.raises(ValidationError):
            EmailChannel.model_validate(settings | changes)
