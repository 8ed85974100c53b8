"""SLA clocks and escalations firing on their own, on the time-skipping server."""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from domain.calendars import BusinessHours, Calendar
from domain.channels import DeliveryOutcome, DeliveryResult
from domain.escalation import EscalationLevel, EscalationPolicy, EscalationTarget
from domain.incident import Incident
from domain.priority import Priority
from domain.process import ContactMethod, Person, ProcessDefinition
from domain.requests import DeclareRequest, HoldRequest
from domain.roles import Actor, Role
from domain.sla import SlaPolicy, SlaTargets
from domain.timeline import EventKind, TimelineEvent
from store.db import Database
from tests.temporal_fixtures import Receiver, RunWorker, start_incident
from workflows import contracts
from workflows import incident as wf

ALICE = Actor(name="alice", roles=frozenset({Role.RESPONDER}))
MINUTE = timedelta(minutes=1)
OSLO = ZoneInfo("Europe/Oslo")


def _level(user: str, delay: timedelta) -> EscalationLevel:
    return EscalationLevel(targets=[EscalationTarget(user=user)], delay=delay)


def _person(name: str) -> Person:
    return Person(notify=[ContactMethod(channel="email", address=f"{name}@example.com")])


PROCESS = ProcessDefinition(
    sla=SlaPolicy(
        targets={
            Priority.P1: SlaTargets(
                acknowledge=timedelta(minutes=5), resolve=timedelta(hours=4), review=None
            ),
            Priority.P3: SlaTargets(resolve=timedelta(hours=8), calendar="office"),
        }
    ),
    calendars={"office": Calendar(timezone="Europe/Oslo", business_hours=BusinessHours())},
    escalation_policies={
        "oncall": EscalationPolicy(
            levels=[
                _level("alice", 10 * MINUTE),
                _level("bob", 10 * MINUTE),
                _level("manager", 30 * MINUTE),
            ],
            repeat=1,
            repeat_from_level=2,
        )
    },
    escalation={Priority.P1: ["oncall"]},
    people={name: _person(name) for name in ("alice", "bob", "manager")},
)


async def _start(
    env: WorkflowEnvironment, task_queue: str, impact: int = 1, urgency: int = 1
) -> tuple[WorkflowHandle[Any, Any], datetime]:
    request = DeclareRequest(title="Payments down", impact=impact, urgency=urgency)
    return await start_incident(env, task_queue, request, ALICE, PROCESS)


async def _timeline(handle: WorkflowHandle[Any, Any]) -> list[TimelineEvent]:
    incident: Incident = await handle.query(wf.IncidentWorkflow.incident)
    return incident.timeline


def _pages(receiver: Receiver, start: datetime) -> list[tuple[str | None, timedelta]]:
    """(who, minutes after start) of each page, rounded to the second."""
    return [
        (d.notification.recipient, _rounded(d.notification.at - start))
        for d in receiver.deliveries
        if d.notification.kind == "page"
    ]


def _rounded(delta: timedelta) -> timedelta:
    return timedelta(seconds=round(delta.total_seconds()))


class TestEscalation:
    async def test_unacknowledged_p1_pages_each_level_on_time_and_repeats_from_level_two(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        receiver = Receiver()
        async with run_worker(own_time_skipping.client, sqlite_database, receiver) as settings:
            handle, start = await _start(own_time_skipping, settings.task_queue)
            await own_time_skipping.sleep(timedelta(hours=2))
            await handle.terminate("test over")
        # L1 at once, L2 after 10 min, L3 after 20; then (after L3's 30 min) L2 and L3 again.
        assert _pages(receiver, start) == [
            ("alice", timedelta(0)),
            ("bob", 10 * MINUTE),
            ("manager", 20 * MINUTE),
            ("bob", 50 * MINUTE),
            ("manager", 60 * MINUTE),
        ]
        assert len(set(receiver.keys())) == 5, "every page has its own idempotency key"

    async def test_acknowledging_stops_the_escalation_and_meets_the_clock(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        receiver = Receiver()
        async with run_worker(own_time_skipping.client, sqlite_database, receiver) as settings:
            handle, start = await _start(own_time_skipping, settings.task_queue)
            await own_time_skipping.sleep(12 * MINUTE)
            await handle.execute_update(
                wf.IncidentWorkflow.acknowledge, contracts.AcknowledgeCommand(actor=ALICE)
            )
            await own_time_skipping.sleep(timedelta(hours=2))
            timeline = await _timeline(handle)
            await handle.terminate("test over")
        assert [who for who, _ in _pages(receiver, start)] == ["alice", "bob"]
        breaches = [e.details["clock"] for e in timeline if e.kind is EventKind.SLA_BREACHED]
        # 12 minutes to acknowledge against a 5-minute target: that clock breached.
        assert breaches == ["acknowledge"]
        warnings = [
            (e.details["clock"], e.details["fraction"], _rounded(e.at - start))
            for e in timeline
            if e.kind is EventKind.SLA_WARNING
        ]
        assert warnings[:2] == [
            ("acknowledge", 0.5, timedelta(minutes=2, seconds=30)),
            ("acknowledge", 0.75, timedelta(minutes=3, seconds=45)),
        ]


class TestClocks:
    async def test_a_three_hour_hold_moves_the_resolve_breach_by_three_hours(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        w = wf.IncidentWorkflow
        async with run_worker(own_time_skipping.client, sqlite_database) as settings:
            handle, start = await _start(own_time_skipping, settings.task_queue)
            await handle.execute_update(w.acknowledge, contracts.AcknowledgeCommand(actor=ALICE))
            await own_time_skipping.sleep(timedelta(hours=1))
            hold = HoldRequest(reason="vendor")
            await handle.execute_update(w.hold, contracts.HoldCommand(actor=ALICE, request=hold))
            await own_time_skipping.sleep(timedelta(hours=3))
            await handle.execute_update(w.resume, contracts.ResumeCommand(actor=ALICE))
            await own_time_skipping.sleep(timedelta(hours=4))
            timeline = await _timeline(handle)
            await handle.terminate("test over")
        breach = [e for e in timeline if e.kind is EventKind.SLA_BREACHED]
        assert [e.details["clock"] for e in breach] == ["resolve"]
        # 4 h target + 3 h on hold: the breach comes 7 hours after the start.
        assert abs(breach[0].at - start - timedelta(hours=7)) < timedelta(seconds=2)

    async def test_business_hours_p3_opened_friday_1700_breaches_monday_1700(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        now = (await own_time_skipping.get_current_time()).astimezone(OSLO)
        friday = (now + timedelta(days=(4 - now.weekday()) % 7 or 7)).replace(
            hour=17, minute=0, second=0, microsecond=0
        )
        await own_time_skipping.sleep(friday - now)
        async with run_worker(own_time_skipping.client, sqlite_database) as settings:
            handle, start = await _start(
                own_time_skipping, settings.task_queue, impact=2, urgency=2
            )
            assert start.astimezone(OSLO).weekday() == 4
            await own_time_skipping.sleep(timedelta(days=4))
            timeline = await _timeline(handle)
            await handle.terminate("test over")
        breach = next(e for e in timeline if e.kind is EventKind.SLA_BREACHED)
        # 8 office hours, Oslo time: all of them on Monday, 09:00 to 17:00.
        monday_17 = (friday + timedelta(days=3)).replace(hour=17)
        assert abs(breach.at - monday_17) < timedelta(seconds=2), breach.at


class TestDeliveryRetries:
    async def test_a_failed_page_is_retried_with_the_same_key_after_retry_after(
        self,
        own_time_skipping: WorkflowEnvironment,
        sqlite_database: Database,
        run_worker: RunWorker,
    ) -> None:
        receiver = Receiver()
        receiver.script = [
            DeliveryResult(
                outcome=DeliveryOutcome.RETRY,
                status_code=429,
                retry_after=timedelta(seconds=40),
                detail="slow down",
            )
        ]
        async with run_worker(own_time_skipping.client, sqlite_database, receiver) as settings:
            handle, _ = await _start(own_time_skipping, settings.task_queue)
            await own_time_skipping.sleep(5 * MINUTE)
            timeline = await _timeline(handle)
            await handle.terminate("test over")
        first, second = receiver.deliveries[:2]
        assert first.notification.idempotency_key == second.notification.idempotency_key
        assert (first.attempt, second.attempt) == (1, 2)
        attempts = [e for e in timeline if e.kind is EventKind.NOTIFICATION_ATTEMPTED]
        assert [(e.details["outcome"], e.details["attempt"]) for e in attempts[:2]] == [
            ("retry", 1),
            ("delivered", 2),
        ]
        assert attempts[1].at - attempts[0].at >= timedelta(seconds=40)
