"""An alert storm: an exact count, one incident, no failed workflow, bounded history."""

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from domain.alert_groups import AlertGroup
from domain.integrations import IntegrationFormat
from store.tables import IncidentRow
from tests.alerting.conftest import Stack, alert_count, only_incident
from tests.polling import eventually
from workflows.alert_group import AlertGroupWorkflow

pytestmark = pytest.mark.slow

SENDERS = 64  # concurrent senders, as a fleet of scripts or several Alertmanagers would be


async def _send_all(stack: Stack, bodies: list[dict[str, Any]]) -> list[int]:
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    statuses: list[int] = []

    async def sender() -> None:
        while not queue.empty():
            body = queue.get_nowait()
            for _ in range(10):  # as PagerDuty's clients do, a 503 is sent again
                response = await stack.http.post("/v2/enqueue", json=body)
                if response.status_code != 503:
                    break
                await asyncio.sleep(1)
            statuses.append(response.status_code)

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return statuses


def _trigger(key: str, dedup_key: str, n: int) -> dict[str, Any]:
    return {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup_key,
        "payload": {"summary": f"CPU at {n % 100}%", "source": "web-1", "severity": "error"},
    }


class TestStorms:
    async def test_20000_alerts_for_one_key_leave_one_exact_incident(
        self, storm_stack: Stack
    ) -> None:
        key = await storm_stack.integration(
            IntegrationFormat.PAGERDUTY, rate_limit_per_minute=100_000
        )
        # As fast as 64 senders can: well within a minute here (`make bench` measures
        # the rate); a timed assertion would only measure how busy the machine is.
        statuses = await _send_all(
            storm_stack, [_trigger(key, "cpu-web-1", n) for n in range(20_000)]
        )
        assert statuses.count(202) == 20_000

        incident = await only_incident(storm_stack)  # opened after the 202s: waited for
        await alert_count(storm_stack, incident["id"], 20_000)
        assert len(await storm_stack.incidents()) == 1

        group_id = incident["source"]["group_workflow_id"]
        handle = storm_stack.client.get_workflow_handle(group_id)
        group: AlertGroup = await handle.query(AlertGroupWorkflow.group)
        assert group.total == 20_000
        history = await handle.fetch_history()
        assert len(history.events) < 4_096, "the group's history must stay bounded"
        description = await handle.describe()
        assert description.status is not None and description.status.name == "RUNNING"

    async def test_10000_alerts_over_2000_keys_open_exactly_2000_incidents(
        self, storm_stack: Stack
    ) -> None:
        key = await storm_stack.integration(
            IntegrationFormat.PAGERDUTY, rate_limit_per_minute=100_000
        )
        # Keys interleaved, as a fleet of hosts failing together sends them: every key's
        # first alert races its repeats from other senders.
        bodies = [_trigger(key, f"disk-{n % 2_000}", n) for n in range(10_000)]
        statuses = await _send_all(storm_stack, bodies)
        assert statuses.count(202) == 10_000

        async def all_counted() -> bool:
            async with storm_stack.database.session() as session:
                opened, counted = (
                    await session.execute(
                        select(
                            func.count(),
                            func.sum(IncidentRow.snapshot["alerts"]["count"].as_integer()),
                        )
                    )
                ).one()
            return bool(opened == 2_000 and counted == 10_000)

        await eventually(all_counted, seconds=300)
        async with storm_stack.database.session() as session:
            rows = (await session.scalars(select(IncidentRow))).all()
        assert len({row.snapshot["source"]["dedup_key"] for row in rows}) == 2_000
        assert {row.snapshot["alerts"]["count"] for row in rows} == {5}
        failed = storm_stack.client.list_workflows(
            f"TaskQueue = '{storm_stack.settings.task_queue}' AND ExecutionStatus IN "
            "('Failed', 'Terminated', 'TimedOut', 'Canceled')"
        )
        assert [execution.id async for execution in failed] == []
