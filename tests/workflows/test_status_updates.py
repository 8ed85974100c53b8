"""Status updates on the time-skipping server: the cadence reminds the commander and
then tells the next escalation level on its own, an update resets it, a hold pauses
it; and every piece of news reaches the incident's subscribers once."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.escalation import EscalationLevel, EscalationPolicy, EscalationTarget
from domain.incident import Incident
from domain.priority import Priority
from domain.process import ContactMethod, Person, ProcessDefinition
from domain.requests import (
    AcknowledgeRequest,
    AssignRequest,
    DeclareRequest,
    HoldRequest,
    ResolveRequest,
    ResumeRequest,
    StatusUpdateRequest,
)
from domain.roles import Actor, Role
from domain.sla import SlaPolicy
from domain.subscriptions import Subscriber, SubscriptionScope
from domain.timeline import EventKind
from store.db import Database
from store.subscriptions import SubscriptionRepository
from tests.temporal_fixtures import Receiver, RunWorker, start_incident
from workflows import contracts
from workflows import incident as wf

MINUTE = timedelta(minutes=1)
ALICE = Actor(name="alice", roles=frozenset({Role.RESPONDER}))
CAROL = Actor(name="carol", roles=frozenset({Role.COMMANDER}))


def _person(name: str) -> Person:
    return Person(notify=[ContactMethod(channel="email", address=f"{name}@example.com")])


# Every 30 minutes for P1, 10 minutes of grace; no SLA clocks, so every notification
# here is the cadence's or a subscriber's. Level 1 pages alice, level 2 bob.
PROCESS = ProcessDefinition.model_validate(
    {
        "sla": SlaPolicy(targets={}),
        "status_updates": {"every": {"P1": "30m"}, "grace": "10m"},
        "escalation_policies": {
            "oncall": EscalationPolicy(
                levels=[
                    EscalationLevel(targets=[EscalationTarget(user="alice")], delay=10 * MINUTE),
                    EscalationLevel(targets=[EscalationTarget(user="bob")], delay=10 * MINUTE),
                ]
            )
        },
        "escalation": {"P1": ["oncall"]},
        "people": {name: _person(name) for name in ("alice", "bob", "carol")},
    }
)


async def _declare(
    env: WorkflowEnvironment, task_queue: str, service: str | None = None
) -> tuple[WorkflowHandle[Any, Any], datetime]:
    """A P1 with carol as commander, acknowledged at once by alice (so the escalation
    policy waits to be told), at the returned moment."""
    request = DeclareRequest(title="Payments down", impact=1, urgency=1, service=service)
    handle, now = await start_incident(env, task_queue, request, ALICE, PROCESS)
    await handle.execute_update(
        wf.IncidentWorkflow.assign,
        contracts.AssignCommand(actor=CAROL, request=AssignRequest(commander="carol")),
    )
    await handle.execute_update(
        wf.IncidentWorkflow.acknowledge,
        contracts.AcknowledgeCommand(actor=ALICE, request=AcknowledgeRequest()),
    )
    return handle, now


@asynccontextmanager
async def _incident(
    env: WorkflowEnvironment,
    database: Database,
    run_worker: RunWorker,
    receiver: Receiver,
    service: str | None = None,
) -> AsyncIterator[tuple[WorkflowHandle[Any, Any], datetime]]:
    """A worker for PROCESS and `_declare`'s incident on it; terminated at the end."""
    async with run_worker(env.client, database, receiver, PROCESS) as settings:
        handle, start = await _declare(env, settings.task_queue, service)
        yield handle, start
        await handle.terminate("test over")


async def _update(handle: WorkflowHandle[Any, Any], message: str, public: bool = True) -> None:
    await handle.execute_update(
        wf.IncidentWorkflow.post_update,
        contracts.StatusUpdateCommand(
            actor=CAROL, request=StatusUpdateRequest(message=message, public=public)
        ),
    )


def _heard(receiver: Receiver, start: datetime) -> list[tuple[str, str | None, timedelta]]:
    """(kind, to whom, when after `start`) of each delivery, to the second."""
    return [
        (
            d.notification.kind,
            d.notification.recipient or d.channel,
            timedelta(seconds=round((d.notification.at - start).total_seconds())),
        )
        for d in receiver.deliveries
    ]


class TestCadence:
    async def test_a_silent_p1_reminds_its_commander_then_tells_the_next_level(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        receiver = Receiver()
        env = own_time_skipping
        async with _incident(env, sqlite_database, run_worker, receiver) as (handle, start):
            await env.sleep(75 * MINUTE)
            incident: Incident = await handle.query(wf.IncidentWorkflow.incident)

        assert _heard(receiver, start) == [
            ("page", "alice", timedelta(0)),  # the declaration's level 1
            ("update_due", "carol", 30 * MINUTE),
            ("update_overdue", "bob", 40 * MINUTE),  # level 2, told after the grace
            ("update_due", "carol", 70 * MINUTE),  # the count started again at 40
        ]
        kinds = [e.kind for e in incident.timeline]
        assert kinds.count(EventKind.STATUS_UPDATE_DUE) == 2
        assert kinds.count(EventKind.STATUS_UPDATE_MISSED) == 1

    async def test_an_update_resets_the_cadence(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        receiver = Receiver()
        env = own_time_skipping
        async with _incident(env, sqlite_database, run_worker, receiver) as (handle, start):
            await env.sleep(20 * MINUTE)
            await _update(handle, "Failing over to the standby database")
            await env.sleep(35 * MINUTE)

        assert _heard(receiver, start) == [
            ("page", "alice", timedelta(0)),
            ("update_due", "carol", 50 * MINUTE),
        ]

    async def test_a_hold_pauses_the_cadence_and_a_resume_starts_it_afresh(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        receiver = Receiver()
        env = own_time_skipping
        async with _incident(env, sqlite_database, run_worker, receiver) as (handle, start):
            await env.sleep(10 * MINUTE)
            await handle.execute_update(
                wf.IncidentWorkflow.hold,
                contracts.HoldCommand(actor=CAROL, request=HoldRequest(reason="vendor call")),
            )
            await env.sleep(2 * 60 * MINUTE)
            await handle.execute_update(
                wf.IncidentWorkflow.resume,
                contracts.ResumeCommand(actor=CAROL, request=ResumeRequest()),
            )
            await env.sleep(35 * MINUTE)

        heard = _heard(receiver, start)
        assert heard[0] == ("page", "alice", timedelta(0))
        # Nothing during the two hours on hold; one reminder 30 minutes after resuming.
        (reminder,) = heard[1:]
        assert reminder[:2] == ("update_due", "carol")
        assert 2 * 60 * MINUTE + 40 * MINUTE <= reminder[2] < 2 * 60 * MINUTE + 42 * MINUTE


class TestSubscribers:
    async def test_followers_of_the_service_hear_each_piece_of_news_once(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        async with sqlite_database.session() as session:
            subscriptions = SubscriptionRepository(session)
            now = datetime.now(UTC)
            service = SubscriptionScope(service="payments")
            # A status page hears public news; bob hears internal updates too.
            await subscriptions.subscribe(Subscriber(channel="status"), service, False, "ada", now)
            await subscriptions.subscribe(Subscriber(user="bob"), service, True, "ada", now)
            # Following the priority as well as the service: still told once.
            p1 = SubscriptionScope.model_validate({"priorities": {"lowest": Priority.P1}})
            await subscriptions.subscribe(Subscriber(user="bob"), p1, False, "ada", now)
            await session.commit()

        receiver = Receiver()
        env = own_time_skipping
        async with _incident(env, sqlite_database, run_worker, receiver, "payments") as (handle, _):
            await _update(handle, "Card payments fail; failing over")
            await _update(handle, "Standby is lagging 4 minutes", public=False)
            await handle.execute_update(
                wf.IncidentWorkflow.resolve,
                contracts.ResolveCommand(
                    actor=CAROL,
                    request=ResolveRequest(summary="failed over", root_cause_category="hardware"),
                ),
            )
            await env.sleep(MINUTE)
            incident: Incident = await handle.query(wf.IncidentWorkflow.incident)

        told = [
            (d.notification.kind, d.notification.recipient or d.channel, d.notification.text)
            for d in receiver.deliveries
            if d.notification.kind != "page"
        ]
        # Each subscriber's deliveries go out together, so only their set is fixed.
        assert sorted(told) == sorted(
            [
                ("incident_declared", "status", "New P1 incident: Payments down"),
                ("incident_declared", "bob", "New P1 incident: Payments down"),
                ("status_update", "status", "Card payments fail; failing over"),
                ("status_update", "bob", "Card payments fail; failing over"),
                ("status_update", "bob", "Standby is lagging 4 minutes"),
                ("incident_resolved", "status", "Resolved: failed over"),
                ("incident_resolved", "bob", "Resolved: failed over"),
            ]
        )
        keys = receiver.keys()
        assert len(keys) == len(set(keys))
        notified = [e for e in incident.timeline if e.kind is EventKind.SUBSCRIBERS_NOTIFIED]
        assert [e.details["kind"] for e in notified] == [
            "incident_declared",
            "status_update",
            "status_update",
            "incident_resolved",
        ]
        assert incident.announcements == []
