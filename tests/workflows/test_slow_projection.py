"""A history a slow read model leaves replays: kept apart from test_replay.py, whose
workflow subclass the sandbox imports with its module (and with this one's imports,
the read model's tables, which it refuses)."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

from activities.read_model import ReadModelActivities
from domain.alert_groups import AlertActivity
from domain.process import DEFAULT_PROCESS
from domain.requests import DeclareRequest, NoteRequest
from domain.roles import Actor, Role
from store.db import Database
from store.projection import Followers, ProjectionInput
from tests.temporal_fixtures import Receiver, start_incident
from workflows import contracts
from workflows.contracts import AlertNews
from workflows.incident import IncidentWorkflow


async def test_a_projection_slower_than_the_workflow_task_leaves_a_history_that_replays(
    dev_server: WorkflowEnvironment, sqlite_database: Database
) -> None:
    """A read model slower than the workflow task's timeout (a loaded database): Temporal's
    SDK keeps the task alive while the projection's local activity runs, and steps and
    alerts arrive meanwhile. The history this leaves must replay, or the incident's
    next worker cannot take it up (once seen under load: a nondeterminism error)."""
    read_model = ReadModelActivities(sqlite_database)

    @activity.defn(name="project_incident_and_find_followers")
    async def slow_projection(projection: ProjectionInput) -> Followers:
        await asyncio.sleep(1.5)  # the task times out after 1 s
        return await read_model.project_and_find_followers(projection)

    alice = Actor(name="alice", roles=frozenset({Role.RESPONDER}))
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
            alice,
            DEFAULT_PROCESS,
            task_timeout=timedelta(seconds=1),
        )

        async def note(n: int) -> None:
            await asyncio.sleep(0.3 * n)
            command = contracts.NoteCommand(
                actor=alice,
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
                IncidentWorkflow.acknowledge, contracts.AcknowledgeCommand(actor=alice)
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
