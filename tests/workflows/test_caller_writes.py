"""Steps whose caller writes them to the read model (the API does, `caller_writes_within`),
on the time-skipping server with the real read-model activity: the workflow writes them
again, and tells subscribers their news, when the hold ends (one write for a burst of
steps), at once when the incident closes, and never loses one."""

from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.incident import Incident
from domain.lifecycle import IncidentState
from domain.process import ContactMethod, Person, ProcessDefinition
from domain.requests import DeclareRequest, NoteRequest, StatusUpdateRequest
from domain.sla import SlaPolicy
from domain.subscriptions import Subscriber, SubscriptionScope
from domain.timeline import EventKind
from store.db import Database
from store.incidents import IncidentRepository
from store.subscriptions import SubscriptionRepository
from tests.polling import eventually
from tests.temporal_fixtures import Receiver, RunWorker, start_incident
from tests.workflows.test_incident import ALICE, OLIVE, _start, _to_review
from workflows import contracts
from workflows import incident as wf

HOLD = 30.0  # seconds: what the API would pass as caller_writes_within
PROCESS = ProcessDefinition(
    sla=SlaPolicy(targets={}),
    people={"bob": Person(notify=[ContactMethod(channel="email", address="bob@example.com")])},
)


async def _stored(database: Database, incident_id: int) -> Incident | None:
    async with database.session() as session:
        return await IncidentRepository(session).get(incident_id)


async def _kinds(database: Database, incident_id: int) -> list[EventKind]:
    stored = await _stored(database, incident_id)
    return [] if stored is None else [event.kind for event in stored.timeline]


async def _count(database: Database, incident_id: int, kind: EventKind, want: int) -> bool:
    return (await _kinds(database, incident_id)).count(kind) >= want


async def _has(database: Database, incident_id: int, kind: EventKind) -> bool:
    return await _count(database, incident_id, kind, 1)


async def _markers(handle: WorkflowHandle[Any, Any]) -> int:
    """Local activities the workflow ran: each is one write to the read model."""
    history = await handle.fetch_history()
    marker = EventType.EVENT_TYPE_MARKER_RECORDED
    return sum(1 for event in history.events if event.event_type == marker)


async def _bob_follows_payments(database: Database) -> None:
    async with database.session() as session:
        await SubscriptionRepository(session).subscribe(
            Subscriber(user="bob"),
            SubscriptionScope(service="payments"),
            False,
            "ada",
            datetime.now(UTC),
        )
        await session.commit()


def _note(text: str) -> contracts.NoteCommand:
    return contracts.NoteCommand(
        actor=ALICE, request=NoteRequest(text=text), caller_writes_within=HOLD
    )


class TestHeldSteps:
    async def test_a_burst_waits_for_the_hold_then_is_written_with_its_news(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        env = own_time_skipping
        await _bob_follows_payments(sqlite_database)
        receiver = Receiver()
        request = DeclareRequest(title="Payments down", impact=1, urgency=1, service="payments")
        async with run_worker(env.client, sqlite_database, receiver, PROCESS) as settings:
            handle, _ = await start_incident(env, settings.task_queue, request, ALICE, PROCESS)
            incident_id = int(handle.id.removeprefix("incident-"))
            # The declaration's own news first: told to bob, and the attempt recorded.
            await eventually(
                lambda: _has(sqlite_database, incident_id, EventKind.NOTIFICATION_ATTEMPTED),
                30,
                "the declaration told to bob",
            )
            writes_before = await _markers(handle)
            taken_at = await env.get_current_time()
            await handle.execute_update(wf.IncidentWorkflow.note, _note("500s on /pay"))
            await handle.execute_update(
                wf.IncidentWorkflow.post_update,
                contracts.StatusUpdateCommand(
                    actor=ALICE,
                    request=StatusUpdateRequest(message="Failing over to the standby"),
                    caller_writes_within=HOLD,
                ),
            )
            await handle.execute_update(wf.IncidentWorkflow.note, _note("standby is up"))

            # A step written within the step would be in the read model by now (the
            # update answers only once its workflow task, and so its write, is done).
            held = await _kinds(sqlite_database, incident_id)
            writes_during_hold = await _markers(handle) - writes_before
            told_during_hold = len(receiver.deliveries)

            await env.sleep(timedelta(seconds=HOLD + 1))
            await eventually(
                lambda: len(receiver.deliveries) == 2, 30, "the status update told to bob"
            )
            await eventually(
                lambda: _count(sqlite_database, incident_id, EventKind.NOTIFICATION_ATTEMPTED, 2),
                30,
                "the second attempt recorded",
            )
            kinds = await _kinds(sqlite_database, incident_id)
            await handle.terminate("test over")

        assert EventKind.NOTE_ADDED not in held
        assert EventKind.STATUS_UPDATE_POSTED not in held
        assert writes_during_hold == 0
        assert told_during_hold == 1
        steps = {
            EventKind.NOTE_ADDED,
            EventKind.STATUS_UPDATE_POSTED,
            EventKind.SUBSCRIBERS_NOTIFIED,
        }
        assert [kind for kind in kinds if kind in steps] == [
            EventKind.SUBSCRIBERS_NOTIFIED,  # of the declaration
            EventKind.NOTE_ADDED,
            EventKind.STATUS_UPDATE_POSTED,
            EventKind.NOTE_ADDED,
            EventKind.SUBSCRIBERS_NOTIFIED,  # of the status update, once the hold ended
        ]
        told = receiver.deliveries[1].notification
        assert (told.kind, told.recipient, told.text) == (
            "status_update",
            "bob",
            "Failing over to the standby",
        )
        assert timedelta(seconds=HOLD) <= told.at - taken_at < timedelta(seconds=HOLD + 2)

    async def test_a_declaration_its_caller_writes_waits_for_the_hold_too(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        env = own_time_skipping
        async with run_worker(env.client, sqlite_database) as settings:
            handle = await _start(env.client, settings.task_queue, caller_writes_within=HOLD)
            incident_id = int(handle.id.removeprefix("incident-"))
            # Answered once the first workflow task (the declaration's) is done too.
            await handle.execute_update(wf.IncidentWorkflow.note, _note("p95 at 4 s"))
            held = await _stored(sqlite_database, incident_id)

            await env.sleep(timedelta(seconds=HOLD + 1))
            await eventually(
                lambda: _has(sqlite_database, incident_id, EventKind.NOTE_ADDED), 30, "the write"
            )
            kinds = await _kinds(sqlite_database, incident_id)
            await handle.terminate("test over")

        assert held is None
        assert kinds == [EventKind.DECLARED, EventKind.NOTE_ADDED]

    async def test_the_step_that_closes_the_incident_writes_everything_at_once(
        self, time_skipping: WorkflowEnvironment, sqlite_database: Database, run_worker: RunWorker
    ) -> None:
        client = time_skipping.client
        async with run_worker(client, sqlite_database) as settings:
            handle = await _start(client, settings.task_queue)
            incident_id = int(handle.id.removeprefix("incident-"))
            await _to_review(handle)
            await handle.execute_update(wf.IncidentWorkflow.note, _note("held, then closed"))
            await handle.execute_update(
                wf.IncidentWorkflow.approve_review,
                contracts.ApproveReviewCommand(actor=OLIVE, caller_writes_within=HOLD),
            )
            # No time skipped: closing ends the hold, in the step that closes.
            stored = await _stored(sqlite_database, incident_id)
            outcome = await handle.result()

        assert outcome.state is IncidentState.CLOSED
        assert stored is not None and stored.state is IncidentState.CLOSED
        assert [e.kind for e in stored.timeline][-2:] == [
            EventKind.NOTE_ADDED,
            EventKind.REVIEW_APPROVED,
        ]
