"""The read model's writer: an incident's snapshot and new events, written in group
commits; used by the workflow's local activity (activities/read_model.py) and by the
API, which writes the steps it takes itself (api/gateway.py)."""

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pydantic import BaseModel
from sqlalchemy import Connection

from domain.escalation import EscalationTarget
from domain.incident import Incident
from domain.subscriptions import SubscriberQuery
from domain.timeline import TimelineEvent
from store.db import Database
from store.incidents import write_projections
from store.subscriptions import followers_in

log = logging.getLogger("vagt.read_model")


class ProjectionInput(BaseModel):
    """The incident as it is now, and the events the read model may not have yet."""

    incident: Incident
    events: Sequence[TimelineEvent]
    # The workflow's history length when it projected: breaks the tie between two
    # attempts at one workflow task (0 from workflows that predate it).
    history_length: int = 0
    # Who follows the incident, asked once for each piece of news it holds: answered in
    # the same transaction as the write, so news costs the workflow no call of its own.
    followers_of: Sequence[SubscriberQuery] = ()


Followers = list[list[EscalationTarget]]


@dataclass
class _Pending:
    projection: ProjectionInput
    written: "asyncio.Future[Followers]"


class ProjectionWriter:
    """Group commit: the projections waiting at one moment share one transaction.

    Every incident workflow writes its changes through a local activity, inside its
    workflow task. With hundreds of incidents busy at once, a transaction each would
    queue them all on the database's write lock (SQLite has one; PostgreSQL pays a
    commit each); one transaction for whatever has gathered meanwhile costs one commit.
    A batch that fails is written again one projection at a time, so one bad write
    fails only its own activity, which Temporal retries.

    Without `facts`, the reports' facts are left to a later projection of the same
    incident: the API's writer, which the workflow's batched write follows within
    seconds, so a burst of steps computes and indexes the facts once.

    With `gather_seconds`, a transaction that would start while callers are still
    `expecting` to write (their steps are with Temporal) waits that long for them:
    under load, a few milliseconds more per step buy a commit shared by several (the
    API's steps arrive one at a time, and a commit costs more than a row); a lone
    caller never waits.
    """

    def __init__(
        self,
        database: Database,
        *,
        max_batch: int = 200,
        facts: bool = True,
        gather_seconds: float = 0.0,
    ) -> None:
        self._database = database
        self._max_batch = max_batch
        self._facts = facts
        self._gather_seconds = gather_seconds
        self._expected = 0
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def expecting(self) -> Iterator[None]:
        """Around work that ends in a write: a transaction starting meanwhile gathers
        for `gather_seconds` before it commits."""
        self._expected += 1
        try:
            yield
        finally:
            self._expected -= 1

    async def write(self, projection: ProjectionInput) -> Followers:
        """Return once `projection` is committed, with the followers it asked for."""
        pending = _Pending(projection, asyncio.get_running_loop().create_future())
        self._pending.append(pending)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_all())
        # Shielded: a cancelled activity leaves its write to finish; writes are idempotent.
        return await asyncio.shield(pending.written)

    async def _flush_all(self) -> None:
        try:
            while self._pending:
                if self._expected and self._gather_seconds > 0:
                    await asyncio.sleep(self._gather_seconds)
                batch = self._pending[: self._max_batch]
                del self._pending[: len(batch)]
                await self._flush(batch)
        finally:
            self._flusher = None

    async def _flush(self, batch: list[_Pending]) -> None:
        try:
            answers = await self._commit([pending.projection for pending in batch])
        except Exception as error:
            if len(batch) == 1:
                batch[0].written.set_exception(error)
                return
            log.warning("a batch of %d projections failed; writing them one by one", len(batch))
            for pending in batch:
                await self._flush([pending])
            return
        for pending, answer in zip(batch, answers, strict=True):
            pending.written.set_result(answer)

    async def _commit(self, projections: list[ProjectionInput]) -> list[Followers]:
        # On SQLite the whole transaction runs on a thread, in one hop from the event loop.
        return await self._database.in_transaction(_write, projections, self._facts)


def _write(
    connection: Connection, projections: list[ProjectionInput], facts: bool = True
) -> list[Followers]:
    """Write `projections` in `connection`'s transaction; the followers each asked for."""
    write_projections(
        connection, [(p.incident, p.events, p.history_length) for p in projections], facts=facts
    )
    # One read for every piece of news in the batch, split back per projection.
    found = followers_in(connection, [query for p in projections for query in p.followers_of])
    answers: list[Followers] = []
    for p in projections:
        answers.append(found[: len(p.followers_of)])
        del found[: len(p.followers_of)]
    return answers
