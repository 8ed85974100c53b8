"""Who may take which step."""

import pytest
from pydantic import ValidationError

from domain.lifecycle import Step
from domain.roles import Actor, Role, may_declare, may_take

R = Role
_WORK = {
    Step.TRIAGE,
    Step.ACKNOWLEDGE,
    Step.NOTE,
    Step.POST_UPDATE,
    Step.HOLD,
    Step.RESUME,
    Step.RESOLVE,
    Step.REOPEN,
    Step.SUBMIT_REVIEW,
    Step.ESCALATE,
}

# Written from DESIGN.md, "Who uses it": responders work the incident (paging the next
# escalation level is part of that work), the commander also assigns and approves,
# process owners only review, admins do everything; issue 10: "the commander or a
# responder" posts status updates. Issue 6: "a commander or process
# owner can move one open incident to another version".
MAY_TAKE: dict[Role, set[Step]] = {
    R.VIEWER: set(),
    R.RESPONDER: _WORK,
    R.COMMANDER: set(Step),
    R.PROCESS_OWNER: {Step.NOTE, Step.REQUEST_CHANGES, Step.APPROVE_REVIEW, Step.MIGRATE},
    R.ADMIN: set(Step),
}

GRID = [(role, step) for role in Role for step in Step]


class TestStepsEachRoleMayTake:
    @pytest.mark.parametrize(("role", "step"), GRID, ids=[f"{r}-{s}" for r, s in GRID])
    def test_role_may_take_exactly_its_steps(self, role: Role, step: Step) -> None:
        assert may_take({role}, step) is (step in MAY_TAKE[role])


class TestViewer:
    @pytest.mark.parametrize("step", list(Step))
    def test_viewer_may_take_no_step(self, step: Step) -> None:
        assert not may_take({R.VIEWER}, step)

    def test_viewer_may_not_declare(self) -> None:
        assert not may_declare({R.VIEWER})


class TestResponder:
    @pytest.mark.parametrize("step", [Step.ASSIGN, Step.APPROVE_REVIEW, Step.REQUEST_CHANGES])
    def test_responder_may_not_assign_or_judge_reviews(self, step: Step) -> None:
        assert not may_take({R.RESPONDER}, step)

    def test_responder_may_escalate(self) -> None:
        assert may_take({R.RESPONDER}, Step.ESCALATE)

    def test_responder_may_declare(self) -> None:
        assert may_declare({R.RESPONDER})


class TestProcessOwner:
    @pytest.mark.parametrize("step", [Step.APPROVE_REVIEW, Step.REQUEST_CHANGES, Step.NOTE])
    def test_process_owner_may_judge_reviews_and_comment(self, step: Step) -> None:
        assert may_take({R.PROCESS_OWNER}, step)

    @pytest.mark.parametrize("step", [Step.ACKNOWLEDGE, Step.RESOLVE, Step.ASSIGN, Step.ESCALATE])
    def test_process_owner_does_not_work_incidents(self, step: Step) -> None:
        assert not may_take({R.PROCESS_OWNER}, step)

    def test_process_owner_may_not_declare(self) -> None:
        assert not may_declare({R.PROCESS_OWNER})


class TestAdmin:
    @pytest.mark.parametrize("step", list(Step))
    def test_admin_may_take_every_step(self, step: Step) -> None:
        assert may_take({R.ADMIN}, step)

    def test_admin_may_declare(self) -> None:
        assert may_declare({R.ADMIN})


class TestSeveralRoles:
    def test_roles_add_up(self) -> None:
        roles = {R.RESPONDER, R.PROCESS_OWNER}

        assert may_take(roles, Step.ACKNOWLEDGE)
        assert may_take(roles, Step.APPROVE_REVIEW)
        assert not may_take(roles, Step.ASSIGN)

    @pytest.mark.parametrize("step", list(Step))
    def test_no_roles_allow_nothing(self, step: Step) -> None:
        assert not may_take(set(), step)
        assert not may_declare(set())


class TestActor:
    def test_actor_needs_a_name(self) -> None:
        with pytest.raises(ValidationError):
            Actor(name="", roles=frozenset({R.ADMIN}))

    def test_actor_has_no_roles_by_default(self) -> None:
        assert Actor(name="guest").roles == frozenset()
