"""The ingestor's batching: every sender in a batch hears the batch's outcome."""

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from api.ingest import AlertIngestor
from api.routes.alerts import retry_after
from domain.alert_groups import AlertBatch, GroupSettings, Receipt
from tests.domain.test_alert_groups import SETTINGS, event
from workflows.contracts import ALERTS_SIGNAL, group_workflow_id


class HeldIngestor(AlertIngestor):
    """Sends to no Temporal: each batch waits until the test lets it through."""

    def __init__(self) -> None:
        super().__init__(client=Any, task_queue="unused", linger=0)  # type: ignore[arg-type]
        self.batches: list[AlertBatch] = []
        self.release = asyncio.Event()

    async def _signal_with_start(self, settings: GroupSettings, batch: AlertBatch) -> Receipt:
        self.batches.append(batch)
        await self.release.wait()
        return Receipt(accepted=sum(e.repeats for e in batch.envelopes), incident_id=7)


class TestCancelledSender:
    async def test_a_cancelled_sender_leaves_the_rest_of_its_batch_answered(self) -> None:
        ingestor = HeldIngestor()
        first = asyncio.ensure_future(ingestor.submit(SETTINGS, "k", [event()]))
        second = asyncio.ensure_future(ingestor.submit(SETTINGS, "k", [event(second=1)]))
        third = asyncio.ensure_future(ingestor.submit(SETTINGS, "k", [event(second=2)]))
        await asyncio.sleep(0.01)  # all three travel in one batch, now in flight
        first.cancel()
        ingestor.release.set()

        with pytest.raises(asyncio.CancelledError):
            await first
        receipts = await asyncio.wait_for(asyncio.gather(second, third), timeout=5)

        assert [receipt.incident_id for receipt in receipts] == [7, 7]
        assert [line.repeats for batch in ingestor.batches for line in batch.envelopes] == [3]


class TestRetryAfter:
    @pytest.mark.parametrize(("wait", "header"), [(29.4, "30"), (30.0, "30"), (0.2, "1")])
    def test_rounds_up_so_a_sender_that_waits_is_let_through(
        self, wait: float, header: str
    ) -> None:
        assert retry_after(wait) == header


class TestWithoutWorkers:
    async def test_alerts_are_durable_in_temporal_while_no_worker_runs(
        self, dev_server: WorkflowEnvironment
    ) -> None:
        # No worker polls this task queue: Temporal alone records the alerts.
        ingestor = AlertIngestor(dev_server.client, task_queue=f"nobody-{uuid.uuid4()}")
        dedup_key = f"disk-{uuid.uuid4()}"
        receipts = await asyncio.gather(
            ingestor.submit(SETTINGS, dedup_key, [event()]),
            ingestor.submit(SETTINGS, dedup_key, [event(second=1)]),
        )

        assert [receipt.accepted for receipt in receipts] == [2, 2]  # one batch of two
        handle = dev_server.client.get_workflow_handle(
            group_workflow_id(SETTINGS.integration_uid, dedup_key)
        )
        history = await handle.fetch_history()
        signals = [
            event.workflow_execution_signaled_event_attributes
            for event in history.events
            if event.HasField("workflow_execution_signaled_event_attributes")
        ]
        assert [signal.signal_name for signal in signals] == [ALERTS_SIGNAL]
        await handle.terminate("test over")
