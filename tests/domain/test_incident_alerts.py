"""What an incident opened by an alert does with news from its alert group."""

from datetime import timedelta

import pytest

from domain.alert_groups import (
    AlertAction,
    AlertActivity,
    AlertBatch,
    AlertEnvelope,
    AlertGroup,
    AlertSource,
    GroupSettings,
    opening_for,
)
from domain.alerts import Alert, AlertStatus
from domain.incident import Incident
from domain.incident_alerts import hear_alerts
from domain.lifecycle import IncidentState, Step
from domain.process import ProcessDefinition
from domain.roles import Actor, Role
from domain.routing import Routing, route
from domain.sla import ClockName, ClockState
from domain.timeline import EventKind, TimelineEvent
from tests.domain.builders import ALICE, T0, at, declare, take

S = IncidentState
SOURCE = AlertSource(
    integration_id=7,
    integration_name="prometheus",
    dedup_key="db-1-lag",
    group_workflow_id="alerts-7-abc",
)
SETTINGS = GroupSettings(integration_id=7, integration_uid="0f" * 16, integration_name="prometheus")
SOURCE_ACTOR = Actor(name="integration:prometheus", roles=frozenset({Role.RESPONDER}))
STATUS = {
    AlertAction.TRIGGER: AlertStatus.FIRING,
    AlertAction.ACKNOWLEDGE: AlertStatus.ACKNOWLEDGED,
    AlertAction.RESOLVE: AlertStatus.RESOLVED,
}


def event(
    action: AlertAction = AlertAction.TRIGGER, minute: int = 0, summary: str = "Lag on db-1"
) -> AlertEnvelope:
    alert = Alert(
        dedup_key=SOURCE.dedup_key,
        fingerprint=SOURCE.dedup_key,
        status=STATUS[action],
        summary=summary,
    )
    return AlertEnvelope(
        alert=alert,
        action=action,
        received_at=at(minute),
        decision=route(alert, Routing()),
    )


class Source:
    """The alert group feeding one incident, as the group workflow drives it."""

    def __init__(self, process: ProcessDefinition | None = None) -> None:
        self.group = AlertGroup(integration_id=7, dedup_key=SOURCE.dedup_key, settings=SETTINGS)
        process = process or ProcessDefinition()
        first = event()
        self.send(first)
        opening = opening_for(first, process)
        self.incident = Incident.declare(
            42, opening.request, SOURCE_ACTOR, T0, process, source=SOURCE
        )
        self.group.opened(self.incident.id)

    def send(self, *envelopes: AlertEnvelope) -> None:
        batch = AlertBatch(settings=SETTINGS, dedup_key=SOURCE.dedup_key, envelopes=[*envelopes])
        self.group.accept(batch)

    def pass_on(self, minute: int, resolve_on_recovery: bool = False) -> list[TimelineEvent]:
        activity = self.group.take_pending()
        assert activity is not None, "nothing to pass on"
        return hear_alerts(self.incident, activity, resolve_on_recovery, at(minute))


def kinds(events: list[TimelineEvent]) -> list[EventKind]:
    return [e.kind for e in events]


class TestAlertsReceived:
    def test_one_event_per_call_however_many_alerts(self) -> None:
        source = Source()
        source.send(event(minute=1), event(minute=2, summary="Lag on db-1 at 90s"))

        [received] = source.pass_on(3)

        assert (received.kind, received.actor, received.at) == (
            EventKind.ALERTS_RECEIVED,
            "integration:prometheus",
            at(3),
        )
        assert received.details == {
            "new_alerts": 3,
            "total": 3,
            "firing": 1,
            "last_seen": at(2).isoformat(),
            "last_summary": "Lag on db-1 at 90s",
        }

    def test_totals_add_up_across_calls(self) -> None:
        source = Source()
        source.pass_on(1)
        source.send(event(minute=2), event(minute=3))

        [received] = source.pass_on(4)

        assert (received.details["new_alerts"], received.details["total"]) == (2, 3)
        assert source.incident.alerts is not None
        assert source.incident.alerts.count == 3
        assert (source.incident.alerts.first_seen, source.incident.alerts.last_seen) == (
            at(0),
            at(3),
        )

    def test_counting_changes_no_state(self) -> None:
        source = Source()

        source.pass_on(1)

        assert source.incident.state is S.DETECTED
        assert source.incident.acknowledged_at is None

    def test_no_event_without_new_alerts(self) -> None:
        source = Source()
        source.pass_on(1)

        events = hear_alerts(source.incident, AlertActivity(), False, at(2))

        assert events == []
        assert source.incident.seq == 2


class TestAcknowledgeFromTheSource:
    def test_the_real_acknowledge_step_is_taken_by_the_integration(self) -> None:
        source = Source()
        source.send(event(AlertAction.ACKNOWLEDGE, minute=4))

        received, acknowledged = source.pass_on(5)

        assert received.kind is EventKind.ALERTS_RECEIVED
        assert (acknowledged.kind, acknowledged.actor) == (
            EventKind.ACKNOWLEDGED,
            "integration:prometheus",
        )
        assert source.incident.state is S.ACKNOWLEDGED
        assert source.incident.acknowledged_at == at(5)

    def test_the_acknowledge_clock_is_met(self) -> None:
        source = Source()
        source.send(event(AlertAction.ACKNOWLEDGE, minute=4))

        source.pass_on(5)

        ack = source.incident.watch.clock(ClockName.ACKNOWLEDGE)
        assert ack is not None
        assert (ack.state, ack.met_at) == (ClockState.MET, at(5))

    def test_already_acknowledged_is_ignored_with_the_reason(self) -> None:
        source = Source()
        take(source.incident, Step.ACKNOWLEDGE, ALICE)
        before = source.incident.model_copy(deep=True)
        source.send(event(AlertAction.ACKNOWLEDGE, minute=4))

        events = source.pass_on(5)

        ignored = events[-1]
        assert (ignored.kind, ignored.actor) == (
            EventKind.SOURCE_STEP_IGNORED,
            "integration:prometheus",
        )
        assert ignored.details["step"] == "acknowledge"
        assert ignored.details["ignored"].startswith(
            "cannot acknowledge an incident that is acknowledged"
        )
        incident = source.incident
        assert (incident.state, incident.acknowledged_at) == (
            S.ACKNOWLEDGED,
            before.acknowledged_at,
        )
        assert incident.responders == before.responders
        assert incident.watch == before.watch

    def test_acknowledged_by_a_person_in_between_is_ignored(self) -> None:
        source = Source()
        source.send(event(AlertAction.ACKNOWLEDGE, minute=4))
        take(source.incident, Step.ACKNOWLEDGE, ALICE)

        events = source.pass_on(5)

        assert kinds(events) == [EventKind.ALERTS_RECEIVED, EventKind.SOURCE_STEP_IGNORED]
        assert source.incident.timeline[-3].actor == "alice"


class TestRecovery:
    def test_recovery_is_noted_and_the_incident_left_open(self) -> None:
        source = Source()
        source.send(event(AlertAction.RESOLVE, minute=10))

        received, recovered = source.pass_on(11)

        assert received.details["firing"] == 0
        assert (recovered.kind, recovered.actor, recovered.details) == (
            EventKind.SOURCE_RECOVERED,
            "integration:prometheus",
            {"resolves_incident": False},
        )
        assert source.incident.state is S.DETECTED
        assert source.incident.alerts is not None
        assert source.incident.alerts.recovered is True

    @pytest.mark.parametrize("state", [S.DETECTED, S.TRIAGED, S.ACKNOWLEDGED])
    def test_resolve_on_recovery_resolves_the_incident(self, state: IncidentState) -> None:
        source = Source()
        if state is not S.DETECTED:
            take(source.incident, Step.TRIAGE if state is S.TRIAGED else Step.ACKNOWLEDGE)
        source.send(event(AlertAction.RESOLVE, minute=10))

        *_, recovered, resolved = source.pass_on(11, resolve_on_recovery=True)

        assert recovered.details == {"resolves_incident": True}
        assert (resolved.kind, resolved.actor) == (EventKind.RESOLVED, "integration:prometheus")
        incident = source.incident
        assert (incident.state, incident.resolved_at) == (S.RESOLVED, at(11))
        assert incident.resolution is not None
        assert incident.resolution.root_cause_category == "unknown"
        assert incident.resolution.summary == "prometheus reported that every alert recovered."
        assert incident.resolution.resolved_by == "integration:prometheus"

    def test_resolved_before_anyone_acknowledged_pauses_the_acknowledge_clock(self) -> None:
        source = Source()
        source.send(event(AlertAction.RESOLVE, minute=10))

        source.pass_on(11, resolve_on_recovery=True)

        incident = source.incident
        ack = incident.watch.clock(ClockName.ACKNOWLEDGE)
        assert ack is not None
        assert (ack.state, ack.banked) == (ClockState.PAUSED, timedelta(minutes=11))
        assert incident.acknowledged_at is None
        later = incident.fire_due(T0 + timedelta(days=30))
        assert [e.details["clock"] for e in later] == ["review"]

    def test_a_process_without_unknown_gets_its_last_root_cause(self) -> None:
        process = ProcessDefinition(root_cause_categories=["change", "other"])
        source = Source(process)
        source.send(event(AlertAction.RESOLVE, minute=10))

        source.pass_on(11, resolve_on_recovery=True)

        assert source.incident.resolution is not None
        assert source.incident.resolution.root_cause_category == "other"

    def test_resolve_not_possible_on_hold_is_ignored_with_the_reason(self) -> None:
        source = Source()
        take(source.incident, Step.ACKNOWLEDGE)
        take(source.incident, Step.HOLD)
        source.send(event(AlertAction.RESOLVE, minute=10))

        *_, ignored = source.pass_on(11, resolve_on_recovery=True)

        assert ignored.kind is EventKind.SOURCE_STEP_IGNORED
        assert ignored.details["step"] == "resolve"
        assert ignored.details["ignored"].startswith("cannot resolve an incident that is on hold")
        assert (source.incident.state, source.incident.resolution) == (S.ON_HOLD, None)

    def test_acknowledge_and_recovery_together_acknowledge_then_resolve(self) -> None:
        source = Source()
        source.send(event(AlertAction.ACKNOWLEDGE, minute=4), event(AlertAction.RESOLVE, minute=9))

        events = source.pass_on(10, resolve_on_recovery=True)

        assert kinds(events) == [
            EventKind.ALERTS_RECEIVED,
            EventKind.ACKNOWLEDGED,
            EventKind.SOURCE_RECOVERED,
            EventKind.RESOLVED,
        ]
        assert source.incident.acknowledged_at == at(10)

    def test_firing_again_takes_the_recovery_back(self) -> None:
        source = Source()
        source.send(event(AlertAction.RESOLVE, minute=10))
        source.pass_on(11)
        source.send(event(minute=12))

        source.pass_on(13)

        assert source.incident.alerts is not None
        assert (source.incident.alerts.recovered, source.incident.alerts.firing) == (False, 1)


class TestIncidentWithoutASource:
    def test_news_is_ignored(self) -> None:
        incident = declare()
        before = incident.model_copy(deep=True)
        news = AlertActivity(count=3, firing=0, recovered=True, acknowledged=True)

        events = hear_alerts(incident, news, True, at(5))

        assert events == []
        assert incident == before
        assert incident.alerts is None


class TestDeclaredWithASource:
    def test_the_source_and_empty_stats_are_kept(self) -> None:
        source = Source()

        assert source.incident.source == SOURCE
        assert source.incident.alerts is not None
        assert source.incident.alerts.count == 0

    def test_json_round_trip_keeps_the_source_and_stats(self) -> None:
        source = Source()
        source.send(event(minute=1))
        source.pass_on(2)

        carried = Incident.model_validate_json(source.incident.model_dump_json())

        assert carried == source.incident
