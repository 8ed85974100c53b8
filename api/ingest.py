"""Alerts into Temporal: gathered per alert group, sent as one signal-with-start per batch.

A storm of thousands of alerts for one key becomes a handful of Temporal calls, at
most one per group in flight from this process. A sender's request returns only
when Temporal has recorded the signal carrying its alert: the alert is then durable
in the group's history, whether or not a worker is running. A signal, unlike an
update, needs no worker to answer, so the edge keeps accepting alerts while every
worker is down, and a new key costs what a bare workflow start costs.
"""

import asyncio
import logging
from dataclasses import dataclass, field

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.alert_groups import AlertBatch, AlertEnvelope, GroupSettings, Receipt, compact
from workflows.alert_group import AlertGroupWorkflow
from workflows.contracts import ALERTS_SIGNAL, CODE_REVISION, AlertGroupInput, group_workflow_id

log = logging.getLogger("vagt.ingest")

# Temporal answers RESOURCE_EXHAUSTED when it sheds load (or, for API processes of
# old, when a workflow has too many updates in flight): back off and send again.
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
                receipt = await self._signal_with_start(settings, batch)
        except TimeoutError:
            error = IngestUnavailable(
                f"Temporal did not record the alerts within {self._timeout:g} s"
            )
            _fail(taken, error)
            return
        except Exception as error:  # every waiting sender hears of it, whatever it was
            _fail(taken, error)
            return
        for waiting in taken:
            if not waiting.done.done():  # a sender whose request was cancelled is not told
                waiting.done.set_result(receipt)

    async def _signal_with_start(self, settings: GroupSettings, batch: AlertBatch) -> Receipt:
        for delay in (*_BUSY_RETRY_DELAYS, None):
            try:
                await self._client.start_workflow(
                    AlertGroupWorkflow.run,
                    AlertGroupInput(
                        settings=settings, dedup_key=batch.dedup_key, revision=CODE_REVISION
                    ),
                    id=group_workflow_id(settings.integration_uid, batch.dedup_key),
                    task_queue=self._task_queue,
                    start_signal=ALERTS_SIGNAL,
                    start_signal_args=[batch],
                )
            except RPCError as error:
                if error.status is not RPCStatusCode.RESOURCE_EXHAUSTED or delay is None:
                    raise IngestUnavailable(f"Temporal did not take the alerts: {error}") from error
                await asyncio.sleep(delay)
            except RuntimeError as error:  # no connection to Temporal
                raise IngestUnavailable(f"Temporal is unreachable: {error}") from error
            else:
                # Which incident the alerts feed is the group's to decide, after this.
                return Receipt(accepted=sum(e.repeats for e in batch.envelopes), incident_id=None)
        raise AssertionError("unreachable")
