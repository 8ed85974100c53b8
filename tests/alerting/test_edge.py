"""Alerts from monitoring tools, end to end: the HTTP edge, alert groups, incidents,
with the example payloads of ../shared/payloads."""

import asyncio
import copy
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio import activity, workflow
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner, Worker

from activities.incidents import OPENING_MEMO, IncidentActivities, IncidentOpening
from activities.read_model import ReadModelActivities
from domain.alert_groups import AlertActivity
from domain.integrations import IntegrationFormat
from domain.process import DEFAULT_PROCESS
from domain.routing import Classification, Match, Routing, RoutingRule
from tests.alerting.conftest import (
    PAYLOADS,
    Stack,
    alert_count,
    only_incident,
    payload,
)
from tests.polling import eventually
from tests.processes import api_stack
from tests.temporal_fixtures import Receiver
from workflows import contracts
from workflows.alert_group import AlertGroupWorkflow
from workflows.contracts import AlertGroupInput, AlertNews, workflow_id
from workflows.incident import IncidentWorkflow

pytestmark = pytest.mark.skipif(not PAYLOADS.is_dir(), reason=f"no example payloads at {PAYLOADS}")


class TestPagerDuty:
    async def test_trigger_repeat_acknowledge_resolve_as_pagerduty_clients_expect(
        self, stack: Stack
    ) -> None:
        key = await stack.integration(IntegrationFormat.PAGERDUTY)
        event = payload("pagerduty/trigger_full.json") | {"routing_key": key}
        response = await stack.http.post("/v2/enqueue", json=event)
        assert response.status_code == 202
        assert response.json() == payload("pagerduty/response_202_success.json")

        incident = await only_incident(stack)
        assert incident["title"].startswith("Replication lag 412s on db-primary")
        assert incident["priority"] == "P1"  # severity critical
        assert incident["source"]["dedup_key"] == event["dedup_key"]
        for _ in range(3):
            assert (await stack.http.post("/v2/enqueue", json=event)).status_code == 202
        await alert_count(stack, incident["id"], 4)
        assert len(await stack.incidents()) == 1

        ack = payload("pagerduty/acknowledge.json") | {"routing_key": key}
        assert (await stack.http.post("/v2/enqueue", json=ack)).status_code == 202

        async def acknowledged() -> bool:
            shown = await stack.incident(incident["id"])
            return bool(shown["state"] == "acknowledged")

        await eventually(acknowledged)
        shown = await stack.incident(incident["id"])
        ack_event = next(e for e in shown["timeline"] if e["kind"] == "acknowledged")
        assert ack_event["actor"].startswith("integration:")

        resolve = payload("pagerduty/resolve.json") | {"routing_key": key}
        assert (await stack.http.post("/v2/enqueue", json=resolve)).status_code == 202

        async def recovered() -> bool:
            shown = await stack.incident(incident["id"])
            return any(e["kind"] == "source_recovered" for e in shown["timeline"])

        await eventually(recovered)
        # Resolving on recovery is off by default: people resolve, with a root cause.
        assert (await stack.incident(incident["id"]))["state"] == "acknowledged"

    async def test_the_alert_that_opens_an_incident_travels_in_its_declaration(
        self, stack: Stack
    ) -> None:
        key = await stack.integration(IntegrationFormat.PAGERDUTY)
        event = payload("pagerduty/trigger_full.json") | {"routing_key": key}
        assert (await stack.http.post("/v2/enqueue", json=event)).status_code == 202

        incident = await only_incident(stack)
        await alert_count(stack, incident["id"], 1)
        # Counted from the incident's start: the group signalled it nothing.
        group = stack.client.get_workflow_handle(incident["source"]["group_workflow_id"])
        kinds = [EventType.Name(e.event_type) for e in (await group.fetch_history()).events]
        assert "EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED" not in kinds
        # The group started it from a local activity: no child's events, no task to
        # hear it started; the incident's memo names the opening it was started for.
        assert not [kind for kind in kinds if "CHILD_WORKFLOW" in kind]
        assert kinds.count("EVENT_TYPE_WORKFLOW_TASK_COMPLETED") == 1
        # Nor does the incident write search attributes: the read model lists incidents.
        handle = stack.client.get_workflow_handle(contracts.workflow_id(incident["id"]))
        kinds = [EventType.Name(e.event_type) for e in (await handle.fetch_history()).events]
        assert "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES" not in kinds
        assert OPENING_MEMO in await (await handle.describe()).memo()

    async def test_numbers_that_name_other_incidents_are_skipped(self, stack: Stack) -> None:
        """A read model older than Temporal's history (restored from a backup) hands out
        numbers Temporal has seen: the alert opens an incident of its own under the next
        free number, and the incidents already there, running or closed, are untouched."""
        running, closed = [
            await stack.client.start_workflow(
                "SomethingElse",
                id=contracts.workflow_id(number),
                task_queue=f"nobody-{uuid.uuid4()}",
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            for number in (1, 2)  # a fresh read model's first numbers
        ]
        await closed.terminate()
        key = await stack.integration(IntegrationFormat.PAGERDUTY)
        event = payload("pagerduty/trigger_full.json") | {"routing_key": key}
        assert (await stack.http.post("/v2/enqueue", json=event)).status_code == 202

        incident = await only_incident(stack)
        assert incident["id"] > 2
        assert incident["source"]["dedup_key"] == event["dedup_key"]
        await alert_count(stack, incident["id"], 1)
        assert (await running.describe()).status == WorkflowExecutionStatus.RUNNING
        assert (await closed.describe()).status == WorkflowExecutionStatus.TERMINATED
        await running.terminate()

    async def test_a_worker_dying_after_starting_the_incident_loses_no_alert(
        self, dev_server: WorkflowEnvironment, tmp_path: Path
    ) -> None:
        """The group starts its incident from a local activity inside its workflow task.
        A worker that dies after the start, before the task completes, leaves the
        incident started with what the group had heard then; the task's retry hears
        more (alerts that came meanwhile), finds its own incident, and must still pass
        every one on: none may vanish into a declaration that is never used."""
        _DiesAfterStarting.died = False
        async with api_stack(dev_server.client, tmp_path) as (http, settings, database):
            stack = Stack(http, settings, database, dev_server.client)
            key = await stack.integration(IntegrationFormat.PAGERDUTY)
            event = payload("pagerduty/trigger_full.json") | {"routing_key": key}
            incidents = IncidentActivities(database, DEFAULT_PROCESS)
            read_model = ReadModelActivities(database)

            @activity.defn(name="start_incident")
            async def start_then_hear_more(opening: IncidentOpening) -> None:
                await incidents.start_incident(opening)  # raises if the number is taken
                if not _DiesAfterStarting.died:
                    for _ in range(19):  # accepted while the group's task is in flight
                        response = await http.post("/v2/enqueue", json=event)
                        assert response.status_code == 202

            worker = Worker(
                dev_server.client,
                task_queue=settings.task_queue,
                workflows=[IncidentWorkflow, _DiesAfterStarting],
                activities=[
                    read_model.project_incident,
                    read_model.project_and_find_followers,
                    incidents.prepare_incident,
                    start_then_hear_more,
                    Receiver().deliver,
                ],
            )
            async with worker:
                assert (await http.post("/v2/enqueue", json=event)).status_code == 202

                incident = await only_incident(stack)
                await alert_count(stack, incident["id"], 20)
                group = dev_server.client.get_workflow_handle(
                    incident["source"]["group_workflow_id"]
                )
                kinds = [EventType.Name(e.event_type) for e in (await group.fetch_history()).events]

            assert _DiesAfterStarting.died
            assert "EVENT_TYPE_WORKFLOW_TASK_FAILED" in kinds  # the attempt that died
            assert len(await stack.incidents()) == 1

    async def test_a_start_outliving_its_share_of_the_task_opens_one_incident(
        self, dev_server: WorkflowEnvironment, tmp_path: Path
    ) -> None:
        """Temporal slow to answer the incident's start (a loaded server): the local
        attempt is given up at half the group's task (5 s) and the start runs again as a
        regular activity, which finds the incident the first attempt started. One
        incident, every alert counted in it, and a group history that replays."""
        async with api_stack(dev_server.client, tmp_path) as (http, settings, database):
            stack = Stack(http, settings, database, dev_server.client)
            key = await stack.integration(IntegrationFormat.PAGERDUTY)
            event = payload("pagerduty/trigger_full.json") | {"routing_key": key}
            incidents = IncidentActivities(database, DEFAULT_PROCESS)
            read_model = ReadModelActivities(database)
            attempts: list[bool] = []

            @activity.defn(name="start_incident")
            async def start_then_stall(opening: IncidentOpening) -> None:
                attempts.append(activity.info().is_local)
                await incidents.start_incident(opening)
                if len(attempts) == 1:
                    for _ in range(9):  # accepted while the group's task waits
                        response = await http.post("/v2/enqueue", json=event)
                        assert response.status_code == 202
                    await asyncio.sleep(8)  # past the local budget; cancelled at it

            worker = Worker(
                dev_server.client,
                task_queue=settings.task_queue,
                workflows=[IncidentWorkflow, AlertGroupWorkflow],
                activities=[
                    read_model.project_incident,
                    read_model.project_and_find_followers,
                    incidents.prepare_incident,
                    start_then_stall,
                    Receiver().deliver,
                ],
                workflow_runner=UnsandboxedWorkflowRunner(),
            )
            async with worker:
                assert (await http.post("/v2/enqueue", json=event)).status_code == 202
                incident = await only_incident(stack)
                await alert_count(stack, incident["id"], 10)
                group = dev_server.client.get_workflow_handle(
                    incident["source"]["group_workflow_id"]
                )
                history = await group.fetch_history()

            assert attempts == [True, False]  # local, then regular
            scheduled = [
                e.activity_task_scheduled_event_attributes.activity_type.name
                for e in history.events
                if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
            ]
            assert scheduled == ["start_incident"]
            assert len(await stack.incidents()) == 1
            replayer = Replayer(
                workflows=[AlertGroupWorkflow],
                data_converter=pydantic_data_converter,
                workflow_runner=UnsandboxedWorkflowRunner(),
            )
            await replayer.replay_workflow(history)

    async def test_a_trigger_without_dedup_key_gets_one_generated(self, stack: Stack) -> None:
        key = await stack.integration(IntegrationFormat.PAGERDUTY)
        event = payload("pagerduty/trigger_minimal_no_dedup_key.json") | {"routing_key": key}
        response = await stack.http.post("/v2/enqueue", json=event)
        assert response.status_code == 202
        body = response.json()
        assert (body["status"], body["message"]) == ("success", "Event processed")
        assert len(body["dedup_key"]) == 32

    async def test_bad_events_get_pagerdutys_400_and_change_nothing(self, stack: Stack) -> None:
        event = payload("pagerduty/trigger_full.json")
        short = await stack.http.post("/v2/enqueue", json=event | {"routing_key": "abc"})
        assert short.status_code == 400
        assert short.json() == payload("pagerduty/response_400_invalid_event.json")
        unknown = await stack.http.post("/v2/enqueue", json=event)  # 32 chars, not ours
        assert unknown.status_code == 400
        assert unknown.json()["errors"] == ["Invalid routing key"]
        key = await stack.integration(IntegrationFormat.PAGERDUTY)
        bad = copy.deepcopy(event) | {"routing_key": key}
        bad["payload"]["severity"] = "catastrophic"
        refused = await stack.http.post("/v2/enqueue", json=bad)
        assert refused.status_code == 400
        assert "payload.severity" in refused.json()["errors"][0]
        too_big = await stack.http.post(
            "/v2/enqueue", content=b'{"x": "' + b"a" * (600 * 1024) + b'"}'
        )
        assert too_big.status_code == 400
        await asyncio.sleep(0.5)
        assert await stack.incidents() == []

    async def test_past_its_rate_an_integration_gets_429(self, stack: Stack) -> None:
        key = await stack.integration(IntegrationFormat.PAGERDUTY, rate_limit_per_minute=2)
        event = payload("pagerduty/trigger_minimal_no_dedup_key.json") | {"routing_key": key}
        answers = [(await stack.http.post("/v2/enqueue", json=event)).status_code for _ in range(3)]
        assert answers == [202, 202, 429]


class TestAlertmanager:
    async def test_a_group_opens_one_incident_repeats_are_idempotent_and_recovery_is_noted(
        self, stack: Stack
    ) -> None:
        key = await stack.integration(IntegrationFormat.ALERTMANAGER)
        auth = {"Authorization": f"Bearer {key}"}
        firing = payload("alertmanager/firing_grouped.json")
        url = "/api/v1/integrations/alertmanager"
        response = await stack.http.post(url, json=firing, headers=auth)
        assert response.status_code == 202, response.text
        incident = await only_incident(stack)
        alerts = len(firing["alerts"])
        await alert_count(stack, incident["id"], alerts)

        # Alertmanager re-sends the whole group: nothing new, nothing counted twice.
        by_path = await stack.http.post(f"{url}/{key}", json=firing, headers={"Authorization": ""})
        assert by_path.status_code == 202
        partial = payload("alertmanager/mixed_partial_resolve.json")
        assert (await stack.http.post(url, json=partial, headers=auth)).status_code == 202
        resolved = payload("alertmanager/resolved_all.json")
        assert (await stack.http.post(url, json=resolved, headers=auth)).status_code == 202

        async def recovered() -> bool:
            shown = await stack.incident(incident["id"])
            return any(e["kind"] == "source_recovered" for e in shown["timeline"])

        await eventually(recovered)
        shown = await stack.incident(incident["id"])
        assert shown["alerts"]["firing"] == 0
        assert shown["state"] == "detected"
        assert len(await stack.incidents()) == 1

    async def test_resolve_on_recovery_resolves_and_the_next_firing_opens_a_new_incident(
        self, stack: Stack
    ) -> None:
        first, send = await _resolved_by_recovery(stack)
        # And the alert group has heard so (the incident tells it once its resolution is
        # written to the read model); a firing sooner is the next test's.
        shown = await stack.incident(first["id"])
        group = stack.client.get_workflow_handle(shown["source"]["group_workflow_id"])

        async def group_heard() -> bool:
            return (await group.query(AlertGroupWorkflow.group)).incident_id is None

        await eventually(group_heard)
        await send("alertmanager/firing_grouped.json")

        async def second_opened() -> bool:
            return len(await stack.incidents()) == 2

        await eventually(second_opened)

    async def test_a_firing_that_reaches_the_incident_once_resolved_opens_a_new_one(
        self, stack: Stack
    ) -> None:
        """The group passes a firing on before it hears that the incident is resolved:
        the incident gives it back, and the group opens a new incident for it."""
        first, _ = await _resolved_by_recovery(stack)
        # What the group would have passed on in that moment: a firing, as it counted it.
        now = datetime.now(UTC)
        firing = AlertActivity(count=1, first_seen=now, last_seen=now, firing=1)
        incident = stack.client.get_workflow_handle(workflow_id(first["id"]))
        await incident.signal(IncidentWorkflow.alerts_observed, AlertNews(activity=firing))

        async def second_opened() -> bool:
            return len(await stack.incidents()) == 2

        await eventually(second_opened)
        assert (await stack.incident(first["id"]))["state"] == "resolved"
        newest = (await stack.incidents())[0]
        assert newest["id"] != first["id"]
        assert newest["title"] == first["title"]

    async def test_bad_key_401_and_malformed_body_400(self, stack: Stack) -> None:
        url = "/api/v1/integrations/alertmanager"
        no_key = await stack.http.post(url, json=payload("alertmanager/firing_grouped.json"))
        assert no_key.status_code == 401
        key = await stack.integration(IntegrationFormat.ALERTMANAGER)
        malformed = await stack.http.post(
            url, content=b"{nope", headers={"Authorization": f"Bearer {key}"}
        )
        assert malformed.status_code == 400
        assert malformed.headers["content-type"] == "application/problem+json"


class TestGrafanaAndGeneric:
    async def test_grafana_test_notifications_are_recorded_and_do_not_page(
        self, stack: Stack
    ) -> None:
        key = await stack.integration(IntegrationFormat.GRAFANA)
        test = payload("grafana/firing_grouped.json")
        for alert in test["alerts"]:
            alert["labels"] = {"alertname": "TestAlert", "instance": "Grafana"}
            alert["annotations"] = {"summary": "Notification test"}
        response = await stack.http.post(
            "/api/v1/integrations/grafana", json=test, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 202
        await asyncio.sleep(1)
        assert await stack.incidents() == []

    async def test_generic_alert_routes_by_label(self, stack: Stack) -> None:
        routing = Routing(
            rules=[
                RoutingRule(
                    match=Match(labels={"team": "payments"}),
                    set=Classification(service="checkout", category="application"),
                )
            ]
        )
        key = await stack.integration(IntegrationFormat.GENERIC, routing=routing)
        body = {
            "dedup_key": "disk-full-build-3",
            "summary": "Disk 97% full on build-agent-3",
            "severity": "warning",
            "labels": {"team": "payments"},
        }
        response = await stack.http.post(
            "/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert response.status_code == 202, response.text
        incident = await only_incident(stack)
        assert (incident["service"], incident["category"]) == ("checkout", "application")
        assert incident["priority"] == "P3"  # warning: impact 2, urgency 2


async def _resolved_by_recovery(
    stack: Stack,
) -> tuple[dict[str, Any], Callable[[str], Awaitable[httpx.Response]]]:
    """An Alertmanager integration resolving on recovery, an incident it opened and then
    resolved when its alerts recovered; and how to send that integration another payload."""
    key = await stack.integration(IntegrationFormat.ALERTMANAGER, resolve_on_recovery=True)

    async def send(name: str) -> httpx.Response:
        return await stack.http.post(
            "/api/v1/integrations/alertmanager",
            json=payload(name),
            headers={"Authorization": f"Bearer {key}"},
        )

    await send("alertmanager/firing_grouped.json")
    first = await only_incident(stack)
    await send("alertmanager/resolved_all.json")

    async def resolved() -> bool:
        return bool((await stack.incident(first["id"]))["state"] == "resolved")

    await eventually(resolved)
    return first, send


@workflow.defn(name="AlertGroupWorkflow", sandboxed=False)
class _DiesAfterStarting(AlertGroupWorkflow):
    """The alert group, with its first workflow task failing right after the incident
    was started: as a worker killed at that moment leaves it (Temporal retries the task)."""

    died = False

    @workflow.run
    async def run(self, input: AlertGroupInput) -> None:
        await super().run(input)

    async def _start(self, opening: IncidentOpening) -> bool:
        started = await super()._start(opening)
        if started and not _DiesAfterStarting.died:
            _DiesAfterStarting.died = True
            raise RuntimeError("the worker died after starting the incident")
        return started
