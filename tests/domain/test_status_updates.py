"""Status updates, what subscribers hear, and the cadence that chases a missing update.

The process of these tests wants an update every 30 minutes for P1 and every hour for
P2, with 10 minutes of grace after the reminder; carol is the commander and is
reached on the pager; the `ops` policy pages the ops channel, then the db team.
"""

from datetime import datetime, timedelta

from domain.channels import DeliveryOutcome, DeliveryResult, NotificationKind
from domain.escalation import EscalationLevel, EscalationPolicy, EscalationTarget
from domain.incident import Incident
from domain.lifecycle import Step
from domain.priority import Priority
from domain.process import ContactMethod, Person, ProcessDefinition
from domain.requests import (
    AcknowledgeRequest,
    AssignRequest,
    HoldRequest,
    StatusUpdateRequest,
    TriageRequest,
)
from domain.timeline import EventKind, TimelineEvent
from tests.domain.builders import ADA, ALICE, CAROL, OLIVE, T0, declare, take

MINUTE = timedelta(minutes=1)

CADENCED = ProcessDefinition.model_validate(
    {
        "status_updates": {"every": {"P1": "30m", "P2": "1h"}, "grace": "10m"},
        "people": {"carol": Person(notify=[ContactMethod(channel="pager")])},
        "escalation_policies": {
            "ops": EscalationPolicy(
                levels=[
                    EscalationLevel(targets=[EscalationTarget(channel="ops")]),
                    EscalationLevel(targets=[EscalationTarget(channel="db-team")]),
                ]
            )
        },
        "escalation": {"P1": ["ops"], "P2": ["ops"]},
        "sla_notify": [EscalationTarget(channel="sla")],
        "sla": {"targets": {}},  # no SLA clocks: what falls due here is the cadence's
    }
)


def p1() -> Incident:
    """A P1 declared at T0 whose first escalation level (ops) was paged; carol is its
    commander and acknowledged at once, so the policy pages again only when told to."""
    incident = declare(impact=1, urgency=1, process=CADENCED)
    assert incident.priority is Priority.P1
    incident.apply(Step.ASSIGN, AssignRequest(commander="carol"), ADA, T0)
    (paged,) = incident.fire_due(T0)
    assert paged.details["level"] == 1
    incident.apply(Step.ACKNOWLEDGE, AcknowledgeRequest(), CAROL, T0)
    incident.watch.outbox.clear()
    return incident


def next_chase(incident: Incident) -> datetime | None:
    """When the cadence next reminds or escalates."""
    cadence = incident.watch.cadence
    return cadence.next_at(incident.process.status_updates.grace) if cadence else None


def update(
    incident: Incident, minutes: int, message: str = "failing over", public: bool = True
) -> TimelineEvent:
    return incident.apply(
        Step.POST_UPDATE,
        StatusUpdateRequest(message=message, public=public),
        CAROL,
        T0 + minutes * MINUTE,
    )


def sent(incident: Incident) -> list[tuple[str, str, str]]:
    return [
        (e.delivery.notification.kind, e.delivery.channel, e.delivery.notification.text)
        for e in incident.watch.outbox
    ]


class TestPostingAnUpdate:
    def test_it_is_on_the_timeline_and_resets_the_last_update(self) -> None:
        incident = p1()

        event = update(incident, 5, "Payments fail for 10% of users; failing over")

        assert event.kind is EventKind.STATUS_UPDATE_POSTED
        assert event.actor == "carol"
        assert event.details == {
            "message": "Payments fail for 10% of users; failing over",
            "public": True,
        }
        assert incident.watch.cadence is not None
        assert incident.watch.cadence.last_update_at == T0 + 5 * MINUTE

    def test_responders_and_commanders_post_and_process_owners_may_not(self) -> None:
        incident = p1()

        assert Step.POST_UPDATE in incident.allowed_steps(ALICE)
        assert Step.POST_UPDATE in incident.allowed_steps(CAROL)
        assert Step.POST_UPDATE not in incident.allowed_steps(OLIVE)


class TestWhatSubscribersHear:
    def test_the_declaration_is_news(self) -> None:
        incident = declare(impact=1, urgency=1, process=CADENCED)

        (announced,) = incident.announcements
        assert announced.kind is NotificationKind.INCIDENT_DECLARED
        assert announced.text == "New P1 incident: Checkout failing\n\n500s on /pay"
        assert announced.seq == 1

    def test_a_priority_change_is_news_and_a_triage_keeping_it_is_not(self) -> None:
        incident = declare(impact=2, urgency=2, process=CADENCED)
        incident.announcements.clear()
        same = TriageRequest(impact=2, urgency=2, category="database", service="checkout")
        incident.apply(Step.TRIAGE, same, ALICE, T0 + MINUTE)
        assert incident.announcements == []

        worse = TriageRequest(impact=1, urgency=1, category="database", service="checkout")
        incident.apply(Step.TRIAGE, worse, ALICE, T0 + 2 * MINUTE)

        (announced,) = incident.announcements
        assert announced.kind is NotificationKind.PRIORITY_CHANGED
        assert announced.text == f"Priority changed from {Priority.P3} to P1."

    def test_updates_resolution_and_closure_are_news_and_notes_are_not(self) -> None:
        incident = p1()
        incident.announcements.clear()

        update(incident, 1, "internal detail", public=False)
        take(incident, Step.NOTE)
        take(incident, Step.RESOLVE)
        take(incident, Step.SUBMIT_REVIEW)
        take(incident, Step.APPROVE_REVIEW, OLIVE)

        assert [(a.kind, a.public) for a in incident.announcements] == [
            (NotificationKind.STATUS_UPDATE, False),
            (NotificationKind.INCIDENT_RESOLVED, True),
            (NotificationKind.INCIDENT_CLOSED, True),
        ]
        assert incident.announcements[1].text == "Resolved: Failed over to the replica"

    def test_announcing_sends_once_to_each_subscriber_and_takes_it_off_the_queue(self) -> None:
        incident = p1()
        update(incident, 3, "Failover done; watching error rates")
        news = incident.announcements[-1]
        subscribers = [EscalationTarget(user="carol"), EscalationTarget(channel="status")]

        event = incident.announce(news, subscribers, T0 + 4 * MINUTE)

        assert event is not None and event.kind is EventKind.SUBSCRIBERS_NOTIFIED
        assert event.details["announces"] == news.seq
        assert event.details["notified"] == ["carol:pager:-", "-:status:-"]
        assert news not in incident.announcements
        keys = [e.delivery.notification.idempotency_key for e in incident.watch.outbox]
        assert keys == [
            f"incident-42:announce:{news.seq}:carol:pager:-",
            f"incident-42:announce:{news.seq}:-:status:-",
        ]
        assert sent(incident) == [
            ("status_update", "pager", "Failover done; watching error rates"),
            ("status_update", "status", "Failover done; watching error rates"),
        ]

    def test_nobody_following_leaves_no_event(self) -> None:
        incident = p1()
        news = incident.announcements[0]
        before = incident.seq

        assert incident.announce(news, [], T0 + MINUTE) is None
        assert incident.seq == before
        assert news not in incident.announcements

    def test_a_subscriber_without_contact_methods_is_a_problem_said(self) -> None:
        incident = p1()
        news = incident.announcements[0]

        event = incident.announce(news, [EscalationTarget(user="mallory")], T0 + MINUTE)

        assert event is not None
        assert event.details["problems"] == [
            "mallory has no contact methods in the process definition"
        ]


class TestCadence:
    def test_the_commander_is_reminded_when_the_interval_passes_without_news(self) -> None:
        incident = p1()
        assert next_chase(incident) == T0 + 30 * MINUTE

        (event,) = incident.fire_due(T0 + 30 * MINUTE)

        assert event.kind is EventKind.STATUS_UPDATE_DUE
        assert event.details["notified"] == ["carol:pager:-"]
        assert sent(incident) == [
            ("update_due", "pager", "A status update is due: nothing has been said for 30m.")
        ]

    def test_the_next_level_is_told_when_the_grace_passes_too(self) -> None:
        incident = p1()
        incident.fire_due(T0 + 30 * MINUTE)
        assert next_chase(incident) == T0 + 40 * MINUTE
        incident.watch.outbox.clear()

        (event,) = incident.fire_due(T0 + 40 * MINUTE)

        assert event.kind is EventKind.STATUS_UPDATE_MISSED
        assert (event.details["policy"], event.details["level"]) == ("ops", 2)
        assert sent(incident) == [
            (
                "update_overdue",
                "db-team",
                "No status update for 40m, after a reminder: escalation level 2 is told (ops).",
            )
        ]
        # The count starts again from the escalation.
        assert next_chase(incident) == T0 + 70 * MINUTE

    def test_with_no_level_left_the_sla_audience_is_told(self) -> None:
        incident = p1()
        incident.fire_due(T0 + 30 * MINUTE)
        incident.fire_due(T0 + 40 * MINUTE)  # level 2, the last
        incident.fire_due(T0 + 70 * MINUTE)
        incident.watch.outbox.clear()

        (event,) = incident.fire_due(T0 + 80 * MINUTE)

        assert event.details["targets"] == ["channel:sla"]
        assert (
            "every level of its escalation policies has been paged" in event.details["escalation"]
        )

    def test_an_update_resets_the_count(self) -> None:
        incident = p1()
        incident.fire_due(T0 + 30 * MINUTE)  # reminded

        update(incident, 35)

        assert next_chase(incident) == T0 + 65 * MINUTE
        assert incident.fire_due(T0 + 64 * MINUTE) == []

    def test_a_hold_pauses_it_and_a_resume_starts_a_fresh_interval(self) -> None:
        incident = p1()
        incident.apply(Step.HOLD, HoldRequest(reason="vendor"), CAROL, T0 + 10 * MINUTE)

        assert incident.fire_due(T0 + 5 * 60 * MINUTE) == []
        assert next_chase(incident) is None

        take(incident, Step.RESUME)  # at seq minutes: after the hold
        resumed = incident.timeline[-1].at
        assert next_chase(incident) == resumed + 30 * MINUTE

    def test_resolving_ends_it_and_reopening_starts_it_again(self) -> None:
        incident = p1()
        take(incident, Step.RESOLVE)
        assert incident.watch.cadence is None

        take(incident, Step.REOPEN)

        assert incident.watch.cadence is not None
        assert next_chase(incident) == incident.timeline[-1].at + 30 * MINUTE

    def test_a_new_priority_takes_its_interval_counted_from_the_same_news(self) -> None:
        incident = declare(impact=3, urgency=3, process=CADENCED)
        assert incident.watch.cadence is None  # P5 needs no updates

        to_p2 = TriageRequest(impact=2, urgency=1, category="database", service="checkout")
        incident.apply(Step.TRIAGE, to_p2, ALICE, T0 + 10 * MINUTE)
        assert incident.priority is Priority.P2
        assert next_chase(incident) == T0 + 70 * MINUTE

        to_p1 = TriageRequest(impact=1, urgency=1, category="database", service="checkout")
        incident.apply(Step.TRIAGE, to_p1, ALICE, T0 + 20 * MINUTE)
        assert next_chase(incident) == T0 + 40 * MINUTE

    def test_after_a_long_outage_only_the_latest_cycle_speaks(self) -> None:
        incident = p1()

        events = incident.fire_due(T0 + 5 * 60 * MINUTE + 15 * MINUTE)

        # Cycles of 40 minutes (30 + 10 of grace): 7 end by 4h40; the 8th reminds at 5h10
        # and would tell the next level at 5h20.
        assert [e.kind for e in events] == [EventKind.STATUS_UPDATE_DUE]
        assert [e.details["round"] for e in events] == [8]


class TestNewsInOrder:
    def test_a_subscriber_hears_the_next_news_only_after_the_last_is_delivered(self) -> None:
        incident = p1()
        status = [EscalationTarget(channel="status")]
        update(incident, 1, "Failing over")
        update(incident, 2, "Failed over; watching")
        for news in list(incident.announcements):
            if news.kind is NotificationKind.STATUS_UPDATE:
                incident.announce(news, status, T0 + 3 * MINUTE)
        now = T0 + 3 * MINUTE

        (first,) = incident.watch.ready(now, set())
        assert first.delivery.notification.text == "Failing over"
        # Refused for now: the next attempt waits, and so does the news behind it.
        retry = DeliveryResult(outcome=DeliveryOutcome.RETRY, status_code=503, detail="busy")
        incident.record_delivery(first.delivery.notification.idempotency_key, retry, now)
        later = incident.watch.outbox[0].not_before
        assert incident.watch.ready(now, set()) == []
        assert incident.due_at(set()) == later

        delivered = DeliveryResult(outcome=DeliveryOutcome.DELIVERED, detail="ok")
        incident.record_delivery(first.delivery.notification.idempotency_key, delivered, later)

        (second,) = incident.watch.ready(later, set())
        assert second.delivery.notification.text == "Failed over; watching"

    def test_pages_do_not_wait_behind_news(self) -> None:
        incident = p1()
        carol = [EscalationTarget(user="carol")]
        update(incident, 1, "Failing over")
        incident.announce(incident.announcements[-1], carol, T0 + MINUTE)
        incident.fire_due(T0 + 31 * MINUTE)  # the reminder, to carol on the pager too

        kinds = [
            e.delivery.notification.kind for e in incident.watch.ready(T0 + 31 * MINUTE, set())
        ]

        assert kinds == [NotificationKind.STATUS_UPDATE, NotificationKind.UPDATE_DUE]
