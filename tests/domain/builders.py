"""People, requests and incidents walked to a given state, shared by the domain tests."""

from datetime import UTC, date, datetime, timedelta

from domain.escalation import EscalationLevel, EscalationPolicy, EscalationTarget
from domain.incident import Incident
from domain.lifecycle import IncidentState, Step
from domain.priority import Priority
from domain.process import DEFAULT_PROCESS, ProcessDefinition
from domain.requests import (
    AcknowledgeRequest,
    ActionItem,
    ApproveReviewRequest,
    AssignRequest,
    DeclareRequest,
    EscalateRequest,
    HoldRequest,
    MigrateRequest,
    NoteRequest,
    ReopenRequest,
    RequestChangesRequest,
    ResolveRequest,
    ResumeRequest,
    StatusUpdateRequest,
    StepRequest,
    SubmitReviewRequest,
    TriageRequest,
)
from domain.roles import Actor, Role
from domain.timeline import TimelineEvent

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


ALICE = Actor(name="alice", roles=frozenset({Role.RESPONDER}))
BOB = Actor(name="bob", roles=frozenset({Role.RESPONDER}))
CAROL = Actor(name="carol", roles=frozenset({Role.COMMANDER}))
DAVE = Actor(name="dave", roles=frozenset({Role.COMMANDER}))
OLIVE = Actor(name="olive", roles=frozenset({Role.PROCESS_OWNER}))
ADA = Actor(name="ada", roles=frozenset({Role.ADMIN}))
VIC = Actor(name="vic", roles=frozenset({Role.VIEWER}))

ACTION_ITEM = ActionItem(
    description="Alert on replication lag", owner="alice", due_date=date(2025, 3, 31)
)

# One valid request per step, as a person would send it.
REQUESTS: dict[Step, StepRequest] = {
    Step.TRIAGE: TriageRequest(impact=1, urgency=1, category="database", service="checkout"),
    Step.ACKNOWLEDGE: AcknowledgeRequest(),
    Step.ASSIGN: AssignRequest(commander="carol"),
    Step.NOTE: NoteRequest(text="replica lag at 40s"),
    Step.POST_UPDATE: StatusUpdateRequest(message="Payments fail for some; a fix is rolling out"),
    Step.HOLD: HoldRequest(reason="waiting for the storage vendor"),
    Step.RESUME: ResumeRequest(),
    Step.RESOLVE: ResolveRequest(
        summary="Failed over to the replica", root_cause_category="hardware"
    ),
    Step.REOPEN: ReopenRequest(reason="errors are back"),
    Step.SUBMIT_REVIEW: SubmitReviewRequest(
        root_cause="Disk failure on the primary",
        contributing_factors=["no lag alert"],
        timeline_summary="paged 09:00, failed over 09:40",
        action_items=[ACTION_ITEM],
    ),
    Step.REQUEST_CHANGES: RequestChangesRequest(reason="say why failover took 40 minutes"),
    Step.APPROVE_REVIEW: ApproveReviewRequest(comment="good review"),
    Step.ESCALATE: EscalateRequest(reason="the database team is needed"),
    # The default process's next version: what `migrate` moves an incident to.
    Step.MIGRATE: MigrateRequest(process=DEFAULT_PROCESS.model_copy(update={"version": 2})),
}

# The default process has no escalation policy, so it refuses `escalate`; this one pages
# a channel at every priority, so `escalate` is possible wherever the lifecycle allows it.
ESCALATING = ProcessDefinition(
    escalation_policies={
        "ops": EscalationPolicy(
            levels=[
                EscalationLevel(targets=[EscalationTarget(channel="ops")]),
                EscalationLevel(targets=[EscalationTarget(channel="db-team")]),
            ]
        )
    },
    escalation={priority: ["ops"] for priority in Priority},
)

# How an incident reaches each state, and who takes each step.
PATHS: dict[IncidentState, list[tuple[Step, Actor]]] = {
    IncidentState.DETECTED: [],
    IncidentState.TRIAGED: [(Step.TRIAGE, ALICE)],
    IncidentState.ACKNOWLEDGED: [(Step.ACKNOWLEDGE, ALICE)],
    IncidentState.ON_HOLD: [(Step.ACKNOWLEDGE, ALICE), (Step.HOLD, ALICE)],
    IncidentState.RESOLVED: [(Step.ACKNOWLEDGE, ALICE), (Step.RESOLVE, ALICE)],
    IncidentState.IN_REVIEW: [
        (Step.ACKNOWLEDGE, ALICE),
        (Step.RESOLVE, ALICE),
        (Step.SUBMIT_REVIEW, ALICE),
    ],
    IncidentState.CLOSED: [
        (Step.ACKNOWLEDGE, ALICE),
        (Step.RESOLVE, ALICE),
        (Step.SUBMIT_REVIEW, ALICE),
        (Step.APPROVE_REVIEW, OLIVE),
    ],
}


def declare(
    impact: int = 1,
    urgency: int = 2,
    process: ProcessDefinition = DEFAULT_PROCESS,
    category: str | None = None,
    service: str | None = None,
    by: Actor = ALICE,
) -> Incident:
    request = DeclareRequest(
        title="Checkout failing",
        description="500s on /pay",
        impact=impact,
        urgency=urgency,
        category=category,
        service=service,
    )
    return Incident.declare(42, request, by, T0, process)


def take(
    incident: Incident, step: Step, actor: Actor = ALICE, request: StepRequest | None = None
) -> TimelineEvent:
    """Apply `step` one minute after the previous event."""
    chosen = REQUESTS[step] if request is None else request
    return incident.apply(step, chosen, actor, at(incident.seq))


def incident_in(
    state: IncidentState,
    impact: int = 1,
    urgency: int = 2,
    process: ProcessDefinition = DEFAULT_PROCESS,
) -> Incident:
    incident = declare(impact, urgency, process)
    for step, actor in PATHS[state]:
        take(incident, step, actor)
    assert incident.state == state
    return incident
