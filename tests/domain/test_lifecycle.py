"""The lifecycle table, checked against the diagram in DESIGN.md written out by hand."""

import itertools

import pytest

from domain.errors import StepNotAllowed
from domain.lifecycle import ACTIVE_STATES, IncidentState, Step, allowed_steps, next_state

S = IncidentState

# DESIGN.md, "The incident process": the arrows of the diagram, then the steps that
# keep the state (priority is "changeable later"; roles and notes change while work
# goes on, until the incident is closed; the next escalation level can be paged by
# hand until service is restored). Resolve is also possible before anyone
# acknowledged: a false alarm, or a source reporting recovery, needs no fake
# acknowledgement.
EXPECTED: dict[tuple[IncidentState, Step], IncidentState] = {
    (S.DETECTED, Step.TRIAGE): S.TRIAGED,
    (S.DETECTED, Step.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.TRIAGED, Step.ACKNOWLEDGE): S.ACKNOWLEDGED,
    (S.ACKNOWLEDGED, Step.HOLD): S.ON_HOLD,
    (S.ON_HOLD, Step.RESUME): S.ACKNOWLEDGED,
    (S.ACKNOWLEDGED, Step.RESOLVE): S.RESOLVED,
    (S.DETECTED, Step.RESOLVE): S.RESOLVED,
    (S.TRIAGED, Step.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Step.REOPEN): S.ACKNOWLEDGED,
    (S.RESOLVED, Step.SUBMIT_REVIEW): S.IN_REVIEW,
    (S.IN_REVIEW, Step.REQUEST_CHANGES): S.RESOLVED,
    (S.IN_REVIEW, Step.APPROVE_REVIEW): S.CLOSED,
    # re-triage while service is still being restored
    (S.TRIAGED, Step.TRIAGE): S.TRIAGED,
    (S.ACKNOWLEDGED, Step.TRIAGE): S.ACKNOWLEDGED,
    (S.ON_HOLD, Step.TRIAGE): S.ON_HOLD,
    # assign and note anywhere but closed
    (S.DETECTED, Step.ASSIGN): S.DETECTED,
    (S.TRIAGED, Step.ASSIGN): S.TRIAGED,
    (S.ACKNOWLEDGED, Step.ASSIGN): S.ACKNOWLEDGED,
    (S.ON_HOLD, Step.ASSIGN): S.ON_HOLD,
    (S.RESOLVED, Step.ASSIGN): S.RESOLVED,
    (S.IN_REVIEW, Step.ASSIGN): S.IN_REVIEW,
    (S.DETECTED, Step.NOTE): S.DETECTED,
    (S.TRIAGED, Step.NOTE): S.TRIAGED,
    (S.ACKNOWLEDGED, Step.NOTE): S.ACKNOWLEDGED,
    (S.ON_HOLD, Step.NOTE): S.ON_HOLD,
    (S.RESOLVED, Step.NOTE): S.RESOLVED,
    (S.IN_REVIEW, Step.NOTE): S.IN_REVIEW,
    # status updates for the people around the incident, wherever a note is possible
    (S.DETECTED, Step.POST_UPDATE): S.DETECTED,
    (S.TRIAGED, Step.POST_UPDATE): S.TRIAGED,
    (S.ACKNOWLEDGED, Step.POST_UPDATE): S.ACKNOWLEDGED,
    (S.ON_HOLD, Step.POST_UPDATE): S.ON_HOLD,
    (S.RESOLVED, Step.POST_UPDATE): S.RESOLVED,
    (S.IN_REVIEW, Step.POST_UPDATE): S.IN_REVIEW,
    # escalate while service is still being restored, acknowledged or not
    (S.DETECTED, Step.ESCALATE): S.DETECTED,
    (S.TRIAGED, Step.ESCALATE): S.TRIAGED,
    (S.ACKNOWLEDGED, Step.ESCALATE): S.ACKNOWLEDGED,
    (S.ON_HOLD, Step.ESCALATE): S.ON_HOLD,
    # move to another process version anywhere but closed (issue 6)
    (S.DETECTED, Step.MIGRATE): S.DETECTED,
    (S.TRIAGED, Step.MIGRATE): S.TRIAGED,
    (S.ACKNOWLEDGED, Step.MIGRATE): S.ACKNOWLEDGED,
    (S.ON_HOLD, Step.MIGRATE): S.ON_HOLD,
    (S.RESOLVED, Step.MIGRATE): S.RESOLVED,
    (S.IN_REVIEW, Step.MIGRATE): S.IN_REVIEW,
}

# What the web console offers in each state, in the order the process lists the steps.
OFFERED: dict[IncidentState, list[Step]] = {
    S.DETECTED: [
        Step.TRIAGE,
        Step.ACKNOWLEDGE,
        Step.ASSIGN,
        Step.NOTE,
        Step.POST_UPDATE,
        Step.RESOLVE,
        Step.ESCALATE,
        Step.MIGRATE,
    ],
    S.TRIAGED: [
        Step.TRIAGE,
        Step.ACKNOWLEDGE,
        Step.ASSIGN,
        Step.NOTE,
        Step.POST_UPDATE,
        Step.RESOLVE,
        Step.ESCALATE,
        Step.MIGRATE,
    ],
    S.ACKNOWLEDGED: [
        Step.TRIAGE,
        Step.ASSIGN,
        Step.NOTE,
        Step.POST_UPDATE,
        Step.HOLD,
        Step.RESOLVE,
        Step.ESCALATE,
        Step.MIGRATE,
    ],
    S.ON_HOLD: [
        Step.TRIAGE,
        Step.ASSIGN,
        Step.NOTE,
        Step.POST_UPDATE,
        Step.RESUME,
        Step.ESCALATE,
        Step.MIGRATE,
    ],
    S.RESOLVED: [
        Step.ASSIGN,
        Step.NOTE,
        Step.POST_UPDATE,
        Step.REOPEN,
        Step.SUBMIT_REVIEW,
        Step.MIGRATE,
    ],
    S.IN_REVIEW: [
        Step.ASSIGN,
        Step.NOTE,
        Step.POST_UPDATE,
        Step.REQUEST_CHANGES,
        Step.APPROVE_REVIEW,
        Step.MIGRATE,
    ],
    S.CLOSED: [],
}

REFUSED = [
    (state, step)
    for state, step in itertools.product(IncidentState, Step)
    if (state, step) not in EXPECTED
]


def _pair_id(pair: tuple[IncidentState, Step]) -> str:
    return f"{pair[0]}-{pair[1]}"


class TestAllowedStepsMoveAsDrawn:
    @pytest.mark.parametrize(
        ("state", "step", "after"),
        [(state, step, after) for (state, step), after in EXPECTED.items()],
        ids=[_pair_id(pair) for pair in EXPECTED],
    )
    def test_step_leads_to_the_documented_state(
        self, state: IncidentState, step: Step, after: IncidentState
    ) -> None:
        assert next_state(state, step) == after


class TestEveryOtherStepIsRefused:
    @pytest.mark.parametrize(("state", "step"), REFUSED, ids=[_pair_id(p) for p in REFUSED])
    def test_refusal_names_the_step_the_state_and_what_is_possible(
        self, state: IncidentState, step: Step
    ) -> None:
        with pytest.raises(StepNotAllowed) as refused:
            next_state(state, step)

        message = refused.value.message
        assert f"cannot {step.replace('_', ' ')} " in message
        assert f"an incident that is {state.replace('_', ' ')};" in message
        possible = ", ".join(OFFERED[state]) or "none (the incident is closed)"
        assert message.endswith(f"possible steps now: {possible}")

    def test_refusal_is_a_conflict(self) -> None:
        with pytest.raises(StepNotAllowed) as refused:
            next_state(S.CLOSED, Step.REOPEN)

        assert refused.value.status == 409

    def test_the_table_covers_every_pair(self) -> None:
        assert len(EXPECTED) + len(REFUSED) == len(IncidentState) * len(Step)


class TestClosedIncidentAllowsNothing:
    def test_no_step_is_offered(self) -> None:
        assert allowed_steps(S.CLOSED) == []

    @pytest.mark.parametrize("step", list(Step))
    def test_every_step_is_refused(self, step: Step) -> None:
        with pytest.raises(StepNotAllowed, match=r"none \(the incident is closed\)"):
            next_state(S.CLOSED, step)


class TestOfferedStepsFollowTheProcessOrder:
    @pytest.mark.parametrize("state", list(IncidentState))
    def test_steps_offered_in_process_order(self, state: IncidentState) -> None:
        assert allowed_steps(state) == OFFERED[state]

    @pytest.mark.parametrize("state", list(IncidentState))
    def test_offered_steps_are_exactly_those_that_move(self, state: IncidentState) -> None:
        assert set(allowed_steps(state)) == {step for (s, step) in EXPECTED if s == state}


class TestEscalateKeepsTheState:
    @pytest.mark.parametrize("state", sorted(ACTIVE_STATES))
    def test_escalate_possible_while_active(self, state: IncidentState) -> None:
        assert next_state(state, Step.ESCALATE) == state

    @pytest.mark.parametrize("state", [S.RESOLVED, S.IN_REVIEW, S.CLOSED])
    def test_nobody_is_paged_once_service_is_restored(self, state: IncidentState) -> None:
        with pytest.raises(StepNotAllowed, match="cannot escalate an incident that is"):
            next_state(state, Step.ESCALATE)


class TestActiveStates:
    def test_active_until_service_is_restored(self) -> None:
        assert {S.DETECTED, S.TRIAGED, S.ACKNOWLEDGED, S.ON_HOLD} == ACTIVE_STATES

    @pytest.mark.parametrize("state", [S.RESOLVED, S.IN_REVIEW, S.CLOSED])
    def test_restored_incidents_are_not_active(self, state: IncidentState) -> None:
        assert state not in ACTIVE_STATES


class TestResolveWithoutAcknowledgement:
    @pytest.mark.parametrize("state", [S.DETECTED, S.TRIAGED, S.ACKNOWLEDGED])
    def test_resolvable_whether_acknowledged_or_not(self, state: IncidentState) -> None:
        assert next_state(state, Step.RESOLVE) == S.RESOLVED

    def test_on_hold_must_resume_first(self) -> None:
        with pytest.raises(StepNotAllowed, match=r"cannot resolve .*possible steps now: .*resume"):
            next_state(S.ON_HOLD, Step.RESOLVE)
