"""The incident workflow on the time-skipping server, with the real read-model activity."""

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from domain.alert_groups import AlertActivity, AlertSource
from domain.incident import Incident
from domain.lifecycle import IncidentState, Step
from domain.process import ProcessDefinition
from domain.requests import (
    ActionItem,
    AssignRequest,
    DeclareRequest,
    HoldRequest,
    NoteRequest,
    ReopenRequest,
    RequestChangesRequest,
    ResolveRequest,
    SubmitReviewRequest,
    TriageRequest,
)
from domain.roles import Actor, Role
from domain.sla import SlaPolicy
from domain.timeline import EventKind
from store.db import Database
from store.incidents import IncidentRepository
from tests.polling import eventually
from tests.temporal_fixtures import RunWorker
from workflows import contracts
from workflows import incident as wf

# No SLA targets: these tests walk the lifecycle; clocks have tests of their own.
PLAIN = ProcessDefinition(sla=SlaPolicy(targets={}))
ALICE = Actor(name="alice", roles=frozenset({Role.RESPONDER}))
CAROL = Actor(name="carol", roles=frozenset({Role.COMMANDER}))
OLIVE = Actor(name="olive", roles=frozenset({Role.PROCESS_OWNER}))

REVIEW = SubmitReviewRequest(
    root_cause="Primary disk failed",
    contributing_factors=["no disk health alert"],
    what_went_well="Failover took 4 minutes",
    action_items=[
        ActionItem(description="Alert on SMART errors", owner="alice", due_date=date(2030, 1, 31))
    ],
)


def _incident_input(
    incident_id: int,
    history_limit: int = contracts.DEFAULT_HISTORY_LIMIT,
    revision: int = contracts.CODE_REVISION,
    **declared: Any,
) -> Any:
    declaration = contracts.Declaration(
        incident_id=incident_id,
        request=DeclareRequest(title="Checkout is down", impact=1, urgency=1),
        actor=ALICE,
        declared_at=datetime(2030, 1, 1, 9, 0, tzinfo=UTC),
        process=PLAIN,
        **declared,
    )
    return contracts.IncidentInput(
        declaration=declaration, history_limit=history_limit, revision=revision
    )


async def _start(
    client: Client,
    task_queue: str,
    history_limit: int = contracts.DEFAULT_HISTORY_LIMIT,
    revision: int = contracts.CODE_REVISION,
    **declared: Any,
) -> WorkflowHandle[Any, Any]:
    incident_id = uuid.uuid4().int % 1_000_000_000
    return await client.start_workflow(
        wf.IncidentWorkflow.run,
        _incident_input(incident_id, history_limit, revision, **declared),
        id=contracts.workflow_id(incident_id),
        task_queue=task_queue,
    )


async def _update_events(handle: WorkflowHandle[Any, Any]) -> int:
    """Update events in history: one accepted and one completed per step taken."""
    history = await handle.fetch_history()
    return sum(1 for event in history.events if "UPDATE" in EventType.Name(event.event_type))


async def _external_signals(handle: WorkflowHandle[Any, Any], want: int = 1) -> list[str]:
    """The signals the workflow sent to others, once `want` of them are in its history."""
    names: list[str] = []

    async def sent() -> bool:
        nonlocal names
        names = [
            event.signal_external_workflow_execution_initiated_event_attributes.signal_name
            for event in (await handle.fetch_history()).events
            if event.HasField("signal_external_workflow_execution_initiated_event_attributes")
        ]
        return len(names) >= want

    await eventually(sent, 10, f"{want} signal(s) sent to other workflows", seen=lambda: names)
    return names


async def _refusal(
    handle: WorkflowHandle[Any, Any], update: Any, command: contracts.StepCommand
) -> ApplicationError:
    before = await _update_events(handle)
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await handle.execute_update(update, command)
    assert await _update_events(handle) == before, "a refused step left history behind"
    assert isinstance(failed.value.cause, ApplicationError)
    return failed.value.cause


async def _to_review(handle: WorkflowHandle[Any, Any]) -> Incident:
    w = wf.IncidentWorkflow
    await handle.execute_update(
        w.triage,
        contracts.TriageCommand(
            actor=ALICE,
            request=TriageRequest(impact=1, urgency=2, category="database", service="checkout"),
        ),
    )
    await handle.execute_update(w.acknowledge, contracts.AcknowledgeCommand(actor=ALICE))
    await handle.execute_update(
        w.assign, contracts.AssignCommand(actor=CAROL, request=AssignRequest(commander="carol"))
    )
    await handle.execute_update(
        w.resolve,
        contracts.ResolveCommand(
            actor=ALICE,
            request=ResolveRequest(summary="Failed over", root_cause_category="hardware"),
        ),
    )
    result = await handle.execute_update(
        w.submit_review, contracts.SubmitReviewCommand(actor=ALICE, request=REVIEW)
    )
    assert isinstance(result, Incident)  # whole, as for every caller not asking for less
    return result


class TestWholePath:
    async def test_incident_walks_to_closed_and_the_read_model_has_every_event_once(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
    ) -> None:
        client = time_skipping.client
        async with run_worker(client, sqlite_database) as settings:
            handle = await _start(client, settings.task_queue)
            w = wf.IncidentWorkflow
            await handle.execute_update(
                w.note, contracts.NoteCommand(actor=ALICE, request=NoteRequest(text="500s on /pay"))
            )
            await handle.execute_update(w.acknowledge, contracts.AcknowledgeCommand(actor=ALICE))
            await handle.execute_update(
                w.hold,
                contracts.HoldCommand(actor=ALICE, request=HoldRequest(reason="vendor call")),
            )
            await handle.execute_update(w.resume, contracts.ResumeCommand(actor=ALICE))
            await handle.execute_update(
                w.resolve,
                contracts.ResolveCommand(
                    actor=ALICE,
                    request=ResolveRequest(summary="Restarted", root_cause_category="dependency"),
                ),
            )
            in_review = await handle.execute_update(
                w.submit_review, contracts.SubmitReviewCommand(actor=ALICE, request=REVIEW)
            )
            assert isinstance(in_review, Incident)
            assert in_review.state is IncidentState.IN_REVIEW
            await handle.execute_update(
                w.approve_review, contracts.ApproveReviewCommand(actor=OLIVE)
            )
            outcome = await handle.result()

        assert outcome.state is IncidentState.CLOSED
        async with sqlite_database.session() as session:
            stored = await IncidentRepository(session).get(outcome.incident_id)
        assert stored is not None
        assert stored.state is IncidentState.CLOSED
        assert [e.kind for e in stored.timeline] == [
            EventKind.DECLARED,
            EventKind.NOTE_ADDED,
            EventKind.ACKNOWLEDGED,
            EventKind.PUT_ON_HOLD,
            EventKind.RESUMED,
            EventKind.RESOLVED,
            EventKind.REVIEW_SUBMITTED,
            EventKind.REVIEW_APPROVED,
        ]
        assert stored.timeline[-1].actor == "olive"
        assert stored.review is not None and stored.review.approved_by == "olive"

    async def test_query_shows_state_timeline_and_steps_allowed_now(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
    ) -> None:
        client = time_skipping.client
        async with run_worker(client, sqlite_database) as settings:
            handle = await _start(client, settings.task_queue)
            await handle.execute_update(
                wf.IncidentWorkflow.acknowledge, contracts.AcknowledgeCommand(actor=ALICE)
            )
            incident = await handle.query(wf.IncidentWorkflow.incident)
            await handle.terminate("test over")
        assert incident.state is IncidentState.ACKNOWLEDGED
        assert [e.kind for e in incident.timeline] == [EventKind.DECLARED, EventKind.ACKNOWLEDGED]
        assert Step.RESOLVE in incident.allowed_steps(ALICE)
        assert Step.ACKNOWLEDGE not in incident.allowed_steps(ALICE)


class TestRefusals:
    async def test_each_refusal_gives_its_reason_and_leaves_no_history(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
    ) -> None:
        client = time_skipping.client
        w = wf.IncidentWorkflow
        async with run_worker(client, sqlite_database) as settings:
            handle = await _start(client, settings.task_queue)

            early = await _refusal(handle, w.resume, contracts.ResumeCommand(actor=ALICE))
            assert early.type == "StepNotAllowed"
            assert "cannot resume an incident that is detected" in early.message

            await handle.execute_update(w.acknowledge, contracts.AcknowledgeCommand(actor=ALICE))
            twice = await _refusal(handle, w.acknowledge, contracts.AcknowledgeCommand(actor=ALICE))
            assert twice.type == "StepNotAllowed"

            no_cause = await _refusal(
                handle,
                w.resolve,
                contracts.ResolveCommand(
                    actor=ALICE,
                    request=ResolveRequest(summary="fixed", root_cause_category="gremlins"),
                ),
            )
            assert no_cause.type == "InvalidStep"
            assert "unknown root-cause category 'gremlins'" in no_cause.message

            viewer = Actor(name="vic", roles=frozenset({Role.VIEWER}))
            forbidden = await _refusal(
                handle, w.note, contracts.NoteCommand(actor=viewer, request=NoteRequest(text="hi"))
            )
            assert forbidden.type == "Forbidden"
            await handle.terminate("test over")

    async def test_nobody_approves_their_own_review_and_responders_cannot_approve(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
    ) -> None:
        client = time_skipping.client
        w = wf.IncidentWorkflow
        async with run_worker(client, sqlite_database) as settings:
            handle = await _start(client, settings.task_queue)
            await _to_review(handle)
            author_as_owner = Actor(name="alice", roles=frozenset({Role.PROCESS_OWNER}))
            own = await _refusal(
                handle, w.approve_review, contracts.ApproveReviewCommand(actor=author_as_owner)
            )
            assert own.type == "Forbidden"
            assert "wrote this review" in own.message
            bob = Actor(name="bob", roles=frozenset({Role.RESPONDER}))
            responder = await _refusal(
                handle, w.approve_review, contracts.ApproveReviewCommand(actor=bob)
            )
            assert responder.type == "Forbidden"
            closed = await handle.execute_update(
                w.approve_review, contracts.ApproveReviewCommand(actor=CAROL)
            )
            assert isinstance(closed, Incident)
            assert closed.state is IncidentState.CLOSED
            assert (await handle.result()).state is IncidentState.CLOSED


class TestReturnPaths:
    async def test_reopen_then_request_changes_then_approve(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
    ) -> None:
        client = time_skipping.client
        w = wf.IncidentWorkflow
        async with run_worker(client, sqlite_database) as settings:
            handle = await _start(client, settings.task_queue)
            await _to_review(handle)
            sent_back = await handle.execute_update(
                w.request_changes,
                contracts.RequestChangesCommand(
                    actor=CAROL, request=RequestChangesRequest(reason="name the disk model")
                ),
            )
            assert isinstance(sent_back, Incident)
            assert sent_back.state is IncidentState.RESOLVED
            assert sent_back.review is not None
            assert sent_back.review.changes_requested == "name the disk model"
            reopened = await handle.execute_update(
                w.reopen,
                contracts.ReopenCommand(
                    actor=ALICE, request=ReopenRequest(reason="errors are back")
                ),
            )
            assert isinstance(reopened, Incident)
            assert reopened.state is IncidentState.ACKNOWLEDGED
            assert reopened.resolution is None
            await handle.execute_update(
                w.resolve,
                contracts.ResolveCommand(
                    actor=ALICE,
                    request=ResolveRequest(summary="Replaced disk", root_cause_category="hardware"),
                ),
            )
            await handle.execute_update(
                w.submit_review, contracts.SubmitReviewCommand(actor=ALICE, request=REVIEW)
            )
            await handle.execute_update(
                w.approve_review, contracts.ApproveReviewCommand(actor=CAROL)
            )
            outcome = await handle.result()
        async with sqlite_database.session() as session:
            stored = await IncidentRepository(session).get(outcome.incident_id)
        assert stored is not None
        kinds = [e.kind for e in stored.timeline]
        assert kinds.count(EventKind.RESOLVED) == 2
        assert EventKind.CHANGES_REQUESTED in kinds and EventKind.REOPENED in kinds
        assert stored.state is IncidentState.CLOSED


class TestContinueAsNew:
    async def test_a_long_incident_continues_as_new_keeping_its_state_and_timeline(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
    ) -> None:
        client = time_skipping.client
        w = wf.IncidentWorkflow
        async with run_worker(client, sqlite_database) as settings:
            handle = await _start(client, settings.task_queue, history_limit=40)
            first_run = (await handle.describe()).run_id
            await handle.execute_update(w.acknowledge, contracts.AcknowledgeCommand(actor=ALICE))
            for n in range(30):
                note = NoteRequest(text=f"update {n}")
                await handle.execute_update(
                    w.note, contracts.NoteCommand(actor=ALICE, request=note)
                )
            latest: WorkflowHandle[wf.IncidentWorkflow, contracts.IncidentOutcome] = (
                client.get_workflow_handle(handle.id, result_type=contracts.IncidentOutcome)
            )
            incident = await latest.query(w.incident)
            assert (await latest.describe()).run_id != first_run
            assert incident.state is IncidentState.ACKNOWLEDGED
            assert len(incident.timeline) == 32
            assert [e.seq for e in incident.timeline] == list(range(1, 33))
            await _to_review_from_acknowledged(latest)
            await latest.execute_update(
                w.approve_review, contracts.ApproveReviewCommand(actor=OLIVE)
            )
            outcome = await latest.result()
        async with sqlite_database.session() as session:
            stored = await IncidentRepository(session).get(outcome.incident_id)
        assert stored is not None and stored.state is IncidentState.CLOSED
        assert [e.seq for e in stored.timeline] == list(range(1, 36))


async def _to_review_from_acknowledged(handle: WorkflowHandle[Any, Any]) -> None:
    w = wf.IncidentWorkflow
    await handle.execute_update(
        w.resolve,
        contracts.ResolveCommand(
            actor=ALICE, request=ResolveRequest(summary="done", root_cause_category="change")
        ),
    )
    await handle.execute_update(
        w.submit_review, contracts.SubmitReviewCommand(actor=ALICE, request=REVIEW)
    )


class TestStart:
    async def test_alerts_heard_before_the_incident_opened_count_from_its_start(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
    ) -> None:
        # The group hands over what it heard while the incident was being opened: three
        # alerts that have all recovered by then, from an integration that resolves on
        # recovery. No signal carries them; the declaration does.
        seen = datetime(2030, 1, 1, 8, 59, tzinfo=UTC)
        heard = AlertActivity(count=3, first_seen=seen, last_seen=seen, recovered=True)
        source = AlertSource(
            integration_id=1,
            integration_name="prometheus",
            dedup_key="disk-full",
            group_workflow_id=f"alerts-test-{uuid.uuid4()}",  # none: telling it is skipped
        )
        client = time_skipping.client
        async with run_worker(client, sqlite_database) as settings:
            handle = await _start(
                client,
                settings.task_queue,
                source=source,
                alerts=contracts.AlertNews(activity=heard, resolve_on_recovery=True),
            )
            incident: Incident = await handle.query(wf.IncidentWorkflow.incident)
            told = await _external_signals(handle)

        # The group hears of the resolution, so the next trigger opens a new incident.
        assert told == ["incident_resolved"]
        assert incident.alerts is not None
        assert (incident.alerts.count, incident.alerts.first_seen) == (3, seen)
        assert incident.state is IncidentState.RESOLVED
        assert [e.kind for e in incident.timeline] == [
            EventKind.DECLARED,
            EventKind.ALERTS_RECEIVED,
            EventKind.SOURCE_RECOVERED,
            EventKind.RESOLVED,
        ]
        signals = [
            event
            for event in (await handle.fetch_history()).events
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        ]
        assert signals == []

    async def test_a_run_of_newer_code_waits_for_a_worker_that_knows_it(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
    ) -> None:
        # An API upgraded before the workers starts runs of a revision they do not know:
        # run the old way, they would record commands the new workers cannot replay.
        client = time_skipping.client
        async with run_worker(client, sqlite_database) as settings:
            handle = await _start(client, settings.task_queue, revision=contracts.CODE_REVISION + 1)
            events: list[HistoryEvent] = []
            failures: list[str] = []

            async def task_failed() -> bool:
                nonlocal events, failures
                events = list((await handle.fetch_history()).events)
                failures = [
                    event.workflow_task_failed_event_attributes.failure.message
                    for event in events
                    if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED
                ]
                return bool(failures)

            await eventually(task_failed, 10, "the workflow task failed")
            described = await handle.describe()
            await handle.terminate()

        assert failures and "upgrade the workers" in failures[0]
        assert described.status == WorkflowExecutionStatus.RUNNING  # not failed: it waits
        kinds = {EventType.Name(event.event_type) for event in events}
        assert kinds <= {
            "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED",
            "EVENT_TYPE_WORKFLOW_TASK_SCHEDULED",
            "EVENT_TYPE_WORKFLOW_TASK_STARTED",
            "EVENT_TYPE_WORKFLOW_TASK_FAILED",
        }

    @pytest.mark.parametrize(("revision", "asks"), [(contracts.CODE_REVISION, False), (0, True)])
    async def test_only_runs_started_before_revisions_ask_patched_and_keep_search_attributes(
        self,
        time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
        revision: int,
        asks: bool,
    ) -> None:
        # A patch costs every run that asks a marker and an upsert of Temporal's
        # change-version search attribute, and each upsert of Vagt's own attributes a
        # write to Temporal's visibility store; runs started by current code know from
        # their input which way to go, and those started before still ask (and replay).
        client = time_skipping.client
        async with run_worker(client, sqlite_database) as settings:
            handle = await _start(client, settings.task_queue, revision=revision)
            await handle.execute_update(
                wf.IncidentWorkflow.acknowledge, contracts.AcknowledgeCommand(actor=ALICE)
            )
            history = await handle.fetch_history()

        markers = [
            event.marker_recorded_event_attributes.marker_name
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        ]
        assert ("core_patch" in markers) is asks
        upserts = [
            event
            for event in history.events
            if event.event_type == EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES
        ]
        assert bool(upserts) is asks
