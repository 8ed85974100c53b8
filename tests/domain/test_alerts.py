"""Alerts from every sender read into one model: PagerDuty, Alertmanager, Grafana, generic."""

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.alert_formats import (
    ChangeEvent,
    EventAction,
    alertmanager_fingerprint,
    derived_group_key,
    pagerduty_accepted,
    pagerduty_invalid,
    parse_alertmanager,
    parse_grafana,
    parse_pagerduty_change,
    parse_pagerduty_event,
    severity_from_label,
)
from domain.alerts import (
    Alert,
    AlertStatus,
    Image,
    InvalidAlert,
    Link,
    Severity,
    parse_generic,
)
from domain.errors import DomainError

PAYLOADS = Path(__file__).parents[3] / "shared" / "payloads"

KEY = "e93facc04764012d7bfb002500d5d1a6"
GENERATED = "0f8e6c1a-generated-by-the-caller"
PD_DEDUP = "prod-eu-1/checkout/db-primary/replication-lag"
AM_GROUP = '{}/{team="payments"}:{alertname="KubePodCrashLooping", namespace="checkout"}'
AM_SOURCE = (
    "http://prometheus.prod.example.net:9090/graph?g0.expr=max_over_time%28kube_pod_container"
    "_status_waiting_reason%7Breason%3D%22CrashLoopBackOff%22%7D%5B5m%5D%29+%3E%3D+1&g0.tab=1"
)
AM_RUNBOOK = "https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping"
GRAFANA = "https://grafana.example.com"
GRAFANA_GROUP = '{}:{alertname="API 5xx ratio high", grafana_folder="Payments"}'


def payload_text(name: str) -> str:
    """An example from ../shared/payloads; the test is skipped where that folder is absent."""
    if not PAYLOADS.is_dir():
        pytest.skip(f"the shared example payloads are not at {PAYLOADS}")
    return (PAYLOADS / name).read_text()


def payload(name: str) -> Any:
    return json.loads(payload_text(name))


def problems(parse: Callable[[Any], object], body: Any) -> list[str]:
    with pytest.raises(InvalidAlert) as refused:
        parse(body)
    return refused.value.errors


def pd_problems(body: Any) -> list[str]:
    return problems(lambda b: parse_pagerduty_event(b, GENERATED), body)


def trigger(**payload_fields: Any) -> dict[str, Any]:
    """A valid trigger; a payload field given as None is left out."""
    fields = {"summary": "Disk full", "source": "host-1", "severity": "error"} | payload_fields
    sent = {name: value for name, value in fields.items() if value is not None}
    return {"routing_key": KEY, "event_action": "trigger", "payload": sent}


def grafana_test_notification() -> dict[str, Any]:
    """What Grafana's "Test contact point" button sends to a webhook."""
    labels = {"alertname": "TestAlert", "instance": "Grafana"}
    annotations = {"summary": "Notification test"}
    return {
        "receiver": "test",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": "2026-03-14T10:00:00.123456789Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "",
                "fingerprint": "57c6d9296de2ad39",
                "silenceURL": f"{GRAFANA}/alerting/silence/new?matcher=alertname%3DTestAlert",
                "dashboardURL": "",
                "panelURL": "",
                "values": None,
                "valueString": "[ metric='foo' labels={instance=bar} value=10 ]",
            }
        ],
        "groupLabels": labels,
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": f"{GRAFANA}/",
        "version": "1",
        "groupKey": "test-57c6d9296de2ad39-1773482400",
        "truncatedAlerts": 0,
        "orgId": 1,
        "title": "[FIRING:1]  (TestAlert Grafana)",
        "state": "alerting",
        "message": "**Firing**\n\nValue: [no value]\nLabels:\n - alertname = TestAlert\n",
    }


class TestPagerDutyFullTrigger:
    def test_identity_and_sender(self) -> None:
        event = parse_pagerduty_event(payload("pagerduty/trigger_full.json"), GENERATED)

        assert event.routing_key == KEY
        assert event.action is EventAction.TRIGGER
        assert event.status is AlertStatus.FIRING
        assert event.dedup_key == PD_DEDUP
        assert not event.dedup_key_generated
        assert event.client == "Acme Monitoring"
        assert event.client_url == "https://monitoring.example.com/alerts/8812"

    def test_alert_fields(self) -> None:
        alert = parse_pagerduty_event(payload("pagerduty/trigger_full.json"), GENERATED).alert

        assert alert is not None
        assert alert.dedup_key == alert.fingerprint == PD_DEDUP
        assert alert.status is AlertStatus.FIRING
        assert alert.summary == "Replication lag 412s on db-primary (checkout) exceeds 300s"
        assert alert.source == "db-primary-0.checkout.prod-eu-1.example.net"
        assert alert.severity is Severity.CRITICAL
        assert alert.started_at == datetime(2026, 3, 14, 9, 21, 7, 482000, tzinfo=UTC)
        assert not alert.test

    def test_component_group_class_and_source_become_labels(self) -> None:
        alert = parse_pagerduty_event(payload("pagerduty/trigger_full.json"), GENERATED).alert

        assert alert is not None
        assert alert.labels == {
            "component": "postgres",
            "group": "checkout-db",
            "class": "replication lag",
            "source": "db-primary-0.checkout.prod-eu-1.example.net",
        }

    def test_custom_details_kept_whole(self) -> None:
        body = payload("pagerduty/trigger_full.json")

        alert = parse_pagerduty_event(body, GENERATED).alert

        assert alert is not None
        assert alert.details == body["payload"]["custom_details"]

    def test_links_and_images(self) -> None:
        alert = parse_pagerduty_event(payload("pagerduty/trigger_full.json"), GENERATED).alert

        assert alert is not None
        assert alert.links == [
            Link(href="https://runbooks.example.com/postgres/replication-lag", text="Runbook"),
            Link(href=f"{GRAFANA}/d/kz8Qx1Vnk"),
        ]
        assert alert.images == [
            Image(
                src=f"{GRAFANA}/render/d-solo/kz8Qx1Vnk?panelId=7&width=600&height=300",
                href=f"{GRAFANA}/d/kz8Qx1Vnk",
                alt="Replication lag, last 1h",
            )
        ]


class TestPagerDutyMinimalTrigger:
    def test_gets_the_generated_dedup_key(self) -> None:
        event = parse_pagerduty_event(
            payload("pagerduty/trigger_minimal_no_dedup_key.json"), GENERATED
        )

        assert event.dedup_key == GENERATED
        assert event.dedup_key_generated
        assert event.alert is not None
        assert event.alert.dedup_key == event.alert.fingerprint == GENERATED

    def test_only_what_was_sent(self) -> None:
        event = parse_pagerduty_event(
            payload("pagerduty/trigger_minimal_no_dedup_key.json"), GENERATED
        )

        alert = event.alert
        assert alert is not None
        assert (alert.summary, alert.source) == ("Disk 97% full on build-agent-3", "build-agent-3")
        assert alert.severity is Severity.WARNING
        assert alert.labels == {"source": "build-agent-3"}
        assert (alert.details, alert.links, alert.images) == ({}, [], [])
        assert alert.started_at is None
        assert (event.client, event.client_url) == (None, None)

    def test_blank_dedup_key_counts_as_absent(self) -> None:
        event = parse_pagerduty_event(trigger() | {"dedup_key": ""}, GENERATED)

        assert (event.dedup_key, event.dedup_key_generated) == (GENERATED, True)


class TestPagerDutyAcknowledgeAndResolve:
    @pytest.mark.parametrize(
        ("name", "action", "status"),
        [
            ("acknowledge", EventAction.ACKNOWLEDGE, AlertStatus.ACKNOWLEDGED),
            ("resolve", EventAction.RESOLVE, AlertStatus.RESOLVED),
        ],
    )
    def test_name_the_alert_by_dedup_key_and_carry_no_content(
        self, name: str, action: EventAction, status: AlertStatus
    ) -> None:
        event = parse_pagerduty_event(payload(f"pagerduty/{name}.json"), GENERATED)

        assert (event.action, event.status) == (action, status)
        assert event.dedup_key == PD_DEDUP
        assert not event.dedup_key_generated
        assert event.alert is None

    @pytest.mark.parametrize("action", ["acknowledge", "resolve"])
    def test_without_dedup_key_refused(self, action: str) -> None:
        body = {"routing_key": KEY, "event_action": action}

        assert pd_problems(body) == ["'dedup_key' is missing or blank"]

    def test_payload_is_ignored(self) -> None:
        body = payload("pagerduty/resolve.json") | {"payload": {"severity": "nonsense"}}

        assert parse_pagerduty_event(body, GENERATED).alert is None


class TestPagerDutyRoutingKey:
    def test_wrong_length_gets_pagerdutys_exact_words(self) -> None:
        body = trigger() | {"routing_key": "too-short"}

        assert pd_problems(body) == payload("pagerduty/response_400_invalid_event.json")["errors"]

    def test_counted_in_characters(self) -> None:
        body = trigger() | {"routing_key": "ø" * 32}

        assert parse_pagerduty_event(body, GENERATED).routing_key == "ø" * 32

    def test_missing(self) -> None:
        body = trigger()
        del body["routing_key"]

        assert pd_problems(body) == ["'routing_key' cannot be blank"]

    def test_blank(self) -> None:
        assert pd_problems(trigger() | {"routing_key": " " * 32}) == [
            "'routing_key' cannot be blank"
        ]

    def test_not_a_string(self) -> None:
        assert pd_problems(trigger() | {"routing_key": 12}) == [
            "'routing_key' must be a string, not a number"
        ]


class TestPagerDutyRefusals:
    def test_missing_payload(self) -> None:
        body = trigger()
        del body["payload"]

        assert pd_problems(body) == ["'payload' is missing or blank"]

    @pytest.mark.parametrize("field", ["summary", "source", "severity"])
    def test_missing_payload_field(self, field: str) -> None:
        assert pd_problems(trigger(**{field: None})) == [f"'payload.{field}' is missing or blank"]

    def test_blank_summary(self) -> None:
        assert pd_problems(trigger(summary="   ")) == ["'payload.summary' is missing or blank"]

    def test_bad_severity(self) -> None:
        assert pd_problems(trigger(severity="CRITICAL")) == [
            "'payload.severity' is invalid (must be one of the following: "
            "'critical', 'warning', 'error' or 'info')"
        ]

    def test_bad_event_action(self) -> None:
        assert pd_problems(trigger() | {"event_action": "snooze"}) == [
            "'event_action' is invalid (must be one of the following: "
            "'trigger', 'acknowledge' or 'resolve')"
        ]

    def test_missing_event_action(self) -> None:
        body = trigger()
        del body["event_action"]

        assert pd_problems(body) == ["'event_action' is missing or blank"]

    @pytest.mark.parametrize(
        ("body", "kind"),
        [([], "an array"), ("trigger", "a string"), (None, "null"), (3, "a number")],
    )
    def test_body_not_an_object(self, body: Any, kind: str) -> None:
        assert pd_problems(body) == [f"The body must be a JSON object, not {kind}"]

    def test_payload_not_an_object(self) -> None:
        assert pd_problems(trigger() | {"payload": "Disk full"}) == [
            "'payload' must be an object, not a string"
        ]

    def test_wrong_types(self) -> None:
        assert pd_problems(trigger(summary=42, source=["a"])) == [
            "'payload.summary' must be a string, not a number",
            "'payload.source' must be a string, not an array",
        ]

    def test_dedup_key_longer_than_255(self) -> None:
        assert pd_problems(trigger() | {"dedup_key": "k" * 256}) == [
            "'dedup_key' is too long (256 characters; at most 255)"
        ]

    def test_dedup_key_of_255_accepted(self) -> None:
        assert parse_pagerduty_event(trigger() | {"dedup_key": "k" * 255}, GENERATED).dedup_key

    def test_bad_timestamp(self) -> None:
        assert pd_problems(trigger(timestamp="yesterday")) == [
            "'payload.timestamp' is not an ISO 8601 date and time: 'yesterday'"
        ]

    def test_link_without_href(self) -> None:
        body = trigger() | {"links": [{"text": "Runbook"}], "images": "x.png"}

        assert pd_problems(body) == [
            "'links[0].href' is missing or blank",
            "'images' must be an array, not a string",
        ]

    def test_several_problems_all_listed(self) -> None:
        body = {
            "routing_key": "short",
            "event_action": "trigger",
            "dedup_key": 7,
            "payload": {"summary": "", "severity": "fatal"},
        }

        assert pd_problems(body) == [
            "Length of 'routing_key' is incorrect (should be 32 characters)",
            "'dedup_key' must be a string, not a number",
            "'payload.summary' is missing or blank",
            "'payload.source' is missing or blank",
            "'payload.severity' is invalid (must be one of the following: "
            "'critical', 'warning', 'error' or 'info')",
        ]

    def test_refusal_is_a_domain_error(self) -> None:
        with pytest.raises(DomainError) as refused:
            parse_pagerduty_event([], GENERATED)

        assert refused.value.status == 400
        assert refused.value.message == "The body must be a JSON object, not an array"


class TestPagerDutyOptionalFields:
    def test_timestamp_without_offset_is_utc(self) -> None:
        alert = parse_pagerduty_event(trigger(timestamp="2026-03-14T09:21:07"), GENERATED).alert

        assert alert is not None
        assert alert.started_at == datetime(2026, 3, 14, 9, 21, 7, tzinfo=UTC)

    def test_custom_details_that_are_not_an_object(self) -> None:
        alert = parse_pagerduty_event(trigger(custom_details="disk at 97%"), GENERATED).alert

        assert alert is not None
        assert alert.details == {"custom_details": "disk at 97%"}

    def test_unknown_fields_ignored_as_pagerduty_does(self) -> None:
        event = parse_pagerduty_event(trigger() | {"service_key": "legacy"}, GENERATED)

        assert event.alert is not None


class TestSummaryTruncation:
    def test_emoji_counted_in_code_points(self) -> None:
        alert = parse_pagerduty_event(trigger(summary="🔥" * 1100), GENERATED).alert

        assert alert is not None
        assert len(alert.summary) == 1024
        assert alert.summary == "🔥" * 1023 + "…"

    def test_cjk(self) -> None:
        summary = "磁盘已满" * 300

        alert = parse_generic({"dedup_key": "disk", "summary": summary})

        assert alert.summary == summary[:1023] + "…"

    def test_1024_code_points_kept_whole(self) -> None:
        alert = parse_generic({"dedup_key": "disk", "summary": "é" * 1024})

        assert alert.summary == "é" * 1024

    def test_truncated_before_hashing(self) -> None:
        long = parse_generic({"dedup_key": "d", "summary": "x" * 2000})
        longer = parse_generic({"dedup_key": "d", "summary": "x" * 3000})

        assert long.content_hash == longer.content_hash

    def test_change_events_too(self) -> None:
        change = parse_pagerduty_change(
            {"routing_key": KEY, "payload": {"summary": "deploy " + "ü" * 2000}}
        )

        assert len(change.summary) == 1024
        assert change.summary.endswith("…")


class TestPagerDutyAnswers:
    def test_accepted_matches_pagerduty(self) -> None:
        expected = payload("pagerduty/response_202_success.json")

        answer = pagerduty_accepted(PD_DEDUP)

        assert answer == expected
        assert list(answer) == list(expected)

    def test_invalid_matches_pagerduty(self) -> None:
        expected = payload("pagerduty/response_400_invalid_event.json")

        answer = pagerduty_invalid(pd_problems(trigger() | {"routing_key": "short"}))

        assert answer == expected
        assert list(answer) == list(expected)

    def test_file_text_is_the_answer_indented(self) -> None:
        text = payload_text("pagerduty/response_202_success.json")

        assert json.dumps(pagerduty_accepted(PD_DEDUP), indent=2) == text.rstrip("\n")


class TestPagerDutyChangeEvents:
    def test_fields(self) -> None:
        body = {
            "routing_key": KEY,
            "payload": {
                "summary": "Deployed checkout-api 2.14.0",
                "timestamp": "2026-03-14T09:00:00Z",
                "source": "argo-cd",
                "custom_details": {"version": "2.14.0"},
            },
            "links": [{"href": "https://git.example.com/checkout/compare", "text": "Diff"}],
        }

        assert parse_pagerduty_change(body) == ChangeEvent(
            routing_key=KEY,
            summary="Deployed checkout-api 2.14.0",
            source="argo-cd",
            timestamp=datetime(2026, 3, 14, 9, tzinfo=UTC),
            custom_details={"version": "2.14.0"},
            links=[Link(href="https://git.example.com/checkout/compare", text="Diff")],
        )

    def test_summary_only(self) -> None:
        change = parse_pagerduty_change({"routing_key": KEY, "payload": {"summary": "Deploy"}})

        assert (change.source, change.timestamp, change.custom_details) == (None, None, {})

    def test_refusals(self) -> None:
        assert problems(parse_pagerduty_change, {"routing_key": "x", "payload": {}}) == [
            "Length of 'routing_key' is incorrect (should be 32 characters)",
            "'payload.summary' is missing or blank",
        ]
        assert problems(parse_pagerduty_change, {"routing_key": KEY}) == [
            "'payload' is missing or blank"
        ]


class TestAlertmanagerGroupedFiring:
    def test_notification(self) -> None:
        notification = parse_alertmanager(payload("alertmanager/firing_grouped.json"))

        assert notification.receiver == "payments-oncall"
        assert notification.group_key == AM_GROUP
        assert notification.status is AlertStatus.FIRING
        assert notification.external_url == "http://alertmanager.prod.example.net:9093"
        assert notification.truncated_alerts == 0
        assert not notification.all_resolved

    def test_one_group_two_alerts(self) -> None:
        alerts = parse_alertmanager(payload("alertmanager/firing_grouped.json")).alerts

        assert [a.dedup_key for a in alerts] == [AM_GROUP, AM_GROUP]
        assert [a.fingerprint for a in alerts] == ["eb869d9a1a728a56", "010b91a6d542b7d3"]
        assert [a.status for a in alerts] == [AlertStatus.FIRING, AlertStatus.FIRING]
        assert [a.started_at for a in alerts] == [
            datetime(2026, 3, 14, 9, 21, 7, 482000, tzinfo=UTC),
            datetime(2026, 3, 14, 9, 21, 37, 482000, tzinfo=UTC),
        ]

    def test_alert_content(self) -> None:
        body = payload("alertmanager/firing_grouped.json")

        alert = parse_alertmanager(body).alerts[0]

        assert alert.summary == "Pod is crash looping."
        assert alert.severity is Severity.CRITICAL
        assert alert.source is None
        assert alert.labels == body["alerts"][0]["labels"]
        assert alert.details == body["alerts"][0]["annotations"]
        assert alert.links == [
            Link(href=AM_SOURCE, text="Source"),
            Link(href=AM_RUNBOOK, text="Runbook"),
        ]
        assert alert.images == []
        assert not alert.test

    def test_instance_label_is_the_source(self) -> None:
        body = payload("alertmanager/firing_grouped.json")
        body["alerts"][0]["labels"]["instance"] = "10.0.3.7:8080"

        assert parse_alertmanager(body).alerts[0].source == "10.0.3.7:8080"


class TestAlertmanagerResolves:
    def test_partial_resolve_counted_per_alert(self) -> None:
        notification = parse_alertmanager(payload("alertmanager/mixed_partial_resolve.json"))

        assert notification.status is AlertStatus.FIRING
        assert [a.status for a in notification.alerts] == [
            AlertStatus.RESOLVED,
            AlertStatus.FIRING,
        ]
        assert not notification.all_resolved

    def test_all_resolved(self) -> None:
        notification = parse_alertmanager(payload("alertmanager/resolved_all.json"))

        assert notification.status is AlertStatus.RESOLVED
        assert notification.all_resolved

    def test_all_resolved_ignores_the_top_level_status(self) -> None:
        body = payload("alertmanager/resolved_all.json") | {"status": "firing"}

        assert parse_alertmanager(body).all_resolved

    def test_resolved_alert_keeps_its_identity(self) -> None:
        firing = parse_alertmanager(payload("alertmanager/firing_grouped.json")).alerts[0]
        resolved = parse_alertmanager(payload("alertmanager/resolved_all.json")).alerts[0]

        assert (resolved.dedup_key, resolved.fingerprint) == (firing.dedup_key, firing.fingerprint)
        assert resolved.content_hash != firing.content_hash


class TestFingerprints:
    def test_missing_fingerprint_computed_as_alertmanager_does(self) -> None:
        body = payload("alertmanager/firing_grouped.json")
        sent = [alert.pop("fingerprint") for alert in body["alerts"]]

        alerts = parse_alertmanager(body).alerts

        assert [a.fingerprint for a in alerts] == sent

    def test_prometheus_reference_value(self) -> None:
        labels = {"name": "garland, briggs", "fear": "love is not enough"}

        assert alertmanager_fingerprint(labels) == f"{5799056148416392346:016x}"

    def test_empty_label_set(self) -> None:
        assert alertmanager_fingerprint({}) == f"{14695981039346656037:016x}"

    def test_label_order_does_not_matter(self) -> None:
        assert alertmanager_fingerprint({"a": "1", "b": "2"}) == alertmanager_fingerprint(
            {"b": "2", "a": "1"}
        )


class TestGroupKey:
    def test_missing_group_key_derived_from_receiver_and_group_labels(self) -> None:
        body = payload("alertmanager/firing_grouped.json")
        del body["groupKey"]
        body["groupLabels"] = {"namespace": "checkout", "alertname": "KubePodCrashLooping"}

        notification = parse_alertmanager(body)

        expected = 'payments-oncall:{alertname="KubePodCrashLooping", namespace="checkout"}'
        assert notification.group_key == expected
        assert {a.dedup_key for a in notification.alerts} == {expected}

    def test_derived_key_is_stable_across_label_order(self) -> None:
        assert derived_group_key("r", {"b": "2", "a": "1"}) == derived_group_key(
            "r", {"a": "1", "b": "2"}
        )


class TestWebhookSummaryAndSeverity:
    def alert(self, labels: dict[str, str], annotations: dict[str, str]) -> Alert:
        body = {
            "receiver": "ops",
            "status": "firing",
            "groupKey": "{}:{}",
            "alerts": [{"status": "firing", "labels": labels, "annotations": annotations}],
        }
        return parse_alertmanager(body).alerts[0]

    def test_summary_falls_back_to_description(self) -> None:
        assert self.alert({"alertname": "A"}, {"description": "Disk full"}).summary == "Disk full"

    def test_then_to_alertname(self) -> None:
        assert self.alert({"alertname": "DiskFull"}, {"summary": " "}).summary == "DiskFull"

    def test_then_to_the_fingerprint(self) -> None:
        alert = self.alert({}, {})

        assert alert.summary == f"Alert {alertmanager_fingerprint({})}"

    def test_zero_start_time_means_unknown(self) -> None:
        body = {
            "receiver": "ops",
            "status": "firing",
            "alerts": [{"status": "firing", "startsAt": "0001-01-01T00:00:00Z"}],
        }

        assert parse_alertmanager(body).alerts[0].started_at is None

    @pytest.mark.parametrize(
        ("label", "severity"),
        [
            ("critical", Severity.CRITICAL),
            ("page", Severity.CRITICAL),
            ("Warning", Severity.WARNING),
            ("error", Severity.ERROR),
            ("info", Severity.INFO),
            ("none", Severity.ERROR),
            (None, Severity.ERROR),
        ],
    )
    def test_severity_label(self, label: str | None, severity: Severity) -> None:
        assert severity_from_label(label) is severity


class TestWebhookRefusals:
    def test_not_an_object(self) -> None:
        assert problems(parse_alertmanager, "[]") == [
            "The body must be a JSON object, not a string"
        ]

    def test_missing_everything(self) -> None:
        assert problems(parse_alertmanager, {}) == [
            "'receiver' is missing or blank",
            "'alerts' is missing",
            "'status' is missing or blank",
        ]

    def test_no_alerts(self) -> None:
        body = {"receiver": "ops", "status": "firing", "alerts": []}

        assert problems(parse_grafana, body) == ["'alerts' holds no alert"]

    def test_each_alert_checked(self) -> None:
        body = {
            "receiver": "ops",
            "status": "pending",
            "truncatedAlerts": -1,
            "alerts": [
                {"status": "firing", "labels": {"severity": 2}, "startsAt": "soon"},
                "not an alert",
                {"status": "silenced", "annotations": []},
            ],
        }

        assert problems(parse_alertmanager, body) == [
            "'alerts[1]' must be an object, not a string",
            "'alerts[0].labels.severity' must be a string, not a number",
            "'alerts[0].startsAt' is not an ISO 8601 date and time: 'soon'",
            "'alerts[2].annotations' must be an object, not an array",
            "'alerts[2].status' is invalid (must be one of the following: 'firing' or 'resolved')",
            "'status' is invalid (must be one of the following: 'firing' or 'resolved')",
            "'truncatedAlerts' must be a whole number, 0 or more",
        ]

    @pytest.mark.parametrize(("sent", "counted"), [(3, 3), (3.0, 3), (0.0, 0)])
    def test_a_whole_number_of_truncated_alerts_is_taken_in_any_json_spelling(
        self, sent: float, counted: int
    ) -> None:
        body = payload("alertmanager/firing_grouped.json") | {"truncatedAlerts": sent}

        assert parse_alertmanager(body).truncated_alerts == counted

    @pytest.mark.parametrize("sent", [2.5, -1.0, float("inf")])
    def test_a_fraction_of_truncated_alerts_is_refused(self, sent: float) -> None:
        body = payload("alertmanager/firing_grouped.json") | {"truncatedAlerts": sent}

        assert problems(parse_alertmanager, body) == [
            "'truncatedAlerts' must be a whole number, 0 or more"
        ]


class TestGrafanaGroupedFiring:
    def test_notification(self) -> None:
        notification = parse_grafana(payload("grafana/firing_grouped.json"))

        assert notification.receiver == "payments-webhook"
        assert notification.group_key == GRAFANA_GROUP
        assert notification.status is AlertStatus.FIRING
        assert notification.external_url == f"{GRAFANA}/"
        assert notification.truncated_alerts == 0
        assert not notification.all_resolved

    def test_alerts(self) -> None:
        body = payload("grafana/firing_grouped.json")

        alerts = parse_grafana(body).alerts

        assert [a.dedup_key for a in alerts] == [GRAFANA_GROUP, GRAFANA_GROUP]
        assert [a.fingerprint for a in alerts] == ["6333f3beef31716f", "f00cadb9a0a5562b"]
        assert [a.started_at for a in alerts] == [
            datetime(2026, 3, 14, 9, 30, 10, tzinfo=UTC),
            datetime(2026, 3, 14, 9, 31, 10, tzinfo=UTC),
        ]
        assert alerts[0].summary == "5xx ratio above 5% for checkout-api"
        assert alerts[0].severity is Severity.CRITICAL
        assert alerts[0].labels == body["alerts"][0]["labels"]
        assert alerts[0].details == body["alerts"][0]["annotations"]
        assert not any(a.test for a in alerts)

    def test_links_to_source_runbook_dashboard_panel_and_silence(self) -> None:
        sent = payload("grafana/firing_grouped.json")["alerts"][0]

        alert = parse_grafana(payload("grafana/firing_grouped.json")).alerts[0]

        assert alert.links == [
            Link(href=sent["generatorURL"], text="Source"),
            Link(href="https://runbooks.example.com/api-5xx", text="Runbook"),
            Link(href=sent["dashboardURL"], text="Dashboard"),
            Link(href=sent["panelURL"], text="Panel"),
            Link(href=sent["silenceURL"], text="Silence"),
        ]

    def test_image_only_where_sent(self) -> None:
        sent = payload("grafana/firing_grouped.json")["alerts"][0]

        alerts = parse_grafana(payload("grafana/firing_grouped.json")).alerts

        assert alerts[0].images == [
            Image(src=sent["imageURL"], href=sent["panelURL"], alt="API 5xx ratio high")
        ]
        assert alerts[1].images == []

    def test_values_left_out_of_the_content(self) -> None:
        body = payload("grafana/firing_grouped.json")
        again = copy.deepcopy(body)
        again["alerts"][0]["values"] = {"A": 0.0999, "B": 0.0999, "C": 1}

        first, second = parse_grafana(body).alerts[0], parse_grafana(again).alerts[0]

        assert first.content_hash == second.content_hash


class TestGrafanaResolved:
    def test_all_resolved(self) -> None:
        notification = parse_grafana(payload("grafana/resolved_all.json"))

        assert notification.status is AlertStatus.RESOLVED
        assert notification.all_resolved
        assert [a.fingerprint for a in notification.alerts] == [
            "6333f3beef31716f",
            "f00cadb9a0a5562b",
        ]


class TestGrafanaTestNotification:
    def test_marked_test(self) -> None:
        notification = parse_grafana(grafana_test_notification())

        assert [a.test for a in notification.alerts] == [True]

    def test_read_like_any_alert(self) -> None:
        alert = parse_grafana(grafana_test_notification()).alerts[0]

        assert alert.summary == "Notification test"
        assert alert.source == "Grafana"
        assert alert.links == [
            Link(
                href=f"{GRAFANA}/alerting/silence/new?matcher=alertname%3DTestAlert", text="Silence"
            )
        ]
        assert alert.started_at == datetime(2026, 3, 14, 10, 0, 0, 123456, tzinfo=UTC)

    def test_a_real_alert_named_like_it_is_not_a_test(self) -> None:
        body = grafana_test_notification()
        body["alerts"][0]["annotations"] = {"summary": "Disk full"}

        assert not parse_grafana(body).alerts[0].test

    def test_alertmanager_has_no_test_notifications(self) -> None:
        assert not parse_alertmanager(grafana_test_notification()).alerts[0].test


class TestUnicode:
    def test_unpaired_surrogates_refused_with_their_place(self) -> None:
        body = json.loads(
            '{"dedup_key": "d", "summary": "lag \\ud800", '
            '"details": {"x": ["ok", "\\udfff"], "\\ud83d": 1}}'
        )

        assert problems(parse_generic, body) == [
            "'summary' is not valid Unicode (unpaired surrogate)",
            "'details.x[1]' is not valid Unicode (unpaired surrogate)",
            "'details.\\ud83d' is not valid Unicode (unpaired surrogate)",
        ]

    def test_pairs_decode_to_one_code_point(self) -> None:
        alert = parse_generic(json.loads('{"dedup_key": "d", "summary": "\\ud83d\\udd25"}'))

        assert alert.summary == "🔥"

    def test_labels_and_keys_in_any_script(self) -> None:
        body = {"dedup_key": "диск/1", "summary": "ディスク満杯", "labels": {"équipe": "paie"}}

        alert = parse_generic(body)

        assert (alert.dedup_key, alert.labels) == ("диск/1", {"équipe": "paie"})


class TestGenericAlert:
    def test_defaults(self) -> None:
        alert = parse_generic({"dedup_key": "backup/nightly", "summary": "Backup failed"})

        assert alert.dedup_key == alert.fingerprint == "backup/nightly"
        assert alert.summary == "Backup failed"
        assert alert.severity is Severity.ERROR
        assert alert.status is AlertStatus.FIRING
        assert alert.source is None
        assert (alert.labels, alert.details, alert.links, alert.images) == ({}, {}, [], [])
        assert not alert.test

    def test_every_field(self) -> None:
        alert = parse_generic(
            {
                "dedup_key": "backup/nightly",
                "summary": "Sauvegarde terminée ✅",
                "severity": "info",
                "source": "backup-01",
                "status": "resolved",
                "details": {"duration_s": 812, "files": ["a", "b"]},
                "labels": {"team": "platform"},
                "links": [{"href": "https://ci.example.com/42", "text": "Job"}],
            }
        )

        assert alert.summary == "Sauvegarde terminée ✅"
        assert alert.severity is Severity.INFO
        assert alert.source == "backup-01"
        assert alert.status is AlertStatus.RESOLVED
        assert alert.details == {"duration_s": 812, "files": ["a", "b"]}
        assert alert.labels == {"team": "platform"}
        assert alert.links == [Link(href="https://ci.example.com/42", text="Job")]

    def test_unknown_field_refused(self) -> None:
        assert problems(parse_generic, {"dedup_key": "d", "summary": "s", "sevrity": "info"}) == [
            "'sevrity' is not a known field (known: dedup_key, summary, severity, source, "
            "status, details, labels, links)"
        ]

    def test_refusals_all_listed(self) -> None:
        body = {
            "dedup_key": "d" * 256,
            "severity": "high",
            "status": "acknowledged",
            "details": "text",
            "labels": {"team": None},
        }

        assert problems(parse_generic, body) == [
            "'dedup_key' is too long (256 characters; at most 255)",
            "'summary' is missing or blank",
            "'severity' is invalid (must be one of the following: "
            "'critical', 'error', 'warning' or 'info')",
            "'status' is invalid (must be one of the following: 'firing' or 'resolved')",
            "'details' must be an object, not a string",
            "'labels.team' must be a string, not null",
        ]

    def test_missing_dedup_key(self) -> None:
        assert problems(parse_generic, {"summary": "s"}) == ["'dedup_key' is missing or blank"]

    def test_not_an_object(self) -> None:
        assert problems(parse_generic, None) == ["The body must be a JSON object, not null"]


DISK_ALERT = {"dedup_key": "d", "summary": "Disk 91% full", "labels": {"host": "a"}}


class TestContentHash:
    def test_same_for_a_repeat(self) -> None:
        assert parse_generic(DISK_ALERT).content_hash == parse_generic(DISK_ALERT).content_hash

    def test_key_order_does_not_matter(self) -> None:
        reordered = {"labels": {"host": "a"}, "summary": "Disk 91% full", "dedup_key": "d"}

        assert parse_generic(reordered).content_hash == parse_generic(DISK_ALERT).content_hash

    @pytest.mark.parametrize(
        "change",
        [
            {"summary": "Disk 97% full"},
            {"status": "resolved"},
            {"severity": "critical"},
            {"labels": {"host": "b"}},
            {"details": {"used": 0.97}},
        ],
    )
    def test_different_for_a_change(self, change: dict[str, Any]) -> None:
        repeat, changed = parse_generic(DISK_ALERT), parse_generic(DISK_ALERT | change)

        assert changed.content_hash != repeat.content_hash
        assert (changed.dedup_key, changed.fingerprint) == (repeat.dedup_key, repeat.fingerprint)

    def test_links_and_start_time_are_not_content(self) -> None:
        body = trigger(timestamp="2026-03-14T09:00:00Z")
        later = trigger(timestamp="2026-03-14T09:05:00Z") | {"links": [{"href": "https://x"}]}

        first = parse_pagerduty_event(body, GENERATED).alert
        second = parse_pagerduty_event(later, GENERATED).alert

        assert first is not None and second is not None
        assert first.content_hash == second.content_hash

    def test_is_sha256_hex(self) -> None:
        content_hash = parse_generic(DISK_ALERT).content_hash

        assert len(content_hash) == 64
        assert int(content_hash, 16) >= 0

    def test_kept_when_read_back(self) -> None:
        alert = parse_generic(DISK_ALERT)

        assert Alert.model_validate_json(alert.model_dump_json()) == alert
