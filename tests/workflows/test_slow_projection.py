"""A history a slow read model leaves replays: kept apart from test_replay.py, whose
workflow subclass the sandbox imports with its module (and with this one's imports,
the read model's tables, which it refuses)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker
from temporalio.workflow import NondeterminismError

from domain.alert_groups import AlertActivity
from domain.escalation import EscalationLevel, EscalationPolicy, EscalationTarget
from domain.priority import Priority
from domain.process import DEFAULT_PROCESS, ContactMethod, Person, ProcessDefinition
from domain.requests import DeclareRequest, NoteRequest
from domain.roles import Actor, Role
from domain.sla import SlaPolicy, SlaTargets
from domain.timeline import EventKind
from store.db import Database
from store.incidents import IncidentRepository
from tests.polling import eventually
from tests.temporal_fixtures import Receiver, incident_worker, read_model_write, start_incident
from tests.workflows.history_tasks import tasks_with_no_command
from workflows import contracts
from workflows.contracts import AlertNews
from workflows.incident import IncidentWorkflow

ALICE = Actor(name="alice", roles=frozenset({Role.RESPONDER}))


async def test_a_projection_slower_than_the_workflow_task_leaves_a_history_that_replays(
    dev_server: WorkflowEnvironment, sqlite_database: Database
) -> None:
    """A read model slower than the workflow task's timeout (a loaded database): Temporal's
    SDK keeps the task alive while the projection's local activity runs, and steps and
    alerts arrive meanwhile. The history this leaves must replay, or the incident's
    next worker cannot take it up (once seen under load: a nondeterminism error)."""

    async def slowly(_: int) -> None:
        await asyncio.sleep(1.5)  # the task times out after 1 s

    slow_projection = read_model_write(sqlite_database, slowly)

    request = DeclareRequest(title="Checkout is down", impact=1, urgency=1)
    task_queue = f"vagt-test-{uuid.uuid4()}"
    worker = Worker(
        dev_server.client,
        task_queue=task_queue,
        workflows=[IncidentWorkflow],
        activities=[slow_projection, Receiver().deliver],
    )
    async with worker:
        # The default process has clocks: timers set and cancelled between the steps.
        handle, _ = await start_incident(
            dev_server,
            task_queue,
            request,
            ALICE,
            DEFAULT_PROCESS,
            task_timeout=timedelta(seconds=1),
        )

        async def note(n: int) -> None:
            await asyncio.sleep(0.3 * n)
            command = contracts.NoteCommand(
                actor=ALICE,
                request=NoteRequest(text=f"note {n}"),
                caller_writes_within=5 if n % 2 else 0,  # as the API, and as older callers
            )
            await handle.execute_update(IncidentWorkflow.note, command)

        async def alert(n: int) -> None:
            await asyncio.sleep(0.5 * n + 0.2)
            now = datetime.now(UTC)
            activity = AlertActivity(count=1, firing=1, first_seen=now, last_seen=now)
            await handle.signal(IncidentWorkflow.alerts_observed, AlertNews(activity=activity))

        async def acknowledge() -> None:
            await asyncio.sleep(1.1)
            await handle.execute_update(
                IncidentWorkflow.acknowledge, contracts.AcknowledgeCommand(actor=ALICE)
            )

        await asyncio.gather(
            *(note(n) for n in range(8)), *(alert(n) for n in range(4)), acknowledge()
        )
        history = await handle.fetch_history()
        await handle.terminate()

    kinds = [event.event_type for event in history.events]
    # Each write (a marker) took longer than a task may: the SDK kept the task alive,
    # answering steps while the write ran.
    assert EventType.EVENT_TYPE_MARKER_RECORDED in kinds
    assert kinds.count(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED) == 9
    replayer = Replayer(workflows=[IncidentWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)  # raises on any mismatch


# A P3 whose acknowledge clock warns 1 s after the declaration, and tells alice.
_WARNS_IN_A_SECOND = ProcessDefinition(
    sla=SlaPolicy(
        warn_at=[0.5],
        targets={Priority.P3: SlaTargets(acknowledge=timedelta(seconds=2), resolve=None)},
    ),
    sla_notify=[EscalationTarget(user="alice")],
    people={"alice": Person(notify=[ContactMethod(channel="email", address="a@example.com")])},
)


async def _first_write_slow(
    dev_server: WorkflowEnvironment, database: Database, revision: int
) -> WorkflowHistory:
    """An incident whose first write to the read model takes 3 s, with workflow tasks
    of 2 s: the write outlives 80% of its task, and its acknowledge clock warns while
    the write runs. Its history once it has breached and told alice so."""

    async def first_slowly(write: int) -> None:
        if write == 1:
            await asyncio.sleep(3)

    first_slow = read_model_write(database, first_slowly)

    task_queue = f"vagt-test-{uuid.uuid4()}"
    receiver = Receiver()
    worker = incident_worker(dev_server, task_queue, first_slow, receiver.deliver)
    async with worker:
        request = DeclareRequest(title="Search is slow", impact=2, urgency=2)
        handle, _ = await start_incident(
            dev_server,
            task_queue,
            request,
            ALICE,
            _WARNS_IN_A_SECOND,
            task_timeout=timedelta(seconds=2),
            revision=revision,
        )
        for _ in range(200):
            if _breach_told(receiver):
                break
            await asyncio.sleep(0.05)
        history = await handle.fetch_history()
        await handle.terminate()
    assert _breach_told(receiver), receiver.keys()
    return history


def _breach_told(receiver: Receiver) -> bool:
    keys = receiver.keys()
    return any(":breach" in key for key in keys)


def _replayer() -> Replayer:
    return Replayer(
        workflows=[IncidentWorkflow],
        data_converter=pydantic_data_converter,
        workflow_runner=UnsandboxedWorkflowRunner(),
    )


async def test_a_write_outliving_its_workflow_task_leaves_a_history_that_replays(
    dev_server: WorkflowEnvironment, sqlite_database: Database
) -> None:
    """The write that would outlive its task is given up as a local activity after half
    the task's timeout (1 s) and tried again from the loop a second later (revisions 4
    and 5: at once, as a regular activity): the task never needs keeping alive, and the
    history replays, clock and all."""
    history = await _first_write_slow(dev_server, sqlite_database, contracts.CODE_REVISION)

    writes = [
        event.marker_recorded_event_attributes.HasField("failure")
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
    ]
    assert writes[:2] == [True, False]  # given up, then written locally
    await _replayer().replay_workflow(history)


@pytest.mark.parametrize("revision", [5, 4])
async def test_revisions_4_and_5_run_the_write_again_as_a_regular_activity(
    dev_server: WorkflowEnvironment, sqlite_database: Database, revision: int
) -> None:
    history = await _first_write_slow(dev_server, sqlite_database, revision)

    scheduled = [
        event.activity_task_scheduled_event_attributes.activity_type.name
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert "project_incident_and_find_followers" in scheduled  # the write, as a regular one
    await _replayer().replay_workflow(history)


async def test_revision_3_runs_keep_their_local_write_and_trip_over_its_replay(
    dev_server: WorkflowEnvironment, sqlite_database: Database
) -> None:
    """Why revision 4 exists: a run of revision 3 retries its write locally however long
    it takes, Temporal's SDK keeps the task alive meanwhile with a task of no commands,
    and on replay runs the activation before the write at the next task's time. The
    clock's warning, due between the two, then fires before the write instead of after
    it: the history does not replay. Skipped when the host was too slow to set that
    scene (the first task started after the warning was due)."""
    history = await _first_write_slow(dev_server, sqlite_database, 3)

    declared = history.events[0].event_time.ToDatetime(tzinfo=UTC)
    tasks = [
        event.event_time.ToDatetime(tzinfo=UTC)
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    ]
    warning = declared + timedelta(seconds=1)
    if not tasks[0] < warning < tasks[1]:
        pytest.skip(f"first tasks at {tasks[:2]}, the warning due at {warning}: no scene")
    with pytest.raises(NondeterminismError):
        await _replayer().replay_workflow(history)


@pytest.mark.parametrize("revision", [5, 4])
async def test_a_held_step_after_a_write_landed_in_a_task_of_no_command_replays(
    dev_server: WorkflowEnvironment, sqlite_database: Database, revision: int
) -> None:
    """The SDK hazard of tests/workflows/test_sdk_hazards.py, on an incident: a write
    running as a regular activity (its local attempt refused), a signal that changes
    nothing, the write's end (two tasks with no command), then a step held for its
    caller's write, on a worker that rebuilds the workflow for every task. The worker
    hands the step over before the write's end; in the history's order it comes after.
    Revision 5 holds the step to its own hold's end either way, and its history
    replays; revision 4 wrote it at once when it came first, and its does not."""

    async def second_refused_then_slow(write: int) -> None:
        if write == 2:
            raise RuntimeError("the database is down")  # the local attempt
        if write == 3:
            await asyncio.sleep(2)  # the same write as a regular activity

    second_write_refused_then_slow = read_model_write(sqlite_database, second_refused_then_slow)

    task_queue = f"vagt-test-{uuid.uuid4()}"
    worker = incident_worker(
        dev_server,
        task_queue,
        second_write_refused_then_slow,
        Receiver().deliver,
        max_cached_workflows=0,  # as after a restart, for every task
    )
    quiet = ProcessDefinition(sla=SlaPolicy(targets={}))
    async with worker:
        request = DeclareRequest(title="Queue backlog", impact=3, urgency=3)
        handle, _ = await start_incident(
            dev_server, task_queue, request, ALICE, quiet, revision=revision
        )
        await asyncio.sleep(1)
        written_now = contracts.NoteCommand(actor=ALICE, request=NoteRequest(text="first"))
        await handle.execute_update(IncidentWorkflow.note, written_now)
        await asyncio.sleep(0.5)
        now = datetime.now(UTC)
        nothing = AlertActivity(count=0, firing=0, first_seen=now, last_seen=now)
        await handle.signal(IncidentWorkflow.alerts_observed, AlertNews(activity=nothing))
        await asyncio.sleep(2.5)  # the write has landed
        held = contracts.NoteCommand(
            actor=ALICE, request=NoteRequest(text="second"), caller_writes_within=5
        )
        await handle.execute_update(IncidentWorkflow.note, held)
        await asyncio.sleep(1)
        history = await handle.fetch_history()
        await handle.terminate()

    kinds = [event.event_type for event in history.events]
    signalled = kinds.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)
    landed = kinds.index(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, signalled)
    if EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED not in kinds[signalled:landed]:
        pytest.skip("the signal and the write's end came in one task: no scene")
    if revision >= 5:
        await _replayer().replay_workflow(history)
    else:
        with pytest.raises(NondeterminismError):
            await _replayer().replay_workflow(history)


# A P1 paging ALICE, then bob, a second apart, for four rounds: eight pages.
_PAGES_EVERY_SECOND = ProcessDefinition(
    escalation_policies={
        "oncall": EscalationPolicy(
            levels=[
                EscalationLevel(targets=[EscalationTarget(user=name)], delay=timedelta(seconds=1))
                for name in ("alice", "bob")
            ],
            repeat=3,
        )
    },
    escalation={priority: ["oncall"] for priority in Priority},
    people={
        name: Person(notify=[ContactMethod(channel="email", address=f"{name}@example.com")])
        for name in ("alice", "bob")
    },
)


@pytest.mark.parametrize("revision", [contracts.CODE_REVISION, 5])
async def test_pages_go_out_while_the_read_model_is_down(
    dev_server: WorkflowEnvironment, sqlite_database: Database, revision: int
) -> None:
    """The read model down for 5 s (every write refused) while an unacknowledged P1
    escalates every second: the levels page on time all the same, the read model holds
    every page once it is back, and the history replays. Runs of revision 5 and older
    wait for their write: at most the page already under way goes out meanwhile."""
    down = False

    async def refused_while(_: int) -> None:
        if down:
            raise RuntimeError("the database is down")

    refused_while_down = read_model_write(sqlite_database, refused_while)

    task_queue = f"vagt-test-{uuid.uuid4()}"
    receiver = Receiver()
    worker = incident_worker(dev_server, task_queue, refused_while_down, receiver.deliver)
    async with worker:
        request = DeclareRequest(title="Payments down", impact=1, urgency=1)
        handle, _ = await start_incident(
            dev_server, task_queue, request, ALICE, _PAGES_EVERY_SECOND, revision=revision
        )
        await eventually(lambda: len(receiver.deliveries) >= 1, 10, "the first page")
        down = True
        paged_before = len(receiver.deliveries)
        await asyncio.sleep(5)
        paged_while_down = len(receiver.deliveries) - paged_before
        down = False
        await eventually(lambda: len(receiver.deliveries) >= 8, 40, "every round paged")
        incident_id = int(handle.id.removeprefix("incident-"))

        async def all_written() -> bool:
            async with sqlite_database.session() as session:
                stored = await IncidentRepository(session).get(incident_id)
            kinds = [event.kind for event in stored.timeline] if stored else []
            return kinds.count(EventKind.PAGED) == 8

        await eventually(all_written, 40, "every page in the read model")
        history = await handle.fetch_history()
        await handle.terminate()

    if revision >= 6:
        assert paged_while_down >= 3  # a page a second, not once the write lands
        # Pages that ended while the write waited left no task with no command: the
        # memo was upserted instead.
        assert tasks_with_no_command(history) == []
        kinds = [event.event_type for event in history.events]
        assert EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED in kinds
    else:
        assert paged_while_down <= 1  # the one that may have been under way
    await _replayer().replay_workflow(history)
