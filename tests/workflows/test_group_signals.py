"""An incident opened by alerts tells its alert group when it is resolved; what comes
while the group takes that signal must not end a workflow task with no command."""

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import (
    Interceptor,
    Replayer,
    SignalExternalWorkflowInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from activities.read_model import ReadModelActivities
from domain.alert_groups import AlertSource
from domain.channels import Delivery, DeliveryOutcome, DeliveryResult
from domain.escalation import EscalationLevel, EscalationPolicy, EscalationTarget
from domain.priority import Priority
from domain.process import ContactMethod, Person, ProcessDefinition
from domain.requests import DeclareRequest, ResolveRequest
from domain.roles import Actor, Role
from store.db import Database
from tests.polling import eventually
from tests.temporal_fixtures import incident_worker, start_incident
from tests.workflows.history_tasks import tasks_with_no_command
from workflows import contracts
from workflows.incident import IncidentWorkflow

ALICE = Actor(name="alice", roles=frozenset({Role.RESPONDER}))

# A P1 that pages alice at once, and again an hour later.
_PAGES_AT_ONCE = ProcessDefinition(
    escalation_policies={
        "oncall": EscalationPolicy(
            levels=[
                EscalationLevel(targets=[EscalationTarget(user="alice")], delay=timedelta(hours=1))
            ]
        )
    },
    escalation={priority: ["oncall"] for priority in Priority},
    people={"alice": Person(notify=[ContactMethod(channel="email", address="a@example.com")])},
)

# How long the interceptor below keeps a signal to another workflow from going out.
_SIGNAL_DELAY = timedelta(hours=3)


class _SlowSignalsToOthers(Interceptor):
    """Makes a workflow's signals to other workflows wait for a timer before they go
    out: the milliseconds in which Temporal delivers such a signal, and the workflow
    waits for it to be taken, stretched to hours, so that a test can end a page while
    they last."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        return _Inbound


class _Inbound(WorkflowInboundInterceptor):
    def init(self, outbound: WorkflowOutboundInterceptor) -> None:
        super().init(_Outbound(outbound))


class _Outbound(WorkflowOutboundInterceptor):
    async def signal_external_workflow(self, input: SignalExternalWorkflowInput) -> None:
        await workflow.sleep(_SIGNAL_DELAY)
        await super().signal_external_workflow(input)


async def _events_of(handle: WorkflowHandle[Any, Any]) -> list[EventType.ValueType]:
    return [event.event_type for event in (await handle.fetch_history()).events]


def _signal_held(history: WorkflowHistory) -> int | None:
    """The index in `history` of the interceptor's timer holding a signal back, if any."""
    for n, event in enumerate(history.events):
        if (
            event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
            and event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
            == _SIGNAL_DELAY
        ):
            return n
    return None


@pytest.mark.parametrize("revision", [contracts.CODE_REVISION, 6])
async def test_a_page_ending_while_the_group_hears_of_the_resolution_gets_a_command(
    dev_server: WorkflowEnvironment, sqlite_database: Database, revision: int
) -> None:
    """An alert's P1 is resolved while its first page is still being sent, and the page
    ends while the incident tells its alert group of the resolution. A run of revision
    6 waits for the group in its loop, so the task of the page's end gives Temporal no
    command: the task Temporal's SDK can hand over out of order when it rebuilds the
    workflow (tests/workflows/test_sdk_hazards.py). From revision 7 the loop goes on
    while the group is told, and writes the page's outcome in that task."""
    paging = asyncio.Event()
    page_may_end = asyncio.Event()

    @activity.defn(name="deliver_notification")
    async def deliver(delivery: Delivery) -> DeliveryResult:
        paging.set()
        await page_may_end.wait()
        return DeliveryResult(outcome=DeliveryOutcome.DELIVERED, status_code=200, detail="ok")

    write = ReadModelActivities(sqlite_database).project_and_find_followers
    task_queue = f"vagt-test-{uuid.uuid4()}"
    worker = incident_worker(
        dev_server, task_queue, write, deliver, interceptors=[_SlowSignalsToOthers()]
    )
    async with worker:
        source = AlertSource(
            integration_id=1,
            integration_name="prometheus",
            dedup_key="checkout-5xx",
            group_workflow_id=f"alerts-test-{uuid.uuid4()}",
        )
        request = DeclareRequest(title="Checkout errors", impact=1, urgency=1)
        handle, _ = await start_incident(
            dev_server, task_queue, request, ALICE, _PAGES_AT_ONCE, revision=revision, source=source
        )
        await asyncio.wait_for(paging.wait(), 10)
        resolve = contracts.ResolveCommand(
            actor=ALICE, request=ResolveRequest(summary="rolled back", root_cause_category="change")
        )
        await handle.execute_update(IncidentWorkflow.resolve, resolve)

        async def telling_the_group() -> bool:
            return _signal_held(await handle.fetch_history()) is not None

        await eventually(telling_the_group, 10, "the signal to the group under way")
        page_may_end.set()

        async def page_end_taken() -> bool:
            kinds = await _events_of(handle)
            if EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED not in kinds:
                return False
            ended = kinds.index(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
            return EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED in kinds[ended:]

        await eventually(page_end_taken, 10, "the task of the page's end completed")
        history = await handle.fetch_history()
        await handle.terminate()

    kinds = [event.event_type for event in history.events]
    held = _signal_held(history)
    ended = kinds.index(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
    assert held is not None and held < ended  # the page ended while the group was told
    empty = tasks_with_no_command(history)
    if revision >= 7:
        assert empty == []
    else:
        # The task that took the page's end: the loop waited for the group.
        assert len(empty) == 1
        assert empty[0] > ended + 1  # event ids count from 1
    await _replayer().replay_workflow(history)


def _replayer() -> Replayer:
    return Replayer(
        workflows=[IncidentWorkflow],
        data_converter=pydantic_data_converter,
        interceptors=[_SlowSignalsToOthers()],
    )
