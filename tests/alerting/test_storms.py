"""An alert storm: an exact count, one incident, no failed workflow, bounded history."""

import asyncio
import time
from typing import Any

import pytest

from domain.alert_groups import AlertGroup
from domain.integrations import IntegrationFormat
from tests.alerting.conftest import Stack, alert_count
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
    async def test_20000_alerts_for_one_key_within_a_minute_leave_one_exact_incident(
        self, storm_stack: Stack
    ) -> None:
        key = await storm_stack.integration(
            IntegrationFormat.PAGERDUTY, rate_limit_per_minute=100_000
        )
        started = time.monotonic()
        statuses = await _send_all(
            storm_stack, [_trigger(key, "cpu-web-1", n) for n in range(20_000)]
        )
        assert time.monotonic() - started < 60, "the storm took longer than a minute to send"
        assert statuses.count(202) == 20_000

        incidents = await storm_stack.incidents()
        assert len(incidents) == 1
        await alert_count(storm_stack, incidents[0]["id"], 20_000)

        group_id = (await storm_stack.incident(incidents[0]["id"]))["source"]["group_workflow_id"]
        handle = storm_stack.client.get_workflow_handle(group_id)
        group: AlertGroup = await handle.query(AlertGroupWorkflow.group)
        assert group.total == 20_000
        history = await handle.fetch_history()
        assert len(history.events) < 4_096, "the group's history must stay bounded"
        description = await handle.describe()
        assert description.status is not None and description.status.name == "RUNNING"
