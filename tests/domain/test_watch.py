"""What runs on its own while an incident is open, driven through the incident as the
workflow drives it: steps, `due_at`, `fire_due` and `record_delivery`.

The incident is declared on Monday 3 March 2025 at 09:00 UTC (T0); every instant
below is worked out by hand from that. Unless a test says otherwise it is a P1,
whose clocks are 2h to acknowledge and 8h to resolve, around the clock.
"""

from datetime import datetime, timedelta
from typing import Any

import pytest

from domain.channels import DeliveryOutcome, DeliveryResult, NotificationKind
from domain.errors import StepNotAllowed
from domain.escalation import StopWhen
from domain.incident import Incident
from domain.lifecycle import IncidentState, Step
from domain.priority import Priority
from domain.process import ProcessDefinition
from domain.requests import AssignRequest, StepRequest, TriageRequest
from domain.roles import Actor
from domain.sla import ClockName, ClockState, SlaClock
from domain.timeline import EventKind, TimelineEvent
from tests.domain.builders import ADA, ALICE, BOB, REQUESTS, T0, declare

S = IncidentState
P = Priority
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)

ALICE_SMS = "alice:sms:+4790000001"
BOB_EMAIL = "bob:email:bob@example.com"
BOB_SMS = "bob:sms:+4790000002"
CAROL_SMS = "carol:sms:+4790000003"
OPS = "-:ops:-"

_PROCESS: dict[str, Any] = {
    "people": {
        "alice": {"notify": [{"channel": "sms", "address": "+4790000001"}]},
        "bob": {
            "notify": [
                {"channel": "email", "address": "bob@example.com"},
                {"channel": "sms", "address": "+4790000002"},
            ]
        },
        "carol": {"notify": [{"channel": "sms", "address": "+4790000003"}]},
    },
    "schedules": {
        # carol's turn runs all of Monday 3 March.
        "primary": {
            "name": "Primary",
            "rotations": [{"members": ["carol"], "length": "1d", "handoff": "2025-03-03T00:00Z"}],
        },
        # Starts in April: nobody is on call in March.
        "night": {
            "name": "Night",
            "rotations": [{"members": ["erin"], "length": "1d", "handoff": "2025-04-01T00:00Z"}],
        },
        # dave has no entry under people.
        "backup": {
            "name": "Backup",
            "rotations": [{"members": ["dave"], "length": "1w", "handoff": "2025-03-01T00:00Z"}],
        },
    },
    "escalation_policies": {
        # alice, 5m later bob, 10m later the primary schedule; then once more from bob.
        "page": {
            "levels": [
                {"targets": [{"user": "alice"}], "delay": "5m"},
                {"targets": [{"user": "bob"}], "delay": "10m"},
                {"targets": [{"schedule": "primary"}], "delay": "15m"},
            ],
            "repeat": 1,
            "repeat_from_level": 2,
        },
        # "Tell ops if not resolved within an hour."
        "unresolved": {
            "levels": [{"targets": [{"channel": "ops"}], "delay": "30m"}],
            "start_after": "1h",
            "stop_when": "resolved",
        },
        "gaps": {
            "levels": [
                {"targets": [{"schedule": "night"}, {"user": "alice"}], "delay": "5m"},
                {"targets": [{"schedule": "backup"}]},
            ]
        },
    },
    "escalation": {"P1": ["page"]},
    "sla": {
        "targets": {
            "P1": {"acknowledge": "2h", "resolve": "8h", "review": "5d"},
            "P2": {"acknowledge": "4h", "resolve": "1d", "review": "5d"},
            "P3": {"acknowledge": "8h", "resolve": "3d", "review": "10d"},
        }
    },
    "sla_notify": [{"channel": "ops"}],
}


def process(**overrides: Any) -> ProcessDefinition:
    return ProcessDefinition.model_validate(_PROCESS | overrides)


PAGING = process()
UNRESOLVED = process(escalation={"P1": ["unresolved"]})
GAPS = process(escalation={"P1": ["gaps"]})
QUIET = process(escalation={})  # clocks only


def act(
    incident: Incident,
    step: Step,
    now: datetime,
    actor: Actor = ALICE,
    request: StepRequest | None = None,
) -> TimelineEvent:
    return incident.apply(step, REQUESTS[step] if request is None else request, actor, now)


def outbox_keys(incident: Incident) -> list[str]:
    return [entry.delivery.notification.idempotency_key for entry in incident.watch.outbox]


def wake_until(incident: Incident, end: datetime) -> list[TimelineEvent]:
    """Wake at each instant something falls due, up to `end`, as the workflow does;
    deliveries count as under way, so only clocks and escalations wake it."""
    events: list[TimelineEvent] = []
    while (due := incident.due_at(set(outbox_keys(incident)))) is not None and due <= end:
        fired = incident.fire_due(due)
        assert fired, f"woken at {due} for nothing"
        events += fired
    return events


def pages(events: list[TimelineEvent]) -> list[tuple[datetime, int, int]]:
    """(when, round, level) of each page."""
    return [
        (e.at, e.details["round"], e.details["level"]) for e in events if e.kind is EventKind.PAGED
    ]


def clock(incident: Incident, name: ClockName) -> SlaClock:
    found = incident.watch.clock(name)
    assert found is not None
    return found


def deadline(incident: Incident, name: ClockName) -> datetime | None:
    found = clock(incident, name)
    return found.deadline(incident.process.calendar(found.calendar))


def result(outcome: DeliveryOutcome, **fields: Any) -> DeliveryResult:
    return DeliveryResult.model_validate({"outcome": outcome, "detail": "test"} | fields)


class TestUnacknowledgedIncidentIsPaged:
    def test_level_one_is_paged_at_once(self) -> None:
        incident = declare(1, 1, PAGING)

        assert incident.due_at(set()) == T0
        [event] = incident.fire_due(T0)

        assert (event.kind, event.actor, event.at, event.seq) == (EventKind.PAGED, "vagt", T0, 2)
        assert event.details == {
            "policy": "page",
            "round": 1,
            "level": 1,
            "targets": ["user:alice"],
            "notified": [ALICE_SMS],
            "problems": [],
        }

    def test_levels_follow_at_their_delays_then_repeat_from_the_chosen_level(self) -> None:
        incident = declare(1, 1, PAGING)

        events = wake_until(incident, T0 + 2 * HOUR - SECOND)

        # alice 09:00, bob 09:05, the schedule 09:15; its 15m delay leads to round 2
        # from bob at 09:30, the schedule at 09:40; then the policy is exhausted. The
        # acknowledge clock's first warning (1h, 10:00) is the only other thing due.
        assert pages(events) == [
            (T0, 1, 1),
            (T0 + 5 * MINUTE, 1, 2),
            (T0 + 15 * MINUTE, 1, 3),
            (T0 + 30 * MINUTE, 2, 2),
            (T0 + 40 * MINUTE, 2, 3),
        ]
        assert incident.watch.escalations[0].exhausted

    def test_each_level_reaches_its_people(self) -> None:
        incident = declare(1, 1, PAGING)

        events = wake_until(incident, T0 + 15 * MINUTE)

        # The primary schedule has carol on call all Monday.
        assert [e.details["notified"] for e in events] == [
            [ALICE_SMS],
            [BOB_EMAIL, BOB_SMS],
            [CAROL_SMS],
        ]

    def test_a_late_wake_pages_every_level_that_fell_due(self) -> None:
        incident = declare(1, 1, PAGING)

        events = incident.fire_due(T0 + 20 * MINUTE)

        assert [(e.details["round"], e.details["level"]) for e in events] == [
            (1, 1),
            (1, 2),
            (1, 3),
        ]
        assert incident.watch.escalations[0].next_at == T0 + 30 * MINUTE

    def test_nothing_is_due_before_its_time(self) -> None:
        incident = declare(1, 1, PAGING)
        incident.fire_due(T0)

        assert incident.fire_due(T0 + 5 * MINUTE - SECOND) == []
        assert incident.due_at(set(outbox_keys(incident))) == T0 + 5 * MINUTE


class TestAcknowledgingStopsThePaging:
    def _acknowledged_after_bob_was_paged(self) -> Incident:
        incident = declare(1, 1, PAGING)
        wake_until(incident, T0 + 5 * MINUTE)
        act(incident, Step.ACKNOWLEDGE, T0 + 7 * MINUTE, BOB)
        return incident

    def test_no_more_pages(self) -> None:
        incident = self._acknowledged_after_bob_was_paged()

        # The resolve clock's first warning, 4h after 09:00, is all that is left.
        assert incident.due_at(set(outbox_keys(incident))) == T0 + 4 * HOUR
        assert pages(wake_until(incident, T0 + 4 * HOUR)) == []
        assert incident.watch.escalations[0].stopped

    def test_acknowledge_clock_is_met_with_the_time_it_took(self) -> None:
        incident = self._acknowledged_after_bob_was_paged()

        ack = clock(incident, ClockName.ACKNOWLEDGE)
        assert ack.state is ClockState.MET
        assert (ack.met_at, ack.banked) == (T0 + 7 * MINUTE, 7 * MINUTE)

    def test_acknowledged_before_it_starts_pages_nobody(self) -> None:
        incident = declare(1, 1, PAGING)

        act(incident, Step.ACKNOWLEDGE, T0)

        assert incident.fire_due(T0 + HOUR) == []

    def test_resolve_clock_keeps_running(self) -> None:
        incident = self._acknowledged_after_bob_was_paged()

        assert clock(incident, ClockName.RESOLVE).state is ClockState.RUNNING
        assert deadline(incident, ClockName.RESOLVE) == T0 + 8 * HOUR


class TestEscalateIfNotResolvedWithin:
    def test_pages_when_still_unresolved_after_start_after(self) -> None:
        incident = declare(1, 1, UNRESOLVED)
        act(incident, Step.ACKNOWLEDGE, T0 + 10 * MINUTE)  # does not stop this policy

        events = wake_until(incident, T0 + 3 * HOUR)

        [event] = events
        assert event.at == T0 + HOUR
        assert (event.details["policy"], event.details["targets"]) == (
            "unresolved",
            ["channel:ops"],
        )
        assert event.details["notified"] == [OPS]

    def test_resolving_in_time_pages_nobody(self) -> None:
        incident = declare(1, 1, UNRESOLVED)
        act(incident, Step.ACKNOWLEDGE, T0 + 10 * MINUTE)
        act(incident, Step.RESOLVE, T0 + 50 * MINUTE)

        assert pages(wake_until(incident, T0 + 3 * HOUR)) == []
        [run] = incident.watch.escalations
        assert (run.stop_when, run.stopped) == (StopWhen.RESOLVED, True)


class TestResolvedWithoutAcknowledgement:
    """A false alarm resolved at 09:30 before anyone acknowledged it: the acknowledge
    clock stops where it stood, neither met nor breached, and nobody is paged."""

    def _resolved(self, via: IncidentState, escalation: str = "page") -> Incident:
        incident = declare(1, 1, process(escalation={"P1": [escalation]}))
        if via is S.TRIAGED:
            act(incident, Step.TRIAGE, T0 + 10 * MINUTE)  # stays P1
        act(incident, Step.RESOLVE, T0 + 30 * MINUTE, BOB)
        return incident

    @pytest.mark.parametrize("via", [S.DETECTED, S.TRIAGED])
    def test_acknowledge_clock_is_paused_with_the_time_it_ran(self, via: IncidentState) -> None:
        incident = self._resolved(via)

        ack = clock(incident, ClockName.ACKNOWLEDGE)
        assert ack.state is ClockState.PAUSED
        assert (ack.met_at, ack.breached_at) == (None, None)
        assert ack.banked == 30 * MINUTE
        assert deadline(incident, ClockName.ACKNOWLEDGE) is None

    @pytest.mark.parametrize("via", [S.DETECTED, S.TRIAGED])
    def test_acknowledge_clock_never_breaches_later(self, via: IncidentState) -> None:
        incident = self._resolved(via)

        events = incident.fire_due(T0 + 30 * 24 * HOUR)

        # Long past the 2h target: only the review clock (5d from 09:30) sounds.
        assert [(e.kind, e.details["clock"]) for e in events] == [
            (EventKind.SLA_BREACHED, "review")
        ]
        assert clock(incident, ClockName.ACKNOWLEDGE).state is ClockState.PAUSED

    def test_next_wake_is_the_review_clock(self) -> None:
        incident = self._resolved(S.DETECTED)

        # 50% of the 5d review target, from 09:30: 2.5 days later, 21:30 on Wednesday.
        assert incident.due_at(set(outbox_keys(incident))) == T0 + 30 * MINUTE + 60 * HOUR

    def test_resolve_clock_is_met(self) -> None:
        incident = self._resolved(S.DETECTED)

        resolve = clock(incident, ClockName.RESOLVE)
        assert (resolve.state, resolve.met_at, resolve.banked) == (
            ClockState.MET,
            T0 + 30 * MINUTE,
            30 * MINUTE,
        )

    @pytest.mark.parametrize("via", [S.DETECTED, S.TRIAGED])
    def test_escalation_stops(self, via: IncidentState) -> None:
        incident = self._resolved(via)

        assert pages(wake_until(incident, T0 + 30 * 24 * HOUR)) == []
        [run] = incident.watch.escalations
        assert (run.stop_when, run.stopped) == (StopWhen.ACKNOWLEDGED, True)

    def test_escalation_already_under_way_stops_at_the_level_reached(self) -> None:
        incident = declare(1, 1, PAGING)
        wake_until(incident, T0 + 5 * MINUTE)  # alice, then bob

        act(incident, Step.RESOLVE, T0 + 7 * MINUTE, BOB)

        assert pages(wake_until(incident, T0 + 30 * 24 * HOUR)) == []
        assert [key for key in outbox_keys(incident) if ":page:" in key] == [
            f"incident-42:page:page:1:r1:l1:{ALICE_SMS}",
            f"incident-42:page:page:1:r1:l2:{BOB_EMAIL}",
            f"incident-42:page:page:1:r1:l2:{BOB_SMS}",
        ]

    def test_unresolved_policy_stops_too(self) -> None:
        incident = self._resolved(S.DETECTED, escalation="unresolved")

        assert pages(wake_until(incident, T0 + 30 * 24 * HOUR)) == []
        [run] = incident.watch.escalations
        assert (run.stop_when, run.stopped) == (StopWhen.RESOLVED, True)

    def test_warnings_already_sent_stay_and_no_more_follow(self) -> None:
        incident = declare(1, 1, QUIET)
        [warning] = incident.fire_due(T0 + HOUR)  # 50% of the 2h to acknowledge
        assert warning.details["clock"] == "acknowledge"

        act(incident, Step.RESOLVE, T0 + 80 * MINUTE)

        ack = clock(incident, ClockName.ACKNOWLEDGE)
        assert (ack.state, ack.warned, ack.banked) == (ClockState.PAUSED, [0.5], 80 * MINUTE)
        assert [e.details["clock"] for e in incident.fire_due(T0 + 30 * 24 * HOUR)] == ["review"]

    def test_a_breach_before_the_resolve_stays_recorded(self) -> None:
        incident = declare(1, 1, QUIET)
        incident.fire_due(T0 + 2 * HOUR)  # the acknowledge target passes unacknowledged

        act(incident, Step.RESOLVE, T0 + 3 * HOUR)

        ack = clock(incident, ClockName.ACKNOWLEDGE)
        assert (ack.state, ack.breached_at, ack.met_at) == (
            ClockState.BREACHED,
            T0 + 2 * HOUR,
            None,
        )

    def test_json_round_trip_keeps_the_paused_clock(self) -> None:
        incident = self._resolved(S.TRIAGED)

        carried = Incident.model_validate_json(incident.model_dump_json())

        assert carried.watch == incident.watch
        later = T0 + 30 * 24 * HOUR
        assert carried.fire_due(later) == incident.fire_due(later)


class TestHold:
    def _held(self) -> Incident:
        # Acknowledged at 09:10, on hold at 09:20 for 3 hours.
        incident = declare(1, 1, UNRESOLVED)
        act(incident, Step.ACKNOWLEDGE, T0 + 10 * MINUTE)
        act(incident, Step.HOLD, T0 + 20 * MINUTE)
        return incident

    def test_nothing_falls_due_on_hold(self) -> None:
        incident = self._held()

        assert clock(incident, ClockName.RESOLVE).state is ClockState.PAUSED
        assert incident.due_at(set()) is None
        assert incident.fire_due(T0 + 10 * HOUR) == []

    def test_resolve_deadline_moves_by_the_hold(self) -> None:
        incident = self._held()

        act(incident, Step.RESUME, T0 + 3 * HOUR + 20 * MINUTE)

        # 20m counted before the hold; 7h40m left from 12:20: 20:00, the old 17:00 + 3h.
        assert deadline(incident, ClockName.RESOLVE) == T0 + 11 * HOUR

    def test_unresolved_policy_waits_out_the_hold(self) -> None:
        incident = self._held()

        act(incident, Step.RESUME, T0 + 3 * HOUR + 20 * MINUTE)

        # 40 of its 60 minutes were left at 09:20; they run from 12:20.
        assert pages(wake_until(incident, T0 + 5 * HOUR)) == [(T0 + 4 * HOUR, 1, 1)]

    def test_policy_started_during_a_hold_waits_for_the_resume(self) -> None:
        incident = declare(1, 2, UNRESOLVED)  # P2 has no policy
        act(incident, Step.ACKNOWLEDGE, T0 + 10 * MINUTE)
        act(incident, Step.HOLD, T0 + 20 * MINUTE)

        act(incident, Step.TRIAGE, T0 + 30 * MINUTE)  # P1, with "unresolved", still on hold

        assert incident.state is S.ON_HOLD
        assert pages(wake_until(incident, T0 + 3 * HOUR)) == []


class TestPriorityChange:
    def test_raising_the_priority_retargets_the_clocks_keeping_time_spent(self) -> None:
        incident = declare(1, 2, PAGING)  # P2: 4h to acknowledge, 1d to resolve

        act(incident, Step.TRIAGE, T0 + 30 * MINUTE)  # now P1

        # 30m spent; P1's 2h and 8h count from 09:00 as if it had been P1 all along.
        assert incident.priority is P.P1
        assert deadline(incident, ClockName.ACKNOWLEDGE) == T0 + 2 * HOUR
        assert deadline(incident, ClockName.RESOLVE) == T0 + 8 * HOUR

    def test_raising_the_priority_starts_its_policies_from_then(self) -> None:
        incident = declare(1, 2, PAGING)  # P2 has no policy

        act(incident, Step.TRIAGE, T0 + 30 * MINUTE)

        [run] = incident.watch.escalations
        assert (run.policy, run.epoch, run.next_at) == ("page", 2, T0 + 30 * MINUTE)

    def test_lowering_the_priority_stops_policies_it_no_longer_has(self) -> None:
        incident = declare(1, 1, PAGING)
        incident.fire_due(T0)
        triage = TriageRequest(impact=2, urgency=2, category="database", service="checkout")

        act(incident, Step.TRIAGE, T0 + 2 * MINUTE, request=triage)  # now P3: 8h to acknowledge

        assert incident.priority is P.P3
        assert pages(wake_until(incident, T0 + 7 * HOUR)) == []
        assert deadline(incident, ClockName.ACKNOWLEDGE) == T0 + 8 * HOUR

    def test_target_passed_by_a_late_change_breaches_at_once_with_one_alarm(self) -> None:
        incident = declare(1, 2, QUIET)  # P2: 4h to acknowledge
        [warning] = incident.fire_due(T0 + 2 * HOUR)  # 50% of 4h
        assert warning.kind is EventKind.SLA_WARNING

        act(incident, Step.TRIAGE, T0 + 150 * MINUTE)  # P1: 2h, already passed

        # 75% and the breach are both due at 11:30; only the breach is sent.
        [breach] = incident.fire_due(T0 + 150 * MINUTE)
        assert (breach.kind, breach.details["clock"]) == (EventKind.SLA_BREACHED, "acknowledge")
        assert breach.details["due_at"] == "2025-03-03T11:30:00+00:00"
        ack = clock(incident, ClockName.ACKNOWLEDGE)
        assert (ack.warned, ack.breached_at) == ([0.5, 0.75], T0 + 150 * MINUTE)


class TestReopen:
    def _reopened(self) -> Incident:
        # Acknowledged 09:10, resolved 10:00, reopened 12:00.
        incident = declare(1, 1, UNRESOLVED)
        act(incident, Step.ACKNOWLEDGE, T0 + 10 * MINUTE)
        act(incident, Step.RESOLVE, T0 + HOUR)
        assert clock(incident, ClockName.REVIEW).state is ClockState.RUNNING
        act(incident, Step.REOPEN, T0 + 3 * HOUR)
        return incident

    def test_resolve_clock_continues_from_the_time_already_spent(self) -> None:
        incident = self._reopened()

        # 1h spent before resolving; 7h left from 12:00.
        assert clock(incident, ClockName.RESOLVE).state is ClockState.RUNNING
        assert deadline(incident, ClockName.RESOLVE) == T0 + 10 * HOUR

    def test_review_clock_is_dropped(self) -> None:
        incident = self._reopened()

        assert incident.watch.clock(ClockName.REVIEW) is None

    def test_unresolved_policy_starts_again(self) -> None:
        incident = self._reopened()

        # A new run from the reopen (event 4), its level due an hour later.
        events = wake_until(incident, T0 + 5 * HOUR)
        assert pages(events) == [(T0 + 4 * HOUR, 1, 1)]
        assert outbox_keys(incident) == [f"incident-42:page:unresolved:4:r1:l1:{OPS}"]


class TestPagesAndDeliveries:
    def test_each_page_is_one_event_by_vagt(self) -> None:
        incident = declare(1, 1, PAGING)

        events = wake_until(incident, T0 + 40 * MINUTE)

        assert [(e.kind, e.actor) for e in events] == [(EventKind.PAGED, "vagt")] * 5
        assert incident.timeline[1:] == events

    def test_one_delivery_per_person_and_contact_method(self) -> None:
        incident = declare(1, 1, PAGING)

        wake_until(incident, T0 + 40 * MINUTE)

        assert outbox_keys(incident) == [
            f"incident-42:page:page:1:r1:l1:{ALICE_SMS}",
            f"incident-42:page:page:1:r1:l2:{BOB_EMAIL}",
            f"incident-42:page:page:1:r1:l2:{BOB_SMS}",
            f"incident-42:page:page:1:r1:l3:{CAROL_SMS}",
            f"incident-42:page:page:1:r2:l2:{BOB_EMAIL}",
            f"incident-42:page:page:1:r2:l2:{BOB_SMS}",
            f"incident-42:page:page:1:r2:l3:{CAROL_SMS}",
        ]
        assert len(set(outbox_keys(incident))) == 7

    def test_delivery_says_what_is_paged_and_where_to(self) -> None:
        incident = declare(1, 1, PAGING)

        incident.fire_due(T0)

        [entry] = incident.watch.outbox
        delivery, notification = entry.delivery, entry.delivery.notification
        assert (delivery.channel, delivery.address, delivery.attempt) == ("sms", "+4790000001", 1)
        assert entry.not_before == T0
        assert notification.kind is NotificationKind.PAGE
        assert notification.title == "[P1] Checkout failing"
        assert notification.text == "Checkout failing: escalation level 1 is paged (page)."
        assert (notification.recipient, notification.state, notification.at) == (
            "alice",
            "detected",
            T0,
        )

    def test_the_same_steps_give_the_same_keys_and_events(self) -> None:
        def walk() -> Incident:
            incident = declare(1, 1, PAGING)
            wake_until(incident, T0 + 6 * MINUTE)
            act(incident, Step.ESCALATE, T0 + 7 * MINUTE)
            act(incident, Step.ACKNOWLEDGE, T0 + 8 * MINUTE)
            wake_until(incident, T0 + 4 * HOUR)
            return incident

        first, second = walk(), walk()

        assert outbox_keys(first) == outbox_keys(second)
        assert first.timeline == second.timeline

    def test_queueing_a_delivery_again_is_a_no_op(self) -> None:
        incident = declare(1, 1, PAGING)
        incident.fire_due(T0)
        [entry] = incident.watch.outbox

        incident.watch.enqueue(entry.delivery, T0 + MINUTE)

        assert incident.watch.outbox == [entry]

    def test_delivery_not_under_way_wakes_the_workflow(self) -> None:
        incident = declare(1, 1, PAGING)
        incident.fire_due(T0)

        assert incident.due_at(set()) == T0
        assert incident.due_at(set(outbox_keys(incident))) == T0 + 5 * MINUTE
        assert incident.watch.ready(T0, set()) == incident.watch.outbox
        assert incident.watch.ready(T0, set(outbox_keys(incident))) == []


class TestRecordDelivery:
    def _paged(self, **overrides: Any) -> tuple[Incident, str]:
        incident = declare(1, 1, process(**overrides))
        incident.fire_due(T0)
        [key] = outbox_keys(incident)
        return incident, key

    def test_delivered_leaves_the_outbox(self) -> None:
        incident, key = self._paged()

        event = incident.record_delivery(
            key, result(DeliveryOutcome.DELIVERED, status_code=200), T0 + SECOND
        )

        assert incident.watch.outbox == []
        assert (event.kind, event.actor, event.at) == (
            EventKind.NOTIFICATION_ATTEMPTED,
            "vagt",
            T0 + SECOND,
        )
        assert event.details == {
            "idempotency_key": key,
            "channel": "sms",
            "recipient": "alice",
            "attempt": 1,
            "next_attempt_at": None,
            "outcome": "delivered",
            "status_code": 200,
            "retry_after": None,
            "detail": "test",
        }

    def test_rejected_leaves_the_outbox_without_a_retry(self) -> None:
        incident, key = self._paged()

        event = incident.record_delivery(key, result(DeliveryOutcome.REJECTED), T0 + SECOND)

        assert incident.watch.outbox == []
        assert event.details["next_attempt_at"] is None

    def test_retry_is_planned_with_doubling_backoff(self) -> None:
        incident, key = self._paged()

        # Waits before attempts 2..8: 5s, 10s, 20s, 40s, 80s, 160s, then 320s capped at 5m.
        now, waits = T0, []
        for _ in range(7):
            event = incident.record_delivery(key, result(DeliveryOutcome.RETRY), now)
            [entry] = incident.watch.outbox
            waits.append(entry.not_before - now)
            assert event.details["next_attempt_at"] == entry.not_before.isoformat()
            now = entry.not_before
        assert [int(w.total_seconds()) for w in waits] == [5, 10, 20, 40, 80, 160, 300]
        assert incident.watch.outbox[0].delivery.attempt == 8

    def test_retry_event_counts_the_attempt_just_made(self) -> None:
        incident, key = self._paged()

        event = incident.record_delivery(key, result(DeliveryOutcome.RETRY), T0 + SECOND)

        assert event.details["attempt"] == 1
        assert event.details["next_attempt_at"] == "2025-03-03T09:00:06+00:00"
        assert incident.due_at(set()) == T0 + 6 * SECOND

    def test_retry_after_is_honoured(self) -> None:
        incident, key = self._paged()

        incident.record_delivery(key, result(DeliveryOutcome.RETRY, retry_after=120), T0)

        assert incident.watch.outbox[0].not_before == T0 + 2 * MINUTE

    def test_backoff_wins_over_a_shorter_retry_after(self) -> None:
        incident, key = self._paged()

        incident.record_delivery(key, result(DeliveryOutcome.RETRY, retry_after=1), T0)

        assert incident.watch.outbox[0].not_before == T0 + 5 * SECOND

    def test_the_last_attempt_ends_it(self) -> None:
        incident, key = self._paged(notification_retry={"max_attempts": 3})
        incident.record_delivery(key, result(DeliveryOutcome.RETRY), T0)
        incident.record_delivery(key, result(DeliveryOutcome.RETRY), T0 + 5 * SECOND)

        event = incident.record_delivery(key, result(DeliveryOutcome.RETRY), T0 + 15 * SECOND)

        assert incident.watch.outbox == []
        assert (event.details["attempt"], event.details["next_attempt_at"]) == (3, None)

    def test_every_attempt_keeps_the_idempotency_key(self) -> None:
        incident, key = self._paged()

        incident.record_delivery(key, result(DeliveryOutcome.RETRY), T0)

        assert outbox_keys(incident) == [key]


class TestUnreachablePeople:
    def test_problems_are_reported_and_the_reachable_are_paged(self) -> None:
        incident = declare(1, 1, GAPS)

        [first, second] = wake_until(incident, T0 + 5 * MINUTE)

        assert first.details["notified"] == [ALICE_SMS]
        assert first.details["problems"] == ["nobody is on call for schedule 'night'"]
        assert second.details["notified"] == []
        assert second.details["problems"] == [
            "dave has no contact methods in the process definition"
        ]
        assert outbox_keys(incident) == [f"incident-42:page:gaps:1:r1:l1:{ALICE_SMS}"]

    def test_commander_without_contact_methods_is_a_problem_for_sla_alarms(self) -> None:
        incident = declare(1, 1, QUIET)
        act(incident, Step.ASSIGN, T0, ADA, AssignRequest(commander="zoe"))

        [warning] = incident.fire_due(T0 + HOUR)

        assert warning.details["notified"] == [OPS]
        assert warning.details["problems"] == [
            "zoe has no contact methods in the process definition"
        ]


class TestManualEscalation:
    def test_escalate_pages_the_next_level_now(self) -> None:
        incident = declare(1, 1, PAGING)
        incident.fire_due(T0)

        event = act(incident, Step.ESCALATE, T0 + 2 * MINUTE)

        assert (event.kind, event.actor, event.seq) == (EventKind.ESCALATED, "alice", 3)
        assert event.details == {
            "reason": "the database team is needed",
            "policy": "page",
            "level": 2,
            "targets": ["user:bob"],
            "notified": [BOB_EMAIL, BOB_SMS],
            "problems": [],
        }

    def test_escalation_deliveries(self) -> None:
        incident = declare(1, 1, PAGING)
        incident.fire_due(T0)
        act(incident, Step.ESCALATE, T0 + 2 * MINUTE)

        escalations = incident.watch.outbox[1:]
        assert [e.delivery.notification.idempotency_key for e in escalations] == [
            f"incident-42:escalate:3:{BOB_EMAIL}",
            f"incident-42:escalate:3:{BOB_SMS}",
        ]
        notification = escalations[0].delivery.notification
        assert notification.kind is NotificationKind.ESCALATION
        assert notification.text == "alice escalated to level 2: the database team is needed"

    def test_automatic_escalation_carries_on_from_the_level_after(self) -> None:
        incident = declare(1, 1, PAGING)
        incident.fire_due(T0)
        act(incident, Step.ESCALATE, T0 + 2 * MINUTE)

        # bob was paged by hand at 09:02; the schedule follows bob's 10m delay.
        assert pages(wake_until(incident, T0 + 20 * MINUTE)) == [(T0 + 12 * MINUTE, 1, 3)]

    def test_after_acknowledgement_pages_one_level_and_schedules_nothing(self) -> None:
        incident = declare(1, 1, PAGING)
        incident.fire_due(T0)
        act(incident, Step.ACKNOWLEDGE, T0 + MINUTE)

        event = act(incident, Step.ESCALATE, T0 + 3 * MINUTE, BOB)

        assert event.details["level"] == 2
        assert pages(wake_until(incident, T0 + 3 * HOUR)) == []

    def test_refused_once_every_level_is_paged(self) -> None:
        incident = declare(1, 1, PAGING)
        wake_until(incident, T0 + HOUR)  # five pages: the policy is exhausted

        with pytest.raises(StepNotAllowed, match="every level of its escalation policies"):
            act(incident, Step.ESCALATE, T0 + HOUR)


class TestSlaAlarms:
    def test_warnings_at_half_and_three_quarters_then_the_breach(self) -> None:
        incident = declare(1, 1, QUIET)

        events = wake_until(incident, T0 + 2 * HOUR)

        # 50% and 75% of the 2h acknowledge target, then the target itself.
        assert [(e.kind, e.at, e.details["fraction"]) for e in events] == [
            (EventKind.SLA_WARNING, T0 + HOUR, 0.5),
            (EventKind.SLA_WARNING, T0 + 90 * MINUTE, 0.75),
            (EventKind.SLA_BREACHED, T0 + 2 * HOUR, 1.0),
        ]
        assert {e.actor for e in events} == {"vagt"}

    def test_warning_details_and_words(self) -> None:
        incident = declare(1, 1, QUIET)

        [warning] = incident.fire_due(T0 + HOUR)

        assert warning.details == {
            "clock": "acknowledge",
            "fraction": 0.5,
            "target": "2h",
            "due_at": "2025-03-03T10:00:00+00:00",
            "notified": [OPS],
            "problems": [],
        }
        [entry] = incident.watch.outbox
        notification = entry.delivery.notification
        assert notification.idempotency_key == f"incident-42:sla:acknowledge:1:warning50:{OPS}"
        assert notification.kind is NotificationKind.SLA_WARNING
        assert notification.text == "SLA warning: 50% of time to acknowledge (2h) is used."

    def test_breach_words(self) -> None:
        incident = declare(1, 1, QUIET)
        wake_until(incident, T0 + 2 * HOUR)

        notification = incident.watch.outbox[-1].delivery.notification
        assert notification.idempotency_key == f"incident-42:sla:acknowledge:1:breach100:{OPS}"
        assert notification.kind is NotificationKind.SLA_BREACH
        assert notification.text == "SLA breached: time to acknowledge passed its target of 2h."

    def test_only_the_highest_alarm_due_is_sent(self) -> None:
        incident = declare(1, 1, QUIET)

        # Nothing woke at 10:00 or 10:30; at 11:00 both warnings and the breach are due.
        [event] = incident.fire_due(T0 + 2 * HOUR)

        assert event.kind is EventKind.SLA_BREACHED
        assert len(incident.watch.outbox) == 1
        ack = clock(incident, ClockName.ACKNOWLEDGE)
        assert (ack.warned, ack.breached_at) == ([0.5, 0.75], T0 + 2 * HOUR)
        assert incident.fire_due(T0 + 3 * HOUR) == []

    def test_each_clock_sounds_its_own_alarm(self) -> None:
        incident = declare(1, 1, QUIET)

        events = incident.fire_due(T0 + 8 * HOUR)

        assert [(e.kind, e.details["clock"]) for e in events] == [
            (EventKind.SLA_BREACHED, "acknowledge"),
            (EventKind.SLA_BREACHED, "resolve"),
        ]

    def test_the_commander_hears_them_too(self) -> None:
        incident = declare(1, 1, QUIET)
        act(incident, Step.ASSIGN, T0, ADA, AssignRequest(commander="alice"))

        [warning] = incident.fire_due(T0 + HOUR)

        assert warning.details["notified"] == [OPS, ALICE_SMS]

    def test_acknowledging_in_time_silences_the_acknowledge_clock(self) -> None:
        incident = declare(1, 1, QUIET)
        act(incident, Step.ACKNOWLEDGE, T0 + 30 * MINUTE)

        # Only the resolve clock is left: 50% of 8h at 13:00.
        assert incident.due_at(set()) == T0 + 4 * HOUR


class TestStateSurvivesContinueAsNew:
    def _busy(self) -> Incident:
        """Clocks, two runs (one stopped, one paused) and a delivery waiting to retry."""
        incident = declare(1, 1, process(escalation={"P1": ["page", "unresolved"]}))
        wake_until(incident, T0 + 5 * MINUTE)
        incident.record_delivery(outbox_keys(incident)[0], result(DeliveryOutcome.RETRY), T0)
        act(incident, Step.ACKNOWLEDGE, T0 + 7 * MINUTE, BOB)
        act(incident, Step.HOLD, T0 + 20 * MINUTE, BOB)
        return incident

    def test_json_round_trip_keeps_clocks_runs_and_outbox(self) -> None:
        incident = self._busy()

        carried = Incident.model_validate_json(incident.model_dump_json())

        assert carried.watch == incident.watch
        assert carried == incident

    def test_round_trip_keeps_parts_of_a_second(self) -> None:
        # Workflow time has milliseconds; a hold at one must not lose them.
        incident = declare(1, 1, UNRESOLVED)
        act(incident, Step.ACKNOWLEDGE, T0 + 10 * MINUTE)
        act(incident, Step.HOLD, T0 + 20 * MINUTE + 250 * timedelta(milliseconds=1))

        carried = Incident.model_validate_json(incident.model_dump_json())

        assert carried.watch == incident.watch

    def test_carried_incident_carries_on_the_same(self) -> None:
        incident = self._busy()
        carried = Incident.model_validate_json(incident.model_dump_json())

        for each in (incident, carried):
            act(each, Step.RESUME, T0 + HOUR, BOB)
        later = T0 + 10 * HOUR

        events = wake_until(incident, later)
        assert events  # the unresolved policy's page and the resolve clock's alarms
        assert wake_until(carried, later) == events
        assert outbox_keys(carried) == outbox_keys(incident)
