"""Versions of the incident process: drafts people edit, published versions frozen for good.

Each named process has versions numbered 1, 2, 3... in the order they were created.
A draft can be changed until it is published; publishing freezes it and makes it the
process's current version, the one new incidents take. Running incidents keep the
version they started with, carried whole in their workflow's input.
"""

import builtins
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.process import ProcessDefinition
from store.db import Database
from store.directory import KeyDirectory
from store.tables import ProcessVersionRow

log = logging.getLogger("vagt.processes")

# Who published the versions that came from the process file (VAGT_PROCESS_FILE).
FILE_AUTHOR = "process-file"


class VersionState(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class ProcessVersion(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    version: int
    state: VersionState
    definition: ProcessDefinition
    created_by: str
    created_at: datetime
    updated_at: datetime
    published_by: str | None
    published_at: datetime | None


class ProcessSummary(BaseModel):
    """A named process: its current (last published) version and its newest one."""

    name: str
    current_version: int | None
    latest_version: int
    versions: int


class VersionMissing(Exception):
    """No such process version."""


class VersionFrozen(Exception):
    """The version is published and can no longer change."""


class ProcessVersionRepository:
    """Process versions within the caller's session; the caller commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create_draft(self, definition: ProcessDefinition, author: str) -> ProcessVersion:
        """A new draft of `definition.name`, numbered after every version it has; the
        definition's own version number is replaced by that number. Two drafts created
        at once for one process collide on the number: the loser's commit fails
        (IntegrityError), and the caller may try again."""
        latest = await self._session.scalar(
            select(func.max(ProcessVersionRow.version)).where(
                ProcessVersionRow.name == definition.name
            )
        )
        number = (latest or 0) + 1
        now = datetime.now(UTC)
        row = ProcessVersionRow(
            name=definition.name,
            version=number,
            state=VersionState.DRAFT.value,
            definition=_stored(definition, number),
            created_by=author,
            created_at=now,
            updated_at=now,
        )
        self._session.add(row)
        await self._session.flush()
        return ProcessVersion.model_validate(row)

    async def edit_draft(
        self, name: str, version: int, definition: ProcessDefinition
    ) -> ProcessVersion:
        """Replace a draft's definition; VersionMissing or VersionFrozen if it cannot."""
        return await self._change_draft(
            name, version, definition=_stored(definition, version), updated_at=datetime.now(UTC)
        )

    async def publish(self, name: str, version: int, publisher: str) -> ProcessVersion:
        """Freeze a draft and make it current; VersionMissing or VersionFrozen if it cannot."""
        now = datetime.now(UTC)
        return await self._change_draft(
            name,
            version,
            state=VersionState.PUBLISHED.value,
            published_by=publisher,
            published_at=now,
            updated_at=now,
        )

    async def get(self, name: str, version: int) -> ProcessVersion | None:
        row = await self._session.get(ProcessVersionRow, (name, version), populate_existing=True)
        return None if row is None else ProcessVersion.model_validate(row)

    async def current(self, name: str) -> ProcessVersion | None:
        """The version published last: the one new incidents take."""
        row = await self._session.scalar(
            select(ProcessVersionRow)
            .where(
                ProcessVersionRow.name == name,
                ProcessVersionRow.state == VersionState.PUBLISHED.value,
            )
            .order_by(ProcessVersionRow.published_at.desc(), ProcessVersionRow.version.desc())
            .limit(1)
        )
        return None if row is None else ProcessVersion.model_validate(row)

    async def versions(self, name: str) -> builtins.list[ProcessVersion]:
        rows = await self._session.scalars(
            select(ProcessVersionRow)
            .where(ProcessVersionRow.name == name)
            .order_by(ProcessVersionRow.version)
        )
        return [ProcessVersion.model_validate(row) for row in rows]

    async def list(self) -> builtins.list[ProcessSummary]:
        """Every named process, by name."""
        counts = (
            await self._session.execute(
                select(ProcessVersionRow.name, func.max(ProcessVersionRow.version), func.count())
                .group_by(ProcessVersionRow.name)
                .order_by(ProcessVersionRow.name)
            )
        ).all()
        # The current version of each: the first of its published ones, newest first.
        published = await self._session.execute(
            select(ProcessVersionRow.name, ProcessVersionRow.version)
            .where(ProcessVersionRow.state == VersionState.PUBLISHED.value)
            .order_by(ProcessVersionRow.published_at.desc(), ProcessVersionRow.version.desc())
        )
        current: dict[str, int] = {}
        for name, version in published:
            current.setdefault(name, version)
        return [
            ProcessSummary(
                name=name,
                current_version=current.get(name),
                latest_version=latest,
                versions=count,
            )
            for name, latest, count in counts
        ]

    async def adopt(self, definition: ProcessDefinition) -> ProcessVersion | None:
        """Publish `definition` (the process file's) as a new version of its process,
        unless it is what the file gave last time: the file publishes when it changes,
        and versions published through the API stay current until it does. None if
        nothing was published."""
        last = await self._session.scalar(
            select(ProcessVersionRow)
            .where(
                ProcessVersionRow.name == definition.name,
                ProcessVersionRow.created_by == FILE_AUTHOR,
            )
            .order_by(ProcessVersionRow.version.desc())
            .limit(1)
        )
        if last is not None and _same(
            ProcessDefinition.model_validate(last.definition), definition
        ):
            return None
        draft = await self.create_draft(definition, FILE_AUTHOR)
        return await self.publish(draft.name, draft.version, FILE_AUTHOR)

    async def _change_draft(self, name: str, version: int, **values: object) -> ProcessVersion:
        # One conditional UPDATE: a version published meanwhile is not changed.
        changed = await self._session.execute(
            update(ProcessVersionRow)
            .where(
                ProcessVersionRow.name == name,
                ProcessVersionRow.version == version,
                ProcessVersionRow.state == VersionState.DRAFT.value,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        found = await self._get(name, version)  # VersionMissing if there is none
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            raise VersionFrozen(f"{name} version {version} is published")
        return found

    async def _get(self, name: str, version: int) -> ProcessVersion:
        found = await self.get(name, version)
        if found is None:
            raise VersionMissing(f"{name} version {version}")
        return found


def _stored(definition: ProcessDefinition, version: int) -> dict[str, object]:
    return definition.model_copy(update={"version": version}).model_dump(mode="json")


def _same(one: ProcessDefinition, other: ProcessDefinition) -> bool:
    # Compared as models, not as dumps: a set (say, review approver roles) dumps as a
    # list in an order that differs between two equal sets built in different orders.
    return one.model_copy(update={"version": other.version}) == other


async def adopt_process_file(database: Database, definition: ProcessDefinition) -> None:
    """At start: publish the process file's definition if it changed (see `adopt`).
    The API and the workers start together and may all try; one wins, and the others
    find the file's definition already there."""
    for _ in range(3):
        try:
            async with database.session() as session:
                published = await ProcessVersionRepository(session).adopt(definition)
                await session.commit()
        except IntegrityError:
            continue  # another process published it, or another version, at that moment
        if published is not None:
            log.info(
                "the process file's %r is published as version %d",
                published.name,
                published.version,
            )
        return


class ProcessCatalog(KeyDirectory[ProcessDefinition]):
    """The current version of each process by name, for new incidents, remembered for
    a few seconds: a version published through another process is taken by new
    incidents within `ttl`. While the read model cannot be reached, the last answer
    is used again, so incidents still open."""

    def __init__(
        self, database: Database, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        async def load(name: str) -> ProcessDefinition | None:
            async with database.session() as session:
                current = await ProcessVersionRepository(session).current(name)
            return None if current is None else current.definition

        super().__init__(load, ttl=ttl, serve_stale=True, clock=clock)
