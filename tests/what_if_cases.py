"""Recorded incidents and two process versions for what-if tests, worked out by hand.

Version 1 was in force: P2 has 30 minutes to acknowledge and 4 hours to resolve, and
pages two levels of the `ops` channel 10 minutes apart. Version 2, the candidate,
halves the targets, pages three levels 5 minutes apart and wants two action items in
every P2 review. The incidents below ran on version 1; each says what it did then and
what version 2 would have done.
"""

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
from domain.what_if import Happening, Side
from store.db import Database
from store.incidents import IncidentRepository
from tests.domain.builders import ALICE, OLIVE, T0

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def definition(
    number: int, acknowledge: str, resolve: str, levels: int, delay: str, **more: Any
) -> dict[str, Any]:
    level = {"targets": [{"channel": "ops"}], "delay": delay}
    return {
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


V1_DEFINITION = definition(1, "30m", "4h", levels=2, delay="10m")
V2_DEFINITION = definition(
    2, "15m", "2h", levels=3, delay="5m", review={"min_action_items": {"P2": 2}}
)
V1 = ProcessDefinition.model_validate(V1_DEFINITION)
V2 = ProcessDefinition.model_validate(V2_DEFINITION)


def page(minutes: float, level: int) -> Happening:
    return Happening(
        kind="page",
        at=T0 + minutes * MINUTE,
        policy="ops",
        round=1,
        level=level,
        notified=["-:ops:-"],  # a channel target: no person, no address
    )


def breach(minutes: float, clock: str) -> Happening:
    return Happening(kind="breach", at=T0 + minutes * MINUTE, clock=clock)


def _item(n: int) -> ActionItem:
    return ActionItem(description=f"Follow-up {n}", owner="alice", due_date=T0.date())


def _declared(number: int, impact: int, urgency: int, minutes: float = 0) -> Incident:
    incident = Incident.declare(
        number,
        DeclareRequest(title=f"Incident {number}", impact=impact, urgency=urgency),
        ALICE,
        T0 + minutes * MINUTE,
        V1,
    )
    incident.fire_due(incident.declared_at)  # the first page, as the workflow sends it
    return incident


def slow_p2() -> Incident:
    """#7. V1: paged at 0 and 10 minutes, acknowledged at 20, on hold from 1 h to 2 h,
    resolved at 3 h 30, reviewed (one action item) the next day: no breach.
    V2: levels at 0, 5 and 10 minutes; acknowledge breached at 15 minutes; resolve
    breached at 3 h (1 h open before the hold, none during it, the second hour from
    2 h to 3 h); the one-item review and its approval refused."""
    incident = _declared(7, impact=1, urgency=2)
    incident.fire_due(T0 + 10 * MINUTE)
    incident.apply(Step.ACKNOWLEDGE, AcknowledgeRequest(), ALICE, T0 + 20 * MINUTE)
    incident.apply(Step.HOLD, HoldRequest(reason="vendor"), ALICE, T0 + HOUR)
    incident.apply(Step.RESUME, ResumeRequest(), ALICE, T0 + 2 * HOUR)
    resolve = ResolveRequest(summary="Cache rebuilt", root_cause_category="capacity")
    incident.apply(Step.RESOLVE, resolve, ALICE, T0 + 3.5 * HOUR)
    review = SubmitReviewRequest(root_cause="Cache evicted", action_items=[_item(1)])
    incident.apply(Step.SUBMIT_REVIEW, review, ALICE, T0 + DAY)
    incident.apply(Step.APPROVE_REVIEW, ApproveReviewRequest(), OLIVE, T0 + 25 * HOUR)
    return incident


SLOW_P2_RECORDED = [page(0, 1), page(10, 2)]
SLOW_P2_SIMULATED = [
    page(0, 1),
    page(5, 2),
    page(10, 3),
    breach(15, "acknowledge"),
    breach(180, "resolve"),
]


def quick_p2() -> Incident:
    """#8, declared an hour after #7. Acknowledged after 4 minutes, resolved at 30,
    reviewed with two action items: one page and no breach under either version."""
    incident = _declared(8, impact=1, urgency=2, minutes=60)
    incident.apply(Step.ACKNOWLEDGE, AcknowledgeRequest(), ALICE, T0 + 64 * MINUTE)
    resolve = ResolveRequest(summary="Restarted", root_cause_category="code_defect")
    incident.apply(Step.RESOLVE, resolve, ALICE, T0 + 90 * MINUTE)
    review = SubmitReviewRequest(root_cause="Leak", action_items=[_item(1), _item(2)])
    incident.apply(Step.SUBMIT_REVIEW, review, ALICE, T0 + DAY)
    incident.apply(Step.APPROVE_REVIEW, ApproveReviewRequest(), OLIVE, T0 + DAY + HOUR)
    return incident


QUICK_P2_PAGES = [page(60, 1)]


def quiet_p3() -> Incident:
    """#10, declared two hours after #7 and still open: a P3, which neither version
    times or pages."""
    return _declared(10, impact=2, urgency=2, minutes=120)


def last_week() -> Incident:
    """#9, a P2 declared a week before #7 and never acknowledged: outside the period
    the tests ask about."""
    return _declared(9, impact=1, urgency=2, minutes=-7 * 24 * 60)


async def record(database: Database, *incidents: Incident) -> None:
    """Put `incidents` in the read model, as their workflows projected them."""
    async with database.session() as session:
        repository = IncidentRepository(session)
        for incident in incidents:
            await repository.project(incident, incident.timeline)
        await session.commit()


# #7, #8 and #10 (the first three hours) under version 2, beside what happened.
RECORDED_TOTALS = Side(
    pages=3,  # #7 at levels 1 and 2, #8 at level 1
    paged_incidents=2,
    pages_by_level={"ops": {1: 2, 2: 1}},
    pages_by_recipient={"channel:ops": 3},
)
SIMULATED_TOTALS = Side(
    breaches=2,  # both #7's
    breached_incidents=1,
    breaches_by_clock={"acknowledge": 1, "resolve": 1},
    pages=4,  # #7 at levels 1, 2 and 3, #8 at level 1
    paged_incidents=2,
    pages_by_level={"ops": {1: 2, 2: 1, 3: 1}},
    pages_by_recipient={"channel:ops": 4},
)
