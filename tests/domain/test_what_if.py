"""What-if: a recorded incident walked again under another version, worked out by hand."""

from datetime import timedelta
from typing import Any

from domain.incident import Incident
from domain.lifecycle import Step
from domain.process import ProcessDefinition
from domain.requests import (
    AcknowledgeRequest,
    ActionItem,
    ApproveReviewRequest,
    DeclareRequest,
    HoldRequest,
    ResolveRequest,
    ResumeRequest,
    SubmitReviewRequest,
)
from domain.what_if import Happening, simulate
from tests.domain.builders import ALICE, OLIVE, T0

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


def version(
    number: int, acknowledge: str, resolve: str, levels: int, delay: str, **more: Any
) -> ProcessDefinition:
    level = {"targets": [{"channel": "ops"}], "delay": delay}
    return ProcessDefinition.model_validate(
        {
            "name": "ops",
            "version": number,
            "sla": {
                "warn_at": [],
                "targets": {"P2": {"acknowledge": acknowledge, "resolve": resolve}},
            },
            "escalation_policies": {"ops": {"levels": [level] * levels}},
            "escalation": {"P2": ["ops"]},
            **more,
        }
    )


# What was in force: 30 minutes to acknowledge, 4 hours to resolve, two levels 10 minutes apart.
V1 = version(1, "30m", "4h", levels=2, delay="10m")
# The candidate: half the targets, three levels 5 minutes apart, two action items per P2 review.
V2 = version(2, "15m", "2h", levels=3, delay="5m", review={"min_action_items": {"P2": 2}})


def recorded() -> Incident:
    """A P2 as the workflow ran it under version 1: paged at once and again at 10
    minutes, acknowledged at 20, on hold from 1 h to 2 h, resolved at 3 h 30,
    reviewed the next day."""
    incident = Incident.declare(
        7, DeclareRequest(title="Checkout slow", impact=1, urgency=2), ALICE, T0, V1
    )
    incident.fire_due(T0)
    incident.fire_due(T0 + 10 * MINUTE)
    incident.apply(Step.ACKNOWLEDGE, AcknowledgeRequest(), ALICE, T0 + 20 * MINUTE)
    incident.apply(Step.HOLD, HoldRequest(reason="vendor"), ALICE, T0 + HOUR)
    incident.apply(Step.RESUME, ResumeRequest(), ALICE, T0 + 2 * HOUR)
    resolve = ResolveRequest(summary="Cache rebuilt", root_cause_category="capacity")
    incident.apply(Step.RESOLVE, resolve, ALICE, T0 + 3.5 * HOUR)
    item = ActionItem(description="Alert on cache hit rate", owner="alice", due_date=T0.date())
    review = SubmitReviewRequest(root_cause="Cache evicted", action_items=[item])
    incident.apply(Step.SUBMIT_REVIEW, review, ALICE, T0 + 24 * HOUR)
    incident.apply(Step.APPROVE_REVIEW, ApproveReviewRequest(), OLIVE, T0 + 25 * HOUR)
    return incident


def page(minutes: int, level: int) -> Happening:
    return Happening(
        kind="page",
        at=T0 + minutes * MINUTE,
        policy="ops",
        round=1,
        level=level,
        notified=["-:ops:-"],  # a channel target: no person, no address
    )


class TestSimulate:
    def test_the_recorded_incident_replays_as_it_happened_under_its_own_version(self) -> None:
        incident = recorded()

        outcome = simulate(incident, V1, until=T0 + 25 * HOUR)

        assert outcome.simulated == outcome.recorded == [page(0, 1), page(10, 2)]
        assert outcome.skipped == []

    def test_a_stricter_version_breaches_pages_more_and_refuses_the_thin_review(self) -> None:
        outcome = simulate(recorded(), V2, until=T0 + 25 * HOUR)

        # By hand: levels at 0, 5 and 10 minutes (acknowledged at 20); acknowledge
        # target 15 minutes; resolve target 2 hours of open time: 1 h before the hold,
        # none during it, the second hour from 2 h to 3 h.
        assert outcome.simulated == [
            page(0, 1),
            page(5, 2),
            page(10, 3),
            Happening(kind="breach", at=T0 + 15 * MINUTE, clock="acknowledge"),
            Happening(kind="breach", at=T0 + 3 * HOUR, clock="resolve"),
        ]
        assert outcome.recorded == [page(0, 1), page(10, 2)]
        assert len(outcome.skipped) == 2  # the review (one item of two) and its approval
        assert "at least 2 action item(s)" in outcome.skipped[0]

    def test_a_category_the_version_lacks_is_dropped_and_said(self) -> None:
        incident = Incident.declare(
            8,
            DeclareRequest(title="DB down", impact=1, urgency=2, category="database"),
            ALICE,
            T0,
            V1,
        )
        narrower = V2.model_copy(update={"categories": ["network"]})

        outcome = simulate(incident, narrower, until=T0 + 20 * MINUTE)

        assert outcome.skipped == [
            "declared: unknown category 'database'; the process knows: network"
        ]
        assert [h.clock for h in outcome.simulated if h.kind == "breach"] == ["acknowledge"]
