"""An incident walked step by step through the process: effects, refusals and the timeline."""

import contextlib

import pytest
from pydantic import ValidationError

from domain.errors import Forbidden, InvalidStep, StepNotAllowed
from domain.incident import STEPS_BY_EVENT, Incident
from domain.lifecycle import TRANSITIONS, IncidentState, Step
from domain.priority import Priority, PriorityMatrix
from domain.process import ProcessDefinition, ReviewRequirements
from domain.requests import (
    AssignRequest,
    EscalateRequest,
    NoteRequest,
    ResolveRequest,
    StepRequest,
    SubmitReviewRequest,
    TriageRequest,
)
from domain.roles import Actor, Role
from domain.timeline import EventKind
from tests.domain.builders import (
    ACTION_ITEM,
    ADA,
    ALICE,
    BOB,
    CAROL,
    DAVE,
    ESCALATING,
    OLIVE,
    PATHS,
    REQUESTS,
    T0,
    VIC,
    at,
    declare,
    incident_in,
    take,
)

S = IncidentState
P = Priority
SERVICES = ProcessDefinition(services=["checkout", "ledger"])


def _review(action_items: int) -> SubmitReviewRequest:
    return SubmitReviewRequest(root_cause="Disk failure", action_items=[ACTION_ITEM] * action_items)


class TestDeclare:
    def test_priority_comes_from_the_matrix(self) -> None:
        assert declare(impact=1, urgency=2).priority == P.P2
        assert declare(impact=3, urgency=3).priority == P.P5

    def test_priority_comes_from_the_process_matrix(self) -> None:
        strict = ProcessDefinition(priority_matrix=PriorityMatrix(rows=[[P.P1] * 3] * 3))

        assert declare(impact=3, urgency=3, process=strict).priority == P.P1

    def test_new_incident_is_detected_and_names_who_declared_it(self) -> None:
        incident = declare(by=BOB, category="database", service="checkout")

        assert incident.state == S.DETECTED
        assert (incident.declared_by, incident.declared_at, incident.updated_at) == ("bob", T0, T0)
        assert (incident.category, incident.service) == ("database", "checkout")
        assert incident.commander is None
        assert incident.responders == []

    def test_declaration_is_the_first_event(self) -> None:
        incident = declare(by=BOB)

        [event] = incident.timeline
        assert event.kind == EventKind.DECLARED
        assert (event.actor, event.seq, event.at, event.incident_id) == ("bob", 1, T0, 42)
        assert event.details["title"] == "Checkout failing"
        assert (event.details["impact"], event.details["urgency"]) == (1, 2)

    def test_unknown_category_refused_naming_the_known_ones(self) -> None:
        with pytest.raises(InvalidStep, match=r"unknown category 'payments'.*database"):
            declare(category="payments")

    def test_unknown_service_refused_when_the_process_lists_services(self) -> None:
        with pytest.raises(InvalidStep, match=r"unknown service 'search'.*checkout, ledger"):
            declare(service="search", process=SERVICES)

    def test_listed_service_accepted(self) -> None:
        assert declare(service="ledger", process=SERVICES).service == "ledger"

    def test_any_service_accepted_when_the_process_lists_none(self) -> None:
        assert declare(service="search").service == "search"


class TestTriage:
    def test_triage_sets_priority_and_records_the_previous_one(self) -> None:
        incident = declare(impact=3, urgency=3)

        event = take(incident, Step.TRIAGE)

        assert incident.state == S.TRIAGED
        assert (incident.impact, incident.urgency, incident.priority) == (1, 1, P.P1)
        assert event.kind == EventKind.TRIAGED
        assert (event.details["priority"], event.details["previous"]) == (P.P1, P.P5)

    def test_triage_sets_category_service_and_title(self) -> None:
        incident = declare()
        request = TriageRequest(
            impact=2, urgency=2, category="network", service="edge", title="Edge 502s"
        )

        take(incident, Step.TRIAGE, request=request)

        assert (incident.category, incident.service, incident.title) == (
            "network",
            "edge",
            "Edge 502s",
        )

    def test_triage_without_title_keeps_the_title(self) -> None:
        incident = declare()

        take(incident, Step.TRIAGE)

        assert incident.title == "Checkout failing"

    @pytest.mark.parametrize("state", [S.ACKNOWLEDGED, S.ON_HOLD])
    def test_re_triage_changes_priority_but_not_state(self, state: IncidentState) -> None:
        incident = incident_in(state, impact=3, urgency=3)

        take(incident, Step.TRIAGE)

        assert (incident.state, incident.priority) == (state, P.P1)

    def test_unknown_category_refused(self) -> None:
        incident = declare()
        request = TriageRequest(impact=1, urgency=1, category="payments", service="checkout")

        with pytest.raises(InvalidStep, match="unknown category 'payments'"):
            take(incident, Step.TRIAGE, request=request)

    def test_unknown_service_refused(self) -> None:
        incident = declare(process=SERVICES)
        request = TriageRequest(impact=1, urgency=1, category="database", service="search")

        with pytest.raises(InvalidStep, match=r"unknown service 'search'.*checkout, ledger"):
            take(incident, Step.TRIAGE, request=request)


class TestAcknowledge:
    @pytest.mark.parametrize("state", [S.DETECTED, S.TRIAGED])
    def test_acknowledge_moves_to_acknowledged(self, state: IncidentState) -> None:
        incident = incident_in(state)

        event = take(incident, Step.ACKNOWLEDGE, BOB)

        assert incident.state == S.ACKNOWLEDGED
        assert incident.acknowledged_at == event.at
        assert event.kind == EventKind.ACKNOWLEDGED

    def test_acknowledged_at_is_kept_through_hold_and_reopen(self) -> None:
        incident = declare()
        first = take(incident, Step.ACKNOWLEDGE)

        for step in (Step.HOLD, Step.RESUME, Step.RESOLVE, Step.REOPEN):
            take(incident, step)

        assert incident.acknowledged_at == first.at

    def test_acknowledger_joins_the_responders(self) -> None:
        incident = declare()

        take(incident, Step.ACKNOWLEDGE, BOB)

        assert incident.responders == ["bob"]

    def test_existing_responder_is_not_listed_twice(self) -> None:
        incident = declare()
        take(incident, Step.ASSIGN, ADA, AssignRequest(responders=["bob", "alice"]))

        take(incident, Step.ACKNOWLEDGE, BOB)

        assert incident.responders == ["bob", "alice"]

    def test_commander_acknowledging_is_not_made_a_responder(self) -> None:
        incident = declare()
        take(incident, Step.ASSIGN, ADA, AssignRequest(commander="carol"))

        take(incident, Step.ACKNOWLEDGE, CAROL)

        assert incident.responders == []

    def test_incidents_do_not_share_responders(self) -> None:
        first, second = declare(), declare()

        take(first, Step.ACKNOWLEDGE, BOB)

        assert second.responders == []

    @pytest.mark.parametrize("state", [S.ACKNOWLEDGED, S.RESOLVED, S.CLOSED])
    def test_acknowledge_refused_once_work_has_started(self, state: IncidentState) -> None:
        incident = incident_in(state)

        with pytest.raises(StepNotAllowed, match=f"cannot acknowledge .* {state}"):
            take(incident, Step.ACKNOWLEDGE)


class TestAssign:
    def test_commander_assigned(self) -> None:
        incident = declare()

        event = take(incident, Step.ASSIGN, ADA, AssignRequest(commander="carol"))

        assert incident.commander == "carol"
        assert incident.state == S.DETECTED
        assert event.kind == EventKind.ASSIGNED
        assert event.details == {"commander": "carol", "responders": []}

    def test_responders_replaced_without_duplicates_in_given_order(self) -> None:
        incident = declare()
        take(incident, Step.ACKNOWLEDGE, BOB)

        take(incident, Step.ASSIGN, CAROL, AssignRequest(responders=["erin", "alice", "erin"]))

        assert incident.responders == ["erin", "alice"]

    def test_commander_only_leaves_responders_alone(self) -> None:
        incident = declare()
        take(incident, Step.ACKNOWLEDGE, BOB)

        take(incident, Step.ASSIGN, ADA, AssignRequest(commander="carol"))

        assert (incident.commander, incident.responders) == ("carol", ["bob"])

    def test_responder_may_not_assign(self) -> None:
        incident = declare()

        with pytest.raises(Forbidden, match="alice may not assign"):
            take(incident, Step.ASSIGN, ALICE)


class TestNote:
    @pytest.mark.parametrize("state", [S.DETECTED, S.ON_HOLD, S.IN_REVIEW])
    def test_note_recorded_without_changing_state(self, state: IncidentState) -> None:
        incident = incident_in(state)

        event = take(incident, Step.NOTE, BOB, NoteRequest(text="  replica lag at 40s  "))

        assert incident.state == state
        assert (event.kind, event.details) == (EventKind.NOTE_ADDED, {"text": "replica lag at 40s"})

    def test_process_owner_may_add_a_note(self) -> None:
        incident = incident_in(S.IN_REVIEW)

        assert take(incident, Step.NOTE, OLIVE).actor == "olive"


class TestHoldAndResume:
    def test_hold_records_the_reason(self) -> None:
        incident = incident_in(S.ACKNOWLEDGED)

        event = take(incident, Step.HOLD)

        assert incident.state == S.ON_HOLD
        assert incident.hold_reason == "waiting for the storage vendor"
        assert (event.kind, event.details) == (
            EventKind.PUT_ON_HOLD,
            {"reason": "waiting for the storage vendor"},
        )

    def test_resume_clears_the_reason(self) -> None:
        incident = incident_in(S.ON_HOLD)

        event = take(incident, Step.RESUME)

        assert incident.state == S.ACKNOWLEDGED
        assert incident.hold_reason is None
        assert event.kind == EventKind.RESUMED

    def test_cannot_resolve_while_on_hold(self) -> None:
        incident = incident_in(S.ON_HOLD)

        with pytest.raises(StepNotAllowed, match=r"possible steps now: .*resume"):
            take(incident, Step.RESOLVE)


class TestResolve:
    def test_resolution_recorded(self) -> None:
        incident = incident_in(S.ACKNOWLEDGED)

        event = take(incident, Step.RESOLVE, BOB)

        assert incident.state == S.RESOLVED
        assert incident.resolved_at == event.at
        assert incident.resolution is not None
        assert incident.resolution.summary == "Failed over to the replica"
        assert incident.resolution.root_cause_category == "hardware"
        assert (incident.resolution.resolved_by, incident.resolution.resolved_at) == (
            "bob",
            event.at,
        )
        assert event.kind == EventKind.RESOLVED
        assert event.details["root_cause_category"] == "hardware"

    def test_unknown_root_cause_category_refused_listing_known_ones(self) -> None:
        incident = incident_in(S.ACKNOWLEDGED)
        request = ResolveRequest(summary="restarted", root_cause_category="gremlins")

        with pytest.raises(InvalidStep) as refused:
            take(incident, Step.RESOLVE, request=request)

        assert "unknown root-cause category 'gremlins'" in refused.value.message
        assert "change, configuration, code_defect" in refused.value.message
        assert refused.value.status == 422

    def test_root_cause_categories_come_from_the_process(self) -> None:
        process = ProcessDefinition(root_cause_categories=["gremlins"])
        incident = incident_in(S.ACKNOWLEDGED, process=process)
        request = ResolveRequest(summary="restarted", root_cause_category="gremlins")

        take(incident, Step.RESOLVE, request=request)

        assert incident.state == S.RESOLVED


class TestResolveWithoutAcknowledgement:
    """A false alarm, or a source reporting recovery, needs no fake acknowledgement."""

    @pytest.mark.parametrize("state", [S.DETECTED, S.TRIAGED])
    def test_resolution_recorded_without_an_acknowledgement(self, state: IncidentState) -> None:
        incident = incident_in(state)

        event = take(incident, Step.RESOLVE, BOB)

        assert incident.state == S.RESOLVED
        assert incident.resolved_at == event.at
        assert incident.resolution is not None
        assert (incident.resolution.resolved_by, incident.resolution.root_cause_category) == (
            "bob",
            "hardware",
        )
        assert incident.acknowledged_at is None
        assert EventKind.ACKNOWLEDGED not in [e.kind for e in incident.timeline]
        assert event.kind == EventKind.RESOLVED

    def test_resolver_is_not_made_a_responder(self) -> None:
        incident = declare()

        take(incident, Step.RESOLVE, BOB)

        assert incident.responders == []

    def test_unknown_root_cause_category_refused_here_too(self) -> None:
        incident = declare()
        request = ResolveRequest(summary="false alarm", root_cause_category="gremlins")

        with pytest.raises(InvalidStep, match="unknown root-cause category 'gremlins'"):
            take(incident, Step.RESOLVE, request=request)
        assert (incident.state, incident.seq) == (S.DETECTED, 1)

    def test_cannot_be_acknowledged_afterwards(self) -> None:
        incident = declare()
        take(incident, Step.RESOLVE)

        with pytest.raises(StepNotAllowed, match="cannot acknowledge an incident that is resolved"):
            take(incident, Step.ACKNOWLEDGE)

    def test_viewer_may_not_resolve_a_new_incident(self) -> None:
        with pytest.raises(Forbidden, match="vic may not resolve"):
            take(declare(), Step.RESOLVE, VIC)


class TestReopen:
    def test_reopen_clears_the_resolution(self) -> None:
        incident = incident_in(S.RESOLVED)

        event = take(incident, Step.REOPEN)

        assert incident.state == S.ACKNOWLEDGED
        assert (incident.resolution, incident.resolved_at) == (None, None)
        assert (event.kind, event.details) == (
            EventKind.REOPENED,
            {"reason": "errors are back", "acknowledges": False},
        )

    def test_reopen_after_changes_requested_clears_the_review(self) -> None:
        incident = incident_in(S.IN_REVIEW)
        take(incident, Step.REQUEST_CHANGES, OLIVE)

        take(incident, Step.REOPEN)

        assert incident.review is None
        assert incident.resolution is None

    def test_cannot_reopen_a_closed_incident(self) -> None:
        incident = incident_in(S.CLOSED)

        with pytest.raises(StepNotAllowed, match="cannot reopen an incident that is closed"):
            take(incident, Step.REOPEN)


class TestSubmitReview:
    def test_review_recorded_with_its_author(self) -> None:
        incident = incident_in(S.RESOLVED)

        event = take(incident, Step.SUBMIT_REVIEW, BOB)

        assert incident.state == S.IN_REVIEW
        assert incident.review is not None
        assert (incident.review.author, incident.review.submitted_at) == ("bob", event.at)
        assert incident.review.root_cause == "Disk failure on the primary"
        assert incident.review.action_items == [ACTION_ITEM]
        assert incident.review.approved_by is None
        assert event.kind == EventKind.REVIEW_SUBMITTED
        assert event.details["action_items"][0]["due_date"] == "2025-03-31"

    @pytest.mark.parametrize(("impact", "urgency"), [(1, 1), (1, 2)], ids=["P1", "P2"])
    def test_p1_and_p2_need_an_action_item(self, impact: int, urgency: int) -> None:
        incident = incident_in(S.RESOLVED, impact=impact, urgency=urgency)

        with pytest.raises(InvalidStep, match=r"needs at least 1 action item.*it has 0"):
            take(incident, Step.SUBMIT_REVIEW, request=_review(action_items=0))

    @pytest.mark.parametrize(("impact", "urgency"), [(1, 1), (1, 2)], ids=["P1", "P2"])
    def test_p1_and_p2_accept_one_action_item(self, impact: int, urgency: int) -> None:
        incident = incident_in(S.RESOLVED, impact=impact, urgency=urgency)

        take(incident, Step.SUBMIT_REVIEW, request=_review(action_items=1))

        assert incident.state == S.IN_REVIEW

    @pytest.mark.parametrize(
        ("impact", "urgency"), [(2, 2), (2, 3), (3, 3)], ids=["P3", "P4", "P5"]
    )
    def test_lower_priorities_need_no_action_items(self, impact: int, urgency: int) -> None:
        incident = incident_in(S.RESOLVED, impact=impact, urgency=urgency)

        take(incident, Step.SUBMIT_REVIEW, request=_review(action_items=0))

        assert incident.state == S.IN_REVIEW

    def test_requirement_follows_current_priority_after_triage(self) -> None:
        incident = declare(impact=3, urgency=3)
        take(incident, Step.TRIAGE)  # now P1
        take(incident, Step.ACKNOWLEDGE)
        take(incident, Step.RESOLVE)

        with pytest.raises(InvalidStep, match="a P1 review"):
            take(incident, Step.SUBMIT_REVIEW, request=_review(action_items=0))

    def test_process_may_ask_for_more(self) -> None:
        process = ProcessDefinition(review=ReviewRequirements(min_action_items={P.P3: 2}))
        incident = incident_in(S.RESOLVED, impact=2, urgency=2, process=process)

        with pytest.raises(InvalidStep, match="needs at least 2"):
            take(incident, Step.SUBMIT_REVIEW, request=_review(action_items=1))


class TestRequestChanges:
    def test_goes_back_to_resolved_keeping_the_review_with_the_reason(self) -> None:
        incident = incident_in(S.IN_REVIEW)

        event = take(incident, Step.REQUEST_CHANGES, OLIVE)

        assert incident.state == S.RESOLVED
        assert incident.review is not None
        assert incident.review.root_cause == "Disk failure on the primary"
        assert incident.review.changes_requested == "say why failover took 40 minutes"
        assert incident.resolution is not None
        assert event.kind == EventKind.CHANGES_REQUESTED
        assert event.details == {"reason": "say why failover took 40 minutes"}

    def test_resubmitting_replaces_the_review(self) -> None:
        incident = incident_in(S.IN_REVIEW)
        take(incident, Step.REQUEST_CHANGES, OLIVE)
        revised = SubmitReviewRequest(
            root_cause="Disk failure; failover was manual", action_items=[ACTION_ITEM]
        )

        take(incident, Step.SUBMIT_REVIEW, BOB, revised)

        assert incident.review is not None
        assert incident.review.root_cause == "Disk failure; failover was manual"
        assert incident.review.author == "bob"
        assert incident.review.changes_requested is None

    def test_author_may_not_request_changes_to_own_review(self) -> None:
        incident = incident_in(S.IN_REVIEW)
        take(incident, Step.ASSIGN, ADA, AssignRequest(commander="alice"))

        with pytest.raises(Forbidden, match="alice wrote this review"):
            take(incident, Step.REQUEST_CHANGES, Actor(name="alice", roles=frozenset(Role)))

    def test_responder_may_not_request_changes(self) -> None:
        incident = incident_in(S.IN_REVIEW)

        with pytest.raises(Forbidden):
            take(incident, Step.REQUEST_CHANGES, BOB)


class TestApproveReview:
    def test_approval_closes_the_incident(self) -> None:
        incident = incident_in(S.IN_REVIEW)

        event = take(incident, Step.APPROVE_REVIEW, OLIVE)

        assert incident.state == S.CLOSED
        assert incident.closed_at == event.at
        assert incident.review is not None
        assert (incident.review.approved_by, incident.review.approved_at) == ("olive", event.at)
        assert (event.kind, event.details) == (
            EventKind.REVIEW_APPROVED,
            {"comment": "good review"},
        )

    def test_incident_commander_who_did_not_write_it_may_approve(self) -> None:
        incident = incident_in(S.IN_REVIEW)
        take(incident, Step.ASSIGN, ADA, AssignRequest(commander="carol"))

        take(incident, Step.APPROVE_REVIEW, CAROL)

        assert incident.state == S.CLOSED

    @pytest.mark.parametrize("approver", [OLIVE, ADA], ids=["process_owner", "admin"])
    def test_approver_role_may_approve_without_commanding(self, approver: Actor) -> None:
        incident = incident_in(S.IN_REVIEW)

        take(incident, Step.APPROVE_REVIEW, approver)

        assert incident.state == S.CLOSED

    @pytest.mark.parametrize(
        "author",
        [
            Actor(name="olive", roles=frozenset({Role.PROCESS_OWNER, Role.RESPONDER})),
            Actor(name="ada", roles=frozenset({Role.ADMIN})),
        ],
        ids=["process_owner", "admin"],
    )
    def test_nobody_approves_their_own_review(self, author: Actor) -> None:
        incident = incident_in(S.RESOLVED)
        take(incident, Step.SUBMIT_REVIEW, author)

        with pytest.raises(Forbidden, match=f"{author.name} wrote this review") as refused:
            take(incident, Step.APPROVE_REVIEW, author)

        assert refused.value.status == 403

    def test_commander_does_not_approve_own_review(self) -> None:
        incident = incident_in(S.RESOLVED)
        take(incident, Step.ASSIGN, ADA, AssignRequest(commander="carol"))
        take(incident, Step.SUBMIT_REVIEW, CAROL)

        with pytest.raises(Forbidden, match="carol wrote this review"):
            take(incident, Step.APPROVE_REVIEW, CAROL)

    def test_plain_responder_may_not_approve(self) -> None:
        incident = incident_in(S.IN_REVIEW)

        with pytest.raises(Forbidden, match=r"only the incident's commander \(nobody yet\)"):
            take(incident, Step.APPROVE_REVIEW, BOB)

    def test_incident_commander_approves_whatever_their_global_roles(self) -> None:
        incident = incident_in(S.IN_REVIEW)
        take(incident, Step.ASSIGN, ADA, AssignRequest(commander="bob"))

        assert Step.APPROVE_REVIEW in incident.allowed_steps(BOB)
        take(incident, Step.APPROVE_REVIEW, BOB)

        assert incident.state is S.CLOSED

    def test_commander_of_another_incident_may_not_approve(self) -> None:
        incident = incident_in(S.IN_REVIEW)
        take(incident, Step.ASSIGN, ADA, AssignRequest(commander="carol"))

        with pytest.raises(Forbidden, match=r"only the incident's commander \(carol\)"):
            take(incident, Step.APPROVE_REVIEW, DAVE)

    def test_without_a_commander_only_approver_roles_may_approve(self) -> None:
        incident = incident_in(S.IN_REVIEW)

        with pytest.raises(
            Forbidden,
            match=r"commander \(nobody yet\) or someone with the role admin or process_owner",
        ):
            take(incident, Step.APPROVE_REVIEW, CAROL)

    def test_approver_roles_come_from_the_process(self) -> None:
        process = ProcessDefinition(
            review=ReviewRequirements(approver_roles=frozenset({Role.ADMIN}))
        )
        incident = incident_in(S.IN_REVIEW, process=process)

        with pytest.raises(Forbidden):
            take(incident, Step.APPROVE_REVIEW, OLIVE)
        take(incident, Step.APPROVE_REVIEW, ADA)
        assert incident.state == S.CLOSED


class TestEscalate:
    def test_escalate_pages_the_next_level_and_keeps_the_state(self) -> None:
        incident = incident_in(S.TRIAGED, process=ESCALATING)

        event = take(incident, Step.ESCALATE, BOB)

        assert incident.state == S.TRIAGED
        assert (event.kind, event.actor) == (EventKind.ESCALATED, "bob")
        assert event.details == {
            "reason": "the database team is needed",
            "policy": "ops",
            "level": 1,
            "targets": ["channel:ops"],
            "notified": ["-:ops:-"],
            "problems": [],
        }

    def test_each_escalation_pages_the_following_level(self) -> None:
        incident = incident_in(S.ACKNOWLEDGED, process=ESCALATING)

        levels = [take(incident, Step.ESCALATE).details["level"] for _ in range(2)]

        assert levels == [1, 2]

    def test_refused_once_every_level_has_been_paged(self) -> None:
        incident = incident_in(S.ON_HOLD, process=ESCALATING)
        take(incident, Step.ESCALATE)
        take(incident, Step.ESCALATE)

        with pytest.raises(StepNotAllowed, match="every level of its escalation policies"):
            take(incident, Step.ESCALATE)

    def test_refused_when_no_policy_applies_to_the_priority(self) -> None:
        incident = declare()

        with pytest.raises(StepNotAllowed) as refused:
            take(incident, Step.ESCALATE)

        assert refused.value.message == "no escalation policy applies to this incident's priority"
        assert refused.value.status == 409
        assert incident.seq == 1

    def test_reason_is_required(self) -> None:
        with pytest.raises(ValidationError):
            EscalateRequest(reason="  ")

    @pytest.mark.parametrize("state", [S.RESOLVED, S.IN_REVIEW])
    def test_nobody_is_paged_once_service_is_restored(self, state: IncidentState) -> None:
        incident = incident_in(state, process=ESCALATING)

        shown = state.replace("_", " ")
        with pytest.raises(StepNotAllowed, match=f"cannot escalate an incident that is {shown}"):
            take(incident, Step.ESCALATE)

    def test_process_owner_may_not_escalate(self) -> None:
        incident = declare(process=ESCALATING)

        with pytest.raises(Forbidden, match="olive may not escalate"):
            take(incident, Step.ESCALATE, OLIVE)


class TestClosedIncident:
    def test_acknowledging_a_closed_incident_is_refused(self) -> None:
        incident = incident_in(S.CLOSED)

        with pytest.raises(StepNotAllowed) as refused:
            take(incident, Step.ACKNOWLEDGE)

        assert refused.value.status == 409
        assert "none (the incident is closed)" in refused.value.message

    @pytest.mark.parametrize("actor", [ALICE, CAROL, OLIVE, ADA])
    def test_nothing_is_offered(self, actor: Actor) -> None:
        assert incident_in(S.CLOSED).allowed_steps(actor) == []


# A state in which each step is possible, so only the actor's roles can refuse it.
_POSSIBLE_IN: dict[Step, IncidentState] = {
    Step.TRIAGE: S.DETECTED,
    Step.ACKNOWLEDGE: S.DETECTED,
    Step.ASSIGN: S.DETECTED,
    Step.NOTE: S.DETECTED,
    Step.POST_UPDATE: S.ACKNOWLEDGED,
    Step.HOLD: S.ACKNOWLEDGED,
    Step.RESUME: S.ON_HOLD,
    Step.RESOLVE: S.ACKNOWLEDGED,
    Step.REOPEN: S.RESOLVED,
    Step.SUBMIT_REVIEW: S.RESOLVED,
    Step.REQUEST_CHANGES: S.IN_REVIEW,
    Step.APPROVE_REVIEW: S.IN_REVIEW,
    Step.ESCALATE: S.DETECTED,
    Step.MIGRATE: S.DETECTED,
}


class TestViewerMayDoNothing:
    @pytest.mark.parametrize("step", list(Step))
    def test_viewer_refused_every_step(self, step: Step) -> None:
        incident = incident_in(_POSSIBLE_IN[step])

        refusal = r"vic may not|only the incident's commander"
        with pytest.raises(Forbidden, match=refusal) as refused:
            take(incident, step, VIC)

        assert refused.value.status == 403

    @pytest.mark.parametrize("state", list(IncidentState))
    def test_viewer_is_offered_nothing(self, state: IncidentState) -> None:
        assert incident_in(state).allowed_steps(VIC) == []


# (state, step, actor, request) cases for `check`: some pass, some are refused.
_CHECKS: list[tuple[IncidentState, Step, Actor, StepRequest]] = [
    (S.DETECTED, Step.TRIAGE, ALICE, REQUESTS[Step.TRIAGE]),
    (S.DETECTED, Step.ACKNOWLEDGE, ALICE, REQUESTS[Step.ACKNOWLEDGE]),
    (S.ACKNOWLEDGED, Step.RESOLVE, ALICE, REQUESTS[Step.RESOLVE]),
    (S.DETECTED, Step.RESOLVE, ALICE, REQUESTS[Step.RESOLVE]),
    (S.TRIAGED, Step.RESOLVE, ALICE, REQUESTS[Step.RESOLVE]),
    (S.ON_HOLD, Step.RESOLVE, ALICE, REQUESTS[Step.RESOLVE]),
    (S.IN_REVIEW, Step.APPROVE_REVIEW, OLIVE, REQUESTS[Step.APPROVE_REVIEW]),
    (S.IN_REVIEW, Step.APPROVE_REVIEW, ALICE, REQUESTS[Step.APPROVE_REVIEW]),
    (S.CLOSED, Step.ACKNOWLEDGE, ALICE, REQUESTS[Step.ACKNOWLEDGE]),
    (S.DETECTED, Step.ASSIGN, VIC, REQUESTS[Step.ASSIGN]),
    (
        S.ACKNOWLEDGED,
        Step.RESOLVE,
        ALICE,
        ResolveRequest(summary="x", root_cause_category="gremlins"),
    ),
    (S.RESOLVED, Step.SUBMIT_REVIEW, ALICE, _review(action_items=0)),
    # the default process has no escalation policy: refused by the watch, which must
    # not start or fire anything while saying so
    (S.DETECTED, Step.ESCALATE, ALICE, REQUESTS[Step.ESCALATE]),
]


class TestCheckNeverChangesTheIncident:
    @pytest.mark.parametrize(
        ("state", "step", "actor", "request_"),
        _CHECKS,
        ids=[f"{state}-{step}-{actor.name}" for state, step, actor, _ in _CHECKS],
    )
    def test_check_leaves_the_state_as_it_was(
        self, state: IncidentState, step: Step, actor: Actor, request_: StepRequest
    ) -> None:
        incident = incident_in(state)
        before = incident.model_dump()

        with contextlib.suppress(StepNotAllowed, Forbidden, InvalidStep):
            incident.check(step, request_, actor)

        assert incident.model_dump() == before

    @pytest.mark.parametrize("state", [S.DETECTED, S.ACKNOWLEDGED])
    def test_checking_escalate_pages_nobody(self, state: IncidentState) -> None:
        incident = incident_in(state, process=ESCALATING)
        before = incident.model_dump()

        incident.check(Step.ESCALATE, REQUESTS[Step.ESCALATE], ALICE)

        assert incident.model_dump() == before

    def test_refused_apply_leaves_no_trace(self) -> None:
        incident = incident_in(S.RESOLVED)
        before = incident.model_dump()

        with pytest.raises(InvalidStep):
            take(incident, Step.SUBMIT_REVIEW, request=_review(action_items=0))

        assert incident.model_dump() == before


class TestTimeline:
    def _walked(self) -> Incident:
        incident = incident_in(S.IN_REVIEW)
        take(incident, Step.NOTE, OLIVE)
        take(incident, Step.APPROVE_REVIEW, OLIVE)
        return incident

    def test_event_ids_are_unique(self) -> None:
        incident = self._walked()

        ids = [event.id for event in incident.timeline]
        assert len(set(ids)) == len(ids)

    def test_seq_counts_up_from_one(self) -> None:
        incident = self._walked()

        assert [event.seq for event in incident.timeline] == list(range(1, 7))
        assert incident.seq == 6

    def test_every_event_names_its_actor(self) -> None:
        incident = self._walked()

        assert [event.actor for event in incident.timeline] == [
            "alice",
            "alice",
            "alice",
            "alice",
            "olive",
            "olive",
        ]

    def test_event_ids_are_stable_per_incident_and_seq(self) -> None:
        incident = incident_in(S.ACKNOWLEDGED)

        assert [event.id for event in incident.timeline] == ["incident-42:1", "incident-42:2"]
        assert {event.incident_id for event in incident.timeline} == {42}

    def test_apply_returns_the_event_it_records(self) -> None:
        incident = declare()

        event = take(incident, Step.ACKNOWLEDGE)

        assert incident.timeline[-1] == event
        assert incident.updated_at == event.at == at(1)

    def test_each_step_records_its_kind(self) -> None:
        incident = incident_in(S.CLOSED)

        assert [event.kind for event in incident.timeline] == [
            EventKind.DECLARED,
            EventKind.ACKNOWLEDGED,
            EventKind.RESOLVED,
            EventKind.REVIEW_SUBMITTED,
            EventKind.REVIEW_APPROVED,
        ]


class TestStepsOfferedToEachPerson:
    def test_responder_in_a_new_incident(self) -> None:
        assert declare(process=ESCALATING).allowed_steps(ALICE) == [
            Step.TRIAGE,
            Step.ACKNOWLEDGE,
            Step.NOTE,
            Step.POST_UPDATE,
            Step.RESOLVE,
            Step.ESCALATE,
        ]

    def test_admin_in_a_new_incident(self) -> None:
        assert declare(process=ESCALATING).allowed_steps(ADA) == [
            Step.TRIAGE,
            Step.ACKNOWLEDGE,
            Step.ASSIGN,
            Step.NOTE,
            Step.POST_UPDATE,
            Step.RESOLVE,
            Step.ESCALATE,
            Step.MIGRATE,
        ]

    def test_process_owner_is_not_offered_escalate(self) -> None:
        assert declare(process=ESCALATING).allowed_steps(OLIVE) == [Step.NOTE, Step.MIGRATE]

    def test_process_owner_in_review(self) -> None:
        assert incident_in(S.IN_REVIEW).allowed_steps(OLIVE) == [
            Step.NOTE,
            Step.REQUEST_CHANGES,
            Step.APPROVE_REVIEW,
            Step.MIGRATE,
        ]

    def test_approve_hidden_from_responders(self) -> None:
        assert incident_in(S.IN_REVIEW).allowed_steps(BOB) == [Step.NOTE, Step.POST_UPDATE]

    def test_approve_hidden_from_the_review_author(self) -> None:
        incident = incident_in(S.RESOLVED)
        take(incident, Step.ASSIGN, ADA, AssignRequest(commander="carol"))
        take(incident, Step.SUBMIT_REVIEW, CAROL)

        assert incident.allowed_steps(CAROL) == [
            Step.ASSIGN,
            Step.NOTE,
            Step.POST_UPDATE,
            Step.MIGRATE,
        ]

    def test_approve_offered_to_the_commander_who_did_not_write_it(self) -> None:
        incident = incident_in(S.IN_REVIEW)
        take(incident, Step.ASSIGN, ADA, AssignRequest(commander="carol"))

        assert Step.APPROVE_REVIEW in incident.allowed_steps(CAROL)
        assert Step.APPROVE_REVIEW not in incident.allowed_steps(DAVE)

    @pytest.mark.parametrize("state", list(IncidentState))
    def test_every_offered_step_passes_check(self, state: IncidentState) -> None:
        # A process with an escalation policy: under one without, `escalate` is refused.
        incident = incident_in(state, process=ESCALATING)

        for actor in (ALICE, BOB, CAROL, OLIVE, ADA):
            for step in incident.allowed_steps(actor):
                incident.check(step, REQUESTS[step], actor)


class TestWholePaths:
    def test_happy_path_from_declaration_to_close(self) -> None:
        incident = declare()
        steps = [
            (Step.TRIAGE, ALICE, S.TRIAGED),
            (Step.ASSIGN, ADA, S.TRIAGED),
            (Step.ACKNOWLEDGE, BOB, S.ACKNOWLEDGED),
            (Step.NOTE, BOB, S.ACKNOWLEDGED),
            (Step.HOLD, BOB, S.ON_HOLD),
            (Step.RESUME, BOB, S.ACKNOWLEDGED),
            (Step.RESOLVE, BOB, S.RESOLVED),
            (Step.SUBMIT_REVIEW, BOB, S.IN_REVIEW),
            (Step.APPROVE_REVIEW, CAROL, S.CLOSED),
        ]

        for step, actor, after in steps:
            take(incident, step, actor)
            assert incident.state == after, step

        assert incident.commander == "carol"
        assert incident.responders == ["bob"]
        assert incident.priority == P.P1
        assert incident.closed_at == at(9)
        assert incident.seq == 10

    def test_reopen_path(self) -> None:
        incident = incident_in(S.RESOLVED)

        take(incident, Step.REOPEN, BOB)
        take(incident, Step.NOTE, BOB)
        take(incident, Step.RESOLVE, BOB)
        take(incident, Step.SUBMIT_REVIEW, BOB)
        take(incident, Step.APPROVE_REVIEW, OLIVE)

        assert incident.state == S.CLOSED
        assert incident.resolution is not None
        assert incident.resolution.resolved_by == "bob"
        assert [e.kind for e in incident.timeline].count(EventKind.RESOLVED) == 2

    def test_false_alarm_path_needs_no_acknowledgement(self) -> None:
        incident = declare()

        for step, actor in [
            (Step.TRIAGE, ALICE),
            (Step.RESOLVE, BOB),
            (Step.SUBMIT_REVIEW, BOB),
            (Step.APPROVE_REVIEW, OLIVE),
        ]:
            take(incident, step, actor)

        assert incident.state == S.CLOSED
        assert incident.acknowledged_at is None
        assert [e.kind for e in incident.timeline] == [
            EventKind.DECLARED,
            EventKind.TRIAGED,
            EventKind.RESOLVED,
            EventKind.REVIEW_SUBMITTED,
            EventKind.REVIEW_APPROVED,
        ]

    def test_request_changes_path(self) -> None:
        incident = incident_in(S.IN_REVIEW)

        states = []
        for step, actor in [
            (Step.REQUEST_CHANGES, OLIVE),
            (Step.SUBMIT_REVIEW, ALICE),
            (Step.APPROVE_REVIEW, OLIVE),
        ]:
            take(incident, step, actor)
            states.append(incident.state)

        assert states == [S.RESOLVED, S.IN_REVIEW, S.CLOSED]
        assert incident.review is not None
        assert incident.review.approved_by == "olive"
        assert incident.review.changes_requested is None


class TestStateSurvivesContinueAsNew:
    @pytest.mark.parametrize("state", list(IncidentState))
    def test_json_round_trip_gives_an_equal_incident(self, state: IncidentState) -> None:
        incident = incident_in(state)

        assert Incident.model_validate_json(incident.model_dump_json()) == incident

    def test_round_trip_after_every_kind_of_step(self) -> None:
        process = ProcessDefinition(
            name="payments",
            version=2,
            services=["checkout"],
            review=ReviewRequirements(approver_roles=frozenset({Role.PROCESS_OWNER, Role.ADMIN})),
            escalation_policies=ESCALATING.escalation_policies,
            escalation=ESCALATING.escalation,
        )
        incident = declare(process=process, category="database", service="checkout")
        for step, actor in [
            (Step.TRIAGE, ALICE),
            (Step.ASSIGN, ADA),
            (Step.ESCALATE, ALICE),
            (Step.ACKNOWLEDGE, BOB),
            (Step.ESCALATE, BOB),
            (Step.HOLD, BOB),
            (Step.RESUME, BOB),
            (Step.RESOLVE, BOB),
            (Step.SUBMIT_REVIEW, BOB),
            (Step.REQUEST_CHANGES, OLIVE),
            (Step.SUBMIT_REVIEW, BOB),
        ]:
            take(incident, step, actor)
            assert Incident.model_validate_json(incident.model_dump_json()) == incident, step

    def test_carried_incident_keeps_going(self) -> None:
        carried = Incident.model_validate_json(incident_in(S.IN_REVIEW).model_dump_json())

        with pytest.raises(Forbidden):
            take(carried, Step.APPROVE_REVIEW, ALICE)
        event = take(carried, Step.APPROVE_REVIEW, OLIVE)

        assert carried.state == S.CLOSED
        assert event.id == "incident-42:5"


def test_every_state_is_reachable_by_the_test_paths() -> None:
    assert set(PATHS) == set(IncidentState)


@pytest.mark.parametrize("step", list(Step))
def test_each_step_records_the_event_that_names_it_on_the_timeline(step: Step) -> None:
    # The first state the lifecycle allows the step in, on a process that can escalate.
    state = next(s for s in IncidentState if (s, step) in TRANSITIONS)
    incident = incident_in(state, process=ESCALATING)
    commander = Actor(name="carol", roles=frozenset(Role))  # any step, any role

    event = take(incident, step, OLIVE if step is Step.APPROVE_REVIEW else commander)

    assert STEPS_BY_EVENT[event.kind] is step
