"""The incident lifecycle as data: one table of (state, step) -> next state."""

from collections.abc import Mapping
from enum import StrEnum

from domain.errors import StepNotAllowed


class IncidentState(StrEnum):
    DETECTED = "detected"
    TRIAGED = "triaged"
    ACKNOWLEDGED = "acknowledged"
    ON_HOLD = "on_hold"
    RESOLVED = "resolved"
    IN_REVIEW = "in_review"
    CLOSED = "closed"


class Step(StrEnum):
    TRIAGE = "triage"
    ACKNOWLEDGE = "acknowledge"
    ASSIGN = "assign"
    NOTE = "note"
    POST_UPDATE = "post_update"
    HOLD = "hold"
    RESUME = "resume"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    SUBMIT_REVIEW = "submit_review"
    REQUEST_CHANGES = "request_changes"
    APPROVE_REVIEW = "approve_review"
    ESCALATE = "escalate"
    MIGRATE = "migrate"


S = IncidentState

# Every step an incident can take. A state missing for a step means the step is
# refused there. Triage, assign, note and status updates keep the state: priority
# and roles change, and news goes out, while work goes on.
TRANSITIONS: Mapping[tuple[IncidentState, Step], IncidentState] = {
    (S.DETECTED, Step.TRIAGE): S.TRIAGED,
    (S.TRIAGED, Step.TRIAGE): S.TRIAGED,
    (S.ACKNOWLEDGED, Step.TRIAGE): S.ACKNOWLEDGED,
    (S.ON_HOLD, Step.TRIAGE): S.ON_HOLD,
    (S.DETECTED, Step.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.TRIAGED, Step.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.ACKNOWLEDGED, Step.HOLD): S.ON_HOLD,
    (S.ON_HOLD, Step.RESUME): S.ACKNOWLEDGED,
    # Resolving without an acknowledgement is allowed: a false alarm, or a source
    # that reports recovery before anyone looked, must not need a fake acknowledge.
    (S.DETECTED, Step.RESOLVE): S.RESOLVED,
    (S.TRIAGED, Step.RESOLVE): S.RESOLVED,
    (S.ACKNOWLEDGED, Step.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Step.REOPEN): S.ACKNOWLEDGED,
    (S.RESOLVED, Step.SUBMIT_REVIEW): S.IN_REVIEW,
    (S.IN_REVIEW, Step.REQUEST_CHANGES): S.RESOLVED,
    (S.IN_REVIEW, Step.APPROVE_REVIEW): S.CLOSED,
    **{
        (state, step): state
        for state in (S.DETECTED, S.TRIAGED, S.ACKNOWLEDGED, S.ON_HOLD, S.RESOLVED, S.IN_REVIEW)
        for step in (Step.ASSIGN, Step.NOTE, Step.POST_UPDATE)
    },
    **{
        (state, Step.ESCALATE): state
        for state in (S.DETECTED, S.TRIAGED, S.ACKNOWLEDGED, S.ON_HOLD)
    },
    # Moving an open incident to another version of its process (clocks and
    # escalations re-planned); a closed one is history and keeps its version.
    **{
        (state, Step.MIGRATE): state
        for state in (S.DETECTED, S.TRIAGED, S.ACKNOWLEDGED, S.ON_HOLD, S.RESOLVED, S.IN_REVIEW)
    },
}

# States in which somebody still has to restore service.
ACTIVE_STATES = frozenset({S.DETECTED, S.TRIAGED, S.ACKNOWLEDGED, S.ON_HOLD})


def allowed_steps(state: IncidentState) -> list[Step]:
    """The steps possible from `state`, in the order the process lists them."""
    return [step for step in Step if (state, step) in TRANSITIONS]


def next_state(state: IncidentState, step: Step) -> IncidentState:
    """The state after `step`, or StepNotAllowed saying what is possible instead."""
    try:
        return TRANSITIONS[(state, step)]
    except KeyError:
        possible = ", ".join(allowed_steps(state)) or "none (the incident is closed)"
        raise StepNotAllowed(
            f"cannot {step.replace('_', ' ')} an incident that is {state.replace('_', ' ')}; "
            f"possible steps now: {possible}"
        ) from None
