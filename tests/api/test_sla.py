"""Clocks, escalation and schedules as a responder sees them over HTTP."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from domain.escalation import EscalationLevel, EscalationPolicy, EscalationTarget
from domain.priority import Priority
from domain.process import ContactMethod, Person, ProcessDocument
from domain.schedules import OnCallSchedule, Rotation
from domain.sla import SlaPolicy, SlaTargets
from store.db import Database
from tests.api.conftest import Api, serve
from tests.temporal_fixtures import Receiver, RunWorker

INCIDENTS = "/api/v1/incidents"
P1 = {"title": "Checkout down", "impact": 1, "urgency": 1}

PROCESS = ProcessDocument.model_validate(
    {
        "sla": SlaPolicy(
            targets={
                Priority.P1: SlaTargets(
                    acknowledge=timedelta(minutes=5), resolve=timedelta(hours=4)
                )
            }
        ),
        "schedules": {
            "primary": OnCallSchedule(
                name="primary",
                rotations=[
                    Rotation(
                        members=["alice", "bob"],
                        length=timedelta(days=7),
                        handoff="2026-01-05T09:00",
                    )
                ],
            )
        },
        "people": {
            name: Person(notify=[ContactMethod(channel="pager")]) for name in ("alice", "bob")
        },
        "escalation_policies": {
            "oncall": EscalationPolicy(
                levels=[
                    EscalationLevel(
                        targets=[EscalationTarget(schedule="primary")],
                        delay=timedelta(minutes=10),
                    ),
                    EscalationLevel(
                        targets=[EscalationTarget(user="bob")], delay=timedelta(minutes=10)
                    ),
                ]
            )
        },
        "escalation": {Priority.P1: ["oncall"]},
        "channels": {"pager": {"type": "webhook", "url": "http://127.0.0.1:9/never"}},
    }
)


@pytest.fixture
async def sla_api(
    own_time_skipping: WorkflowEnvironment,
    database: Database,
    run_worker: RunWorker,
    tmp_path: Path,
    receiver: Receiver,
) -> AsyncIterator[Api]:
    async with serve(
        own_time_skipping, database, run_worker, tmp_path, PROCESS, receiver
    ) as running:
        yield running


class TestClocks:
    async def test_an_incident_shows_its_clocks_with_target_remaining_and_deadline(
        self, sla_api: Api
    ) -> None:
        incident = (await sla_api.post(INCIDENTS, "alice", P1)).json()
        clocks = {clock["name"]: clock for clock in incident["clocks"]}
        assert set(clocks) == {"acknowledge", "resolve"}
        assert clocks["acknowledge"]["state"] == "running"
        assert clocks["acknowledge"]["target_seconds"] == 300
        assert 0 < clocks["acknowledge"]["remaining_seconds"] <= 300
        assert clocks["resolve"]["deadline"] is not None

        acked = (await sla_api.post(f"{INCIDENTS}/{incident['id']}/acknowledge", "alice")).json()
        clocks = {clock["name"]: clock for clock in acked["clocks"]}
        assert clocks["acknowledge"]["state"] == "met"
        assert clocks["acknowledge"]["deadline"] is None

    async def test_the_list_finds_breached_incidents(
        self, sla_api: Api, own_time_skipping: WorkflowEnvironment
    ) -> None:
        late = (await sla_api.post(INCIDENTS, "alice", P1)).json()
        await own_time_skipping.sleep(timedelta(minutes=6))
        for _ in range(100):
            page = (await sla_api.get(INCIDENTS, "vic", sla="breached")).json()
            if page["items"]:
                break
        assert [item["id"] for item in page["items"]] == [late["id"]]
        assert page["items"][0]["sla_breached"] is True
        shown = (await sla_api.get(f"{INCIDENTS}/{late['id']}", "vic")).json()
        clock = next(c for c in shown["clocks"] if c["name"] == "acknowledge")
        # The API measures elapsed time on its own clock, which the test server's
        # skipped time does not move; the breach itself is the workflow's fact.
        assert clock["state"] == "breached"
        assert clock["breached_at"] is not None


class TestEscalate:
    async def test_a_responder_escalates_by_hand_with_a_reason(
        self, sla_api: Api, receiver: Receiver
    ) -> None:
        incident = (await sla_api.post(INCIDENTS, "alice", P1)).json()
        url = f"{INCIDENTS}/{incident['id']}"
        await sla_api.post(f"{url}/acknowledge", "alice")
        response = await sla_api.post(f"{url}/escalate", "alice", {"reason": "need the DBA"})
        assert response.status_code == 200, response.text
        event = response.json()["timeline"][-1]
        assert (event["kind"], event["actor"]) == ("escalated", "alice")
        assert event["details"]["level"] == 2
        assert event["details"]["reason"] == "need the DBA"

    async def test_escalating_without_a_reason_is_422_and_viewers_403(self, sla_api: Api) -> None:
        incident = (await sla_api.post(INCIDENTS, "alice", P1)).json()
        url = f"{INCIDENTS}/{incident['id']}/escalate"
        assert (await sla_api.post(url, "alice", {})).status_code == 422
        assert (await sla_api.post(url, "vic", {"reason": "x"})).status_code == 403

    async def test_past_the_last_level_escalation_is_409(self, sla_api: Api) -> None:
        # P3 has no escalation policy in this process.
        incident = (await sla_api.post(INCIDENTS, "alice", P1 | {"impact": 2})).json()
        response = await sla_api.post(
            f"{INCIDENTS}/{incident['id']}/escalate", "alice", {"reason": "help"}
        )
        assert response.status_code == 409
        assert "no escalation policy" in response.json()["detail"]


class TestSchedules:
    async def test_who_is_on_call_at_a_given_time(self, sla_api: Api) -> None:
        first = await sla_api.get(
            "/api/v1/schedules/primary/oncall", "vic", at="2026-01-06T12:00:00Z"
        )
        second = await sla_api.get(
            "/api/v1/schedules/primary/oncall", "vic", at="2026-01-13T12:00:00Z"
        )
        assert first.json()["user"] == "alice"
        assert second.json()["user"] == "bob"
        listed = (await sla_api.get("/api/v1/schedules", "vic")).json()
        assert [s["name"] for s in listed] == ["primary"]
        assert listed[0]["next_shifts"]

    async def test_unknown_schedule_is_404_and_a_time_without_offset_422(
        self, sla_api: Api
    ) -> None:
        missing = await sla_api.get("/api/v1/schedules/nope/oncall", "vic")
        assert missing.status_code == 404
        assert "primary" in missing.json()["detail"]
        naive = await sla_api.get(
            "/api/v1/schedules/primary/oncall", "vic", at="2026-01-06T12:00:00"
        )
        assert naive.status_code == 422
