"""Alerts into Temporal: gathered per alert group, sent as one update-with-start per batch.

A storm of thousands of alerts for one key becomes a handful of Temporal calls, and
at most one call per group is in flight from this process, which keeps every group
well under Temporal's limit of 10 updates in flight per workflow. A sender's
request returns only when the update carrying its alert is accepted: its alert is
then durable in the group's history.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from temporalio.client import (
    Client,
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from domain.alert_groups import AlertBatch, AlertEnvelope, GroupSettings, Receipt, compact
from workflows.alert_group import AlertGroupWorkflow
from workflows.contracts import AlertGroupInput, group_workflow_id

log = logging.getLogger("vagt.ingest")

# Temporal answers RESOURCE_EXHAUSTED when a workflow has too many updates in flight
# (several API replicas sending to one group): back off and send again.
_BUSY_RETRY_DELAYS = (0.02, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


class IngestUnavailable(Exception):
    """Temporal did not take the alerts; the sender should send them again."""


@dataclass
class _Waiting:
    envelopes: list[AlertEnvelope]
    settings: GroupSettings
    done: "asyncio.Future[Receipt]"


@dataclass
class _Group:
    waiting: list[_Waiting] = field(default_factory=list)
    sender: "asyncio.Task[None] | None" = None


def _fail(taken: list[_Waiting], error: BaseException) -> None:
    for waiting in taken:
        if not waiting.done.done():  # a sender whose request was cancelled is not told
            waiting.done.set_exception(error)


class AlertIngestor:
    """Batches alerts per (integration, dedup key) and hands them to their group workflow."""

    def __init__(
        self,
        client: Client,
        task_queue: str,
        *,
        linger: float = 0.005,
        max_batch: int = 1_000,
        timeout: float = 10.0,
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._task_queue = task_queue
        self._linger = linger
        self._max_batch = max_batch
        self._groups: dict[tuple[str, str], _Group] = {}

    async def submit(
        self, settings: GroupSettings, dedup_key: str, envelopes: list[AlertEnvelope]
    ) -> Receipt:
        """Return once `envelopes` are durable in their group's workflow."""
        key = (settings.integration_uid, dedup_key)
        group = self._groups.setdefault(key, _Group())
        waiting = _Waiting(envelopes, settings, asyncio.get_running_loop().create_future())
        group.waiting.append(waiting)
        if group.sender is None:
            group.sender = asyncio.create_task(self._send_all(key, group))
        return await waiting.done

    async def _send_all(self, key: tuple[str, str], group: _Group) -> None:
        try:
            while group.waiting:
                await asyncio.sleep(self._linger)  # let concurrent senders join the batch
                batch = self._take(group)
                await self._send(key[1], batch)
        finally:
            group.sender = None
            if not group.waiting:
                self._groups.pop(key, None)

    def _take(self, group: _Group) -> list[_Waiting]:
        taken: list[_Waiting] = []
        size = 0
        while group.waiting and (
            not taken or size + len(group.waiting[0].envelopes) <= self._max_batch
        ):
            waiting = group.waiting.pop(0)
            taken.append(waiting)
            size += len(waiting.envelopes)
        return taken

    async def _send(self, dedup_key: str, taken: list[_Waiting]) -> None:
        settings = taken[-1].settings
        batch = AlertBatch(
            settings=settings,
            dedup_key=dedup_key,
            envelopes=compact([envelope for waiting in taken for envelope in waiting.envelopes]),
        )
        try:
            async with asyncio.timeout(self._timeout):
                receipt = await self._update_with_start(settings, batch)
        except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
            error = IngestUnavailable(f"no worker took the alerts within {self._timeout:g} s")
            _fail(taken, error)
            return
        except Exception as error:  # every waiting sender hears of it, whatever it was
            _fail(taken, error)
            return
        for waiting in taken:
            if not waiting.done.done():  # a sender whose request was cancelled is not told
                waiting.done.set_result(receipt)

    async def _update_with_start(self, settings: GroupSettings, batch: AlertBatch) -> Receipt:
        for delay in (*_BUSY_RETRY_DELAYS, None):
            start = WithStartWorkflowOperation(
                AlertGroupWorkflow.run,
                AlertGroupInput(settings=settings, dedup_key=batch.dedup_key),
                id=group_workflow_id(settings.integration_uid, batch.dedup_key),
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                task_queue=self._task_queue,
            )
            try:
                receipt: Receipt = await self._client.execute_update_with_start_workflow(
                    AlertGroupWorkflow.ingest, batch, start_workflow_operation=start
                )
                return receipt
            except RPCError as error:
                if error.status is not RPCStatusCode.RESOURCE_EXHAUSTED or delay is None:
                    raise IngestUnavailable(f"Temporal did not take the alerts: {error}") from error
                await asyncio.sleep(delay)
            except WorkflowUpdateFailedError as error:
                raise IngestUnavailable(
                    f"the alert group refused the batch: {error.cause}"
                ) from error
            except RuntimeError as error:  # no connection to Temporal
                raise IngestUnavailable(f"Temporal is unreachable: {error}") from error
            finally:
                _forget_start(start)
        raise AssertionError("unreachable")


def _forget_start(start: WithStartWorkflowOperation[Any, Any]) -> None:
    """Mark the start operation's own outcome as seen. When the call fails, the SDK also
    fails the future behind `start.workflow_handle()`; nothing here waits for that
    handle, and asyncio would log each such future as "exception never retrieved"
    (hundreds of tracebacks while Temporal is down)."""
    handle = getattr(start, "_workflow_handle", None)
    if isinstance(handle, asyncio.Future) and handle.done() and not handle.cancelled():
        handle.exception()
