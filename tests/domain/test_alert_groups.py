"""Alert groups: what each alert of an (integration, dedup key) does, and what its
incident is told.

Two kinds of sender meet here. PagerDuty and the generic form send events: each
trigger is news, even an exact repeat, and the alert's fingerprint is its dedup key.
Alertmanager and Grafana send reports of how a group stands now (`report=True`),
with one fingerprint per alert under the group's key, and send them again and again.
"""

from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.alert_groups import (
    MAX_TRACKED_FINGERPRINTS,
    SAMPLE_SIZE,
    AlertAction,
    AlertActivity,
    AlertBatch,
    AlertEnvelope,
    AlertGroup,
    GroupSettings,
    opening_for,
)
from domain.alerts import Alert, AlertStatus, Severity
from domain.incident import Incident
from domain.process import DEFAULT_PROCESS, ProcessDefinition
from domain.roles import Actor, Role
from domain.routing import Classification, Match, Routing, RoutingRule, route
from tests.domain.builders import ESCALATING, T0

SETTINGS = GroupSettings(integration_id=7, integration_uid="0f" * 16, integration_name="prometheus")
GROUP_KEY = '{}:{alertname="ReplicationLag"}'
PD_KEY = "db-1-lag"

STATUS = {
    AlertAction.TRIGGER: AlertStatus.FIRING,
    AlertAction.ACKNOWLEDGE: AlertStatus.ACKNOWLEDGED,
    AlertAction.RESOLVE: AlertStatus.RESOLVED,
}


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def report(
    fingerprint: str,
    action: AlertAction = AlertAction.TRIGGER,
    second: int = 0,
    summary: str = "Replication lag on db-1",
    test: bool = False,
) -> AlertEnvelope:
    """One alert of an Alertmanager group, as its webhook reports it."""
    alert = Alert(
        dedup_key=GROUP_KEY,
        fingerprint=fingerprint,
        status=STATUS[action],
        summary=summary,
        labels={"alertname": "ReplicationLag", "instance": fingerprint},
        test=test,
    )
    return _envelope(alert, action, second, report=True)


def event(
    action: AlertAction = AlertAction.TRIGGER,
    second: int = 0,
    summary: str = "Replication lag on db-1",
    key: str = PD_KEY,
) -> AlertEnvelope:
    """One PagerDuty-style event: the fingerprint is the dedup key."""
    alert = Alert(dedup_key=key, fingerprint=key, status=STATUS[action], summary=summary)
    return _envelope(alert, action, second, report=False)


def _envelope(alert: Alert, action: AlertAction, second: int, report: bool) -> AlertEnvelope:
    return AlertEnvelope(
        alert=alert,
        action=action,
        received_at=at(second),
        decision=route(alert, Routing()),
        report=report,
    )


def group(dedup_key: str = GROUP_KEY, **fields: object) -> AlertGroup:
    return AlertGroup.model_validate(
        {"integration_id": 7, "dedup_key": dedup_key, "settings": SETTINGS} | fields
    )


def send(target: AlertGroup, *envelopes: AlertEnvelope, settings: GroupSettings = SETTINGS) -> int:
    """Accept one batch; returns the number of alerts accepted."""
    batch = AlertBatch(settings=settings, dedup_key=target.dedup_key, envelopes=list(envelopes))
    return target.accept(batch).accepted


def open_incident(target: AlertGroup, first: AlertEnvelope) -> AlertGroup:
    """`first` asks for an incident, and incident 101 is opened for it."""
    send(target, first)
    assert target.needs_incident() == first
    target.opened(101)
    return target


class TestAccept:
    def test_receipt_counts_the_batch_and_names_no_incident_before_one_is_open(self) -> None:
        alerts = group()
        batch = AlertBatch(
            settings=SETTINGS, dedup_key=GROUP_KEY, envelopes=[report("a"), report("b")]
        )

        receipt = alerts.accept(batch)

        assert (receipt.accepted, receipt.incident_id) == (2, None)

    def test_receipt_names_the_open_incident(self) -> None:
        alerts = open_incident(group(), report("a"))
        batch = AlertBatch(
            settings=SETTINGS, dedup_key=GROUP_KEY, envelopes=[report("a", second=5)]
        )

        assert alerts.accept(batch).incident_id == 101

    def test_an_empty_batch_is_refused(self) -> None:
        with pytest.raises(ValidationError):
            AlertBatch(settings=SETTINGS, dedup_key=GROUP_KEY, envelopes=[])

    def test_the_latest_settings_are_kept(self) -> None:
        alerts = group()
        changed = SETTINGS.model_copy(update={"resolve_on_recovery": True})

        send(alerts, report("a"), settings=changed)

        assert alerts.settings.resolve_on_recovery is True

    def test_a_batch_is_taken_in_order(self) -> None:
        alerts = group()

        send(alerts, report("a"), report("a", AlertAction.RESOLVE, second=1))

        assert alerts.firing == {}
        assert (alerts.pending.count, alerts.pending.firing, alerts.pending.recovered) == (
            2,
            0,
            True,
        )


class TestOpeningAnIncident:
    def test_the_first_trigger_asks_for_an_incident(self) -> None:
        alerts = group()
        first = report("a")

        send(alerts, first)

        assert alerts.needs_incident() == first

    def test_later_triggers_while_it_is_being_opened_do_not_ask_again(self) -> None:
        alerts = group()
        first = report("a")
        send(alerts, first)

        send(alerts, report("b", second=1), event(second=2))

        assert alerts.needs_incident() == first

    def test_opened_ends_the_asking(self) -> None:
        alerts = group()
        send(alerts, report("a"))

        alerts.opened(101)

        assert alerts.needs_incident() is None
        assert (alerts.incident_id, alerts.opening, alerts.incidents) == (101, None, [101])

    def test_triggers_to_an_open_incident_do_not_ask(self) -> None:
        alerts = open_incident(group(PD_KEY), event())

        send(alerts, event(second=1), event(second=2))

        assert alerts.needs_incident() is None

    @pytest.mark.parametrize("action", [AlertAction.ACKNOWLEDGE, AlertAction.RESOLVE])
    def test_only_a_trigger_asks(self, action: AlertAction) -> None:
        alerts = group(PD_KEY)

        send(alerts, event(action))

        assert alerts.needs_incident() is None

    def test_the_last_twenty_incidents_are_remembered(self) -> None:
        alerts = group(PD_KEY)

        for incident_id in range(1, 26):
            send(alerts, event(second=incident_id))
            alerts.opened(incident_id)
            alerts.incident_closed(incident_id)

        assert alerts.incidents == list(range(6, 26))


class TestEventsAreEachCounted:
    def test_every_trigger_counts_even_an_exact_repeat(self) -> None:
        alerts = group(PD_KEY)

        send(alerts, event(second=0), event(second=0), event(second=0))

        assert alerts.total == 3
        assert (alerts.pending.count, alerts.pending.firing) == (3, 1)

    def test_first_and_last_seen(self) -> None:
        alerts = group(PD_KEY)

        send(alerts, event(second=3))
        send(alerts, event(second=9), event(second=12))

        assert (alerts.pending.first_seen, alerts.pending.last_seen) == (at(3), at(12))


class TestReportsCountOnlyNews:
    def test_an_identical_report_of_a_firing_alert_is_not_counted_again(self) -> None:
        alerts = group()
        send(alerts, report("a", second=0))

        send(alerts, report("a", second=300))

        assert alerts.total == 1
        assert alerts.pending.count == 1
        assert alerts.pending.last_seen == at(300)

    def test_a_changed_alert_is_counted(self) -> None:
        alerts = group()
        send(alerts, report("a", second=0))

        send(alerts, report("a", second=300, summary="Replication lag on db-1 at 90s"))

        assert alerts.total == 2
        assert (alerts.pending.count, alerts.pending.firing) == (2, 1)
        assert alerts.pending.samples[-1].summary == "Replication lag on db-1 at 90s"

    def test_a_new_alert_of_the_group_is_counted(self) -> None:
        alerts = group()
        send(alerts, report("a"))

        send(alerts, report("a", second=60), report("b", second=60))

        assert alerts.total == 2
        assert alerts.pending.firing == 2

    def test_resolve_of_an_alert_not_firing_is_ignored(self) -> None:
        alerts = open_incident(group(), report("a"))

        send(alerts, report("b", AlertAction.RESOLVE, second=60))

        assert alerts.total == 1
        assert set(alerts.firing) == {"a"}
        assert alerts.pending.recovered is False

    def test_a_resolve_reported_again_is_ignored(self) -> None:
        alerts = open_incident(group(), report("a"))
        send(alerts, report("a", AlertAction.RESOLVE, second=60))

        send(alerts, report("a", AlertAction.RESOLVE, second=360))

        assert alerts.total == 2

    def test_partial_resolves_keep_the_group_firing(self) -> None:
        alerts = group()
        send(alerts, report("a"), report("b"), report("c"))

        send(alerts, report("a", AlertAction.RESOLVE, second=60))
        send(alerts, report("b", AlertAction.RESOLVE, second=120))

        assert set(alerts.firing) == {"c"}
        assert (alerts.pending.firing, alerts.pending.recovered) == (1, False)

    def test_the_last_resolve_recovers_the_group(self) -> None:
        alerts = group()
        send(alerts, report("a"), report("b"))
        send(alerts, report("a", AlertAction.RESOLVE, second=60))

        send(alerts, report("b", AlertAction.RESOLVE, second=120))

        assert alerts.firing == {}
        assert (alerts.pending.firing, alerts.pending.recovered) == (0, True)

    def test_firing_again_after_recovery_takes_the_recovery_back(self) -> None:
        alerts = group()
        send(alerts, report("a"), report("a", AlertAction.RESOLVE, second=60))

        send(alerts, report("a", second=120))

        assert (alerts.pending.firing, alerts.pending.recovered) == (1, False)


class TestEventResolve:
    def test_resolve_of_the_key_clears_everything_firing_under_it(self) -> None:
        # A generic sender's key may have seen alerts under other fingerprints; the
        # resolve of the key itself ends all of them.
        alerts = group(PD_KEY, untracked_firing=2)
        send(alerts, event(), event(second=1))
        other = Alert(
            dedup_key=PD_KEY, fingerprint="db-2", status=AlertStatus.FIRING, summary="db-2 lag"
        )
        send(alerts, _envelope(other, AlertAction.TRIGGER, 2, report=False))
        assert alerts.pending.firing == 4

        send(alerts, event(AlertAction.RESOLVE, second=60))

        assert (alerts.firing, alerts.untracked_firing) == ({}, 0)
        assert (alerts.pending.firing, alerts.pending.recovered) == (0, True)

    def test_resolve_is_counted(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())

        send(alerts, event(AlertAction.RESOLVE, second=60))

        assert (alerts.total, alerts.pending.count) == (2, 2)


class TestAcknowledge:
    def test_acknowledged_while_the_incident_is_being_opened(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())

        send(alerts, event(AlertAction.ACKNOWLEDGE, second=30))

        assert alerts.pending.acknowledged is True

    def test_acknowledged_while_the_incident_is_open(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())
        alerts.opened(101)

        send(alerts, event(AlertAction.ACKNOWLEDGE, second=30))

        assert alerts.pending.acknowledged is True

    def test_not_acknowledged_without_an_incident(self) -> None:
        alerts = group(PD_KEY)

        send(alerts, event(AlertAction.ACKNOWLEDGE))

        assert alerts.pending.acknowledged is False
        assert alerts.needs_incident() is None

    def test_not_acknowledged_after_the_incident_closed(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())
        alerts.opened(101)
        alerts.incident_closed(101)

        send(alerts, event(AlertAction.ACKNOWLEDGE, second=30))

        assert alerts.pending.acknowledged is False

    def test_acknowledge_does_not_stop_the_alert_firing(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())

        send(alerts, event(AlertAction.ACKNOWLEDGE, second=30))

        assert (alerts.pending.firing, alerts.pending.recovered) == (1, False)


class TestGrafanaTestNotifications:
    def test_counted_apart_and_never_ask_for_an_incident(self) -> None:
        alerts = group()

        send(alerts, report("a", test=True, second=4), report("a", test=True, second=9))

        assert (alerts.test_notifications, alerts.last_test_at) == (2, at(9))
        assert alerts.needs_incident() is None
        assert (alerts.total, alerts.firing) == (0, {})
        assert alerts.pending.empty()

    def test_not_passed_on_to_an_open_incident(self) -> None:
        alerts = group()
        send(alerts, report("a"))
        alerts.opened(101)
        assert alerts.take_pending() is not None

        send(alerts, report("b", test=True, second=60))

        assert alerts.take_pending() is None


class TestTakePending:
    def test_returns_what_the_incident_has_not_heard_and_clears_it(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event(second=0), event(second=5))
        alerts.opened(101)

        pending = alerts.take_pending()

        assert pending is not None
        assert (pending.count, pending.first_seen, pending.last_seen) == (2, at(0), at(5))
        assert alerts.pending.empty()
        assert alerts.take_pending() is None

    def test_nothing_while_the_incident_is_still_being_opened(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())

        assert alerts.take_pending() is None
        assert alerts.pending.count == 1  # kept for the incident once it is open

    def test_an_identical_report_alone_is_nothing_to_tell(self) -> None:
        alerts = group()
        send(alerts, report("a"))
        alerts.opened(101)
        alerts.take_pending()

        send(alerts, report("a", second=300))

        assert alerts.take_pending() is None

    def test_a_recovery_alone_is_news(self) -> None:
        alerts = group()
        send(alerts, report("a"))
        alerts.opened(101)
        alerts.take_pending()

        send(alerts, report("a", AlertAction.RESOLVE, second=60))

        pending = alerts.take_pending()
        assert pending is not None
        assert (pending.count, pending.recovered) == (1, True)


class TestIncidentClosed:
    def _closed(self) -> AlertGroup:
        alerts = group()
        send(alerts, report("a"), report("b"))
        alerts.opened(101)
        alerts.incident_closed(101)
        return alerts

    def test_the_group_forgets_the_incident_and_what_fired(self) -> None:
        alerts = self._closed()

        assert (alerts.incident_id, alerts.firing, alerts.untracked_firing) == (None, {}, 0)
        assert alerts.pending.empty()

    def test_the_next_trigger_opens_a_new_incident(self) -> None:
        alerts = self._closed()
        again = report("a", second=600)  # identical to the report before the close

        send(alerts, again)

        assert alerts.needs_incident() == again
        alerts.opened(102)
        assert alerts.incidents == [101, 102]

    def test_closing_another_incident_changes_nothing(self) -> None:
        alerts = group()
        send(alerts, report("a"))
        alerts.opened(101)
        before = alerts.model_copy(deep=True)

        alerts.incident_closed(99)

        assert alerts == before


class TestIncidentGone:
    def test_a_trigger_the_gone_incident_never_heard_opens_a_new_one(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())
        alerts.opened(101)
        later = event(second=60)
        send(alerts, later)
        undelivered = alerts.take_pending()
        assert undelivered is not None

        alerts.incident_gone(101, undelivered)

        assert alerts.incident_id is None
        assert alerts.needs_incident() == later

    def test_a_recovery_the_gone_incident_never_heard_opens_nothing(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())
        alerts.opened(101)
        send(alerts, event(AlertAction.RESOLVE, second=60))
        undelivered = alerts.take_pending()
        assert undelivered is not None

        alerts.incident_gone(101, undelivered)

        assert (alerts.incident_id, alerts.needs_incident()) == (None, None)


class TestHandedBack:
    """Alerts the group passed on before it heard the incident was resolved."""

    def _passed_on(self) -> tuple[AlertGroup, AlertActivity]:
        alerts = group(PD_KEY)
        send(alerts, event())
        alerts.opened(101)
        send(alerts, event(second=60))
        passed = alerts.take_pending()
        assert passed is not None
        return alerts, passed

    def test_still_firing_they_open_a_new_incident(self) -> None:
        alerts, passed = self._passed_on()

        alerts.handed_back(101, passed)

        assert alerts.incident_id is None
        assert alerts.needs_incident() is not None

    def test_after_the_group_heard_of_the_resolution_too(self) -> None:
        alerts, passed = self._passed_on()
        alerts.incident_closed(101)

        alerts.handed_back(101, passed)

        assert alerts.needs_incident() is not None

    def test_an_incident_opened_since_covers_them(self) -> None:
        alerts, passed = self._passed_on()
        alerts.incident_closed(101)
        send(alerts, event(second=120))
        alerts.opened(102)

        alerts.handed_back(101, passed)

        assert (alerts.incident_id, alerts.needs_incident()) == (102, None)


class TestIncidentReopened:
    def test_repeats_reach_the_reopened_incident(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())
        alerts.opened(101)
        alerts.incident_closed(101)

        alerts.incident_reopened(101)
        send(alerts, event(second=60))

        assert alerts.incident_id == 101
        assert alerts.needs_incident() is None
        pending = alerts.take_pending()
        assert pending is not None and pending.count == 1

    def test_ignored_when_a_new_incident_is_being_opened(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())
        alerts.opened(101)
        alerts.incident_closed(101)
        new = event(second=60)
        send(alerts, new)

        alerts.incident_reopened(101)

        assert (alerts.incident_id, alerts.needs_incident()) == (None, new)

    def test_ignored_when_another_incident_is_open(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event())
        alerts.opened(102)

        alerts.incident_reopened(101)

        assert alerts.incident_id == 102


class TestFingerprintTracking:
    def _full(self) -> AlertGroup:
        firing = {f"fp-{n}": "hash" for n in range(MAX_TRACKED_FINGERPRINTS)}
        return group(firing=firing)

    def test_an_alert_beyond_the_limit_is_counted_untracked(self) -> None:
        alerts = self._full()

        send(alerts, report("one-too-many"))

        assert "one-too-many" not in alerts.firing
        assert len(alerts.firing) == MAX_TRACKED_FINGERPRINTS
        assert alerts.untracked_firing == 1
        assert alerts.pending.firing == MAX_TRACKED_FINGERPRINTS + 1

    def test_a_tracked_alert_is_still_followed_when_full(self) -> None:
        alerts = self._full()

        send(alerts, report("fp-3"))

        assert alerts.firing["fp-3"] != "hash"
        assert alerts.untracked_firing == 0

    def test_a_resolve_frees_a_place(self) -> None:
        alerts = self._full()
        send(alerts, report("fp-3", AlertAction.RESOLVE))

        send(alerts, report("new"))

        assert "new" in alerts.firing
        assert alerts.untracked_firing == 0

    def test_resolve_of_the_key_clears_the_untracked_too(self) -> None:
        alerts = group(PD_KEY, firing={f"fp-{n}": "h" for n in range(MAX_TRACKED_FINGERPRINTS)})
        send(alerts, event())
        assert alerts.untracked_firing == 1

        send(alerts, event(AlertAction.RESOLVE, second=60))

        assert (alerts.firing, alerts.untracked_firing, alerts.pending.firing) == ({}, 0, 0)


class TestSamples:
    def test_only_the_latest_few_are_kept(self) -> None:
        alerts = group(PD_KEY)

        for n in range(SAMPLE_SIZE + 3):
            send(alerts, event(second=n, summary=f"lag {n}s"))

        assert alerts.pending.count == SAMPLE_SIZE + 3
        assert [s.summary for s in alerts.pending.samples] == [
            f"lag {n}s" for n in range(3, SAMPLE_SIZE + 3)
        ]

    def test_a_sample_says_what_the_alert_was(self) -> None:
        alerts = group()

        send(alerts, report("a", second=7))

        [sample] = alerts.pending.samples
        assert (sample.summary, sample.status, sample.severity, sample.fingerprint) == (
            "Replication lag on db-1",
            AlertStatus.FIRING,
            Severity.ERROR,
            "a",
        )
        assert sample.received_at == at(7)


class TestStateSurvivesContinueAsNew:
    def _busy(self) -> AlertGroup:
        alerts = group()
        send(alerts, report("a"), report("b"), report("t", test=True))
        alerts.opened(101)
        alerts.take_pending()
        send(alerts, report("b", AlertAction.RESOLVE, second=60), report("c", second=60))
        send(alerts, report("d", second=61))
        return alerts

    def test_json_round_trip_gives_an_equal_group(self) -> None:
        alerts = self._busy()

        assert AlertGroup.model_validate_json(alerts.model_dump_json()) == alerts

    def test_round_trip_while_an_incident_is_being_opened(self) -> None:
        alerts = group()
        send(alerts, report("a"))

        carried = AlertGroup.model_validate_json(alerts.model_dump_json())

        assert carried == alerts
        assert carried.needs_incident() == alerts.needs_incident()

    def test_carried_group_still_knows_what_fires(self) -> None:
        carried = AlertGroup.model_validate_json(self._busy().model_dump_json())
        total = carried.total

        send(carried, report("a", second=300))  # identical: not news

        assert carried.total == total


# A process with a category, services and a policy routing may name, or not.
PROCESS = ProcessDefinition(
    services=["checkout", "ledger"],
    escalation_policies=ESCALATING.escalation_policies,
)


def opening_alert(summary: str = "Replication lag on db-1", **labels: str) -> Alert:
    return Alert(
        dedup_key=PD_KEY,
        fingerprint=PD_KEY,
        status=AlertStatus.FIRING,
        summary=summary,
        source="db-1.prod",
        severity=Severity.CRITICAL,
        labels=labels,
    )


def routed(alert: Alert, **classification: object) -> AlertEnvelope:
    rules = [
        RoutingRule(match=Match(), set=Classification.model_validate(classification)),
    ]
    decision = route(alert, Routing(rules=rules))
    return AlertEnvelope(alert=alert, action=AlertAction.TRIGGER, received_at=T0, decision=decision)


class TestOpeningFor:
    def test_title_is_the_summary_with_whitespace_collapsed(self) -> None:
        envelope = routed(opening_alert("  Replication\n\tlag   on db-1 "))

        assert opening_for(envelope, PROCESS).request.title == "Replication lag on db-1"

    def test_title_of_200_characters_is_kept(self) -> None:
        envelope = routed(opening_alert("x" * 200))

        assert opening_for(envelope, PROCESS).request.title == "x" * 200

    def test_longer_title_is_cut_to_200_with_an_ellipsis(self) -> None:
        envelope = routed(opening_alert("x" * 150 + " " + "y" * 150))

        title = opening_for(envelope, PROCESS).request.title
        assert len(title) == 200
        assert title == "x" * 150 + " " + "y" * 48 + "…"

    def test_a_blank_summary_gives_a_plain_title(self) -> None:
        envelope = routed(opening_alert("   "))

        assert opening_for(envelope, PROCESS).request.title == "Alert"

    def test_impact_and_urgency_come_from_the_decision(self) -> None:
        envelope = routed(opening_alert(), impact=3, urgency=2)

        request = opening_for(envelope, PROCESS).request

        assert (request.impact, request.urgency) == (3, 2)

    def test_severity_decides_when_no_rule_does(self) -> None:
        envelope = routed(opening_alert())  # critical

        request = opening_for(envelope, PROCESS).request

        assert (request.impact, request.urgency) == (1, 1)

    def test_description_names_the_summary_source_and_labels(self) -> None:
        envelope = routed(opening_alert(team="db", env="prod"))

        description = opening_for(envelope, PROCESS).request.description

        assert description == "Replication lag on db-1\nSource: db-1.prod\nenv: prod\nteam: db"

    def test_known_classification_is_kept_without_problems(self) -> None:
        envelope = routed(
            opening_alert(), category="database", service="ledger", escalation_policy="ops"
        )

        opening = opening_for(envelope, PROCESS)

        assert (opening.request.category, opening.request.service) == ("database", "ledger")
        assert (opening.routed_policy, opening.problems) == ("ops", [])

    def test_unknown_category_is_left_out_with_a_problem(self) -> None:
        opening = opening_for(routed(opening_alert(), category="payments"), PROCESS)

        assert opening.request.category is None
        assert opening.problems == ["routed category 'payments' is not in the process; left out"]

    def test_unknown_service_is_left_out_with_a_problem(self) -> None:
        opening = opening_for(routed(opening_alert(), service="search"), PROCESS)

        assert opening.request.service is None
        assert opening.problems == ["routed service 'search' is not in the process; left out"]

    def test_any_service_is_kept_when_the_process_lists_none(self) -> None:
        opening = opening_for(routed(opening_alert(), service="search"), DEFAULT_PROCESS)

        assert (opening.request.service, opening.problems) == ("search", [])

    @pytest.mark.parametrize("service", ["", "   ", "s" * 201], ids=["empty", "blank", "long"])
    def test_a_service_no_declaration_takes_is_left_out(self, service: str) -> None:
        opening = opening_for(routed(opening_alert(), service=service), DEFAULT_PROCESS)

        assert opening.request.service is None
        assert opening.problems == ["routed service is blank or over 200 characters; left out"]

    def test_unknown_policy_is_left_out_with_a_problem(self) -> None:
        opening = opening_for(routed(opening_alert(), escalation_policy="db-oncall"), PROCESS)

        assert opening.routed_policy is None
        assert opening.problems == [
            "routed escalation policy 'db-oncall' is not in the process; left out"
        ]

    def test_each_unknown_is_its_own_problem(self) -> None:
        envelope = routed(
            opening_alert(), category="payments", service="search", escalation_policy="db-oncall"
        )

        assert len(opening_for(envelope, PROCESS).problems) == 3

    def test_the_opening_declares_under_the_process(self) -> None:
        envelope = routed(
            opening_alert(), category="payments", service="search", escalation_policy="db-oncall"
        )
        opening = opening_for(envelope, PROCESS)
        actor = Actor(name="integration:prometheus", roles=frozenset({Role.RESPONDER}))

        incident = Incident.declare(
            101, opening.request, actor, T0, PROCESS, routed_policy=opening.routed_policy
        )

        assert incident.title == "Replication lag on db-1"


class TestOpeningNews:
    """Groups of revision 3 start their incident from a local activity, which a retried
    workflow task runs again after hearing more alerts: the declaration must carry the
    same news on every attempt, so it is what the batch that asked for the incident
    held, and what comes later waits for the first signal to the open incident."""

    def test_the_batch_that_asks_for_the_incident_is_its_declaration(self) -> None:
        alerts = group(PD_KEY)
        alerts.hold_opening_news()
        send(alerts, event(AlertAction.ACKNOWLEDGE, second=0), event(second=1), event(second=2))
        send(alerts, event(second=3))
        send(alerts, event(AlertAction.RESOLVE, second=4))

        declared = alerts.hand_over()

        assert (declared.count, declared.first_seen, declared.last_seen) == (3, at(0), at(2))
        assert (declared.firing, declared.recovered) == (1, False)
        assert alerts.needs_incident() is not None  # still to be opened
        alerts.opened(101)
        later = alerts.take_pending()
        assert later is not None
        assert (later.count, later.first_seen, later.last_seen) == (2, at(3), at(4))
        assert (later.firing, later.recovered) == (0, True)

    def test_the_same_declaration_however_much_came_after(self) -> None:
        first_attempt, retry = group(PD_KEY), group(PD_KEY)
        for alerts in (first_attempt, retry):
            alerts.hold_opening_news()
            send(alerts, event(second=0))
        for second in range(1, 20):
            send(retry, event(second=second))

        assert first_attempt.hand_over() == retry.hand_over()
        assert retry.pending.count == 19

    def test_alerts_heard_while_the_incident_starts_reach_it_in_its_first_signal(
        self,
    ) -> None:
        # Revision 4: a start that outlives its local attempt runs as a regular activity,
        # and the group hears more alerts before the incident is opened.
        alerts = group(PD_KEY)
        alerts.hold_opening_news()
        send(alerts, event(second=0))

        declared = alerts.hand_over(until_opened=True)
        for second in range(1, 10):
            send(alerts, event(second=second))
        alerts.opened(101)

        later = alerts.take_pending()
        assert declared.count == 1
        assert later is not None
        assert later.count == 9  # every one of them, none held for an opening now past
        assert alerts.opening_news is None

    def test_an_incident_asked_for_before_holding_gets_what_is_pending(self) -> None:
        # A group of revision 2 continued as new while its incident was being asked for.
        alerts = group(PD_KEY)
        send(alerts, event(second=0), event(second=1))

        alerts.hold_opening_news()
        send(alerts, event(second=2))

        assert alerts.hand_over().count == 2
        assert alerts.pending.count == 1

    def test_a_gone_incident_reopens_with_nothing_held(self) -> None:
        alerts = open_incident(group(PD_KEY), event(second=0))
        alerts.hold_opening_news()
        alerts.take_pending()
        undelivered = AlertActivity(count=1, firing=1)

        alerts.incident_gone(101, undelivered)
        send(alerts, event(second=9))

        assert alerts.needs_incident() is not None
        assert alerts.hand_over().empty()
        assert alerts.pending.count == 1

    def test_groups_that_hold_nothing_declare_everything_heard(self) -> None:
        alerts = group(PD_KEY)
        send(alerts, event(second=0))
        send(alerts, event(second=1))

        assert alerts.hand_over().count == 2
        assert alerts.pending.empty()
