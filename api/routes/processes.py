"""Process versions: drafts, publishing, and what changed between two versions.

Reading is open to every user; creating, editing and publishing are for process owners
and admins. A published version never changes again; the one published last is the
process's current version.
"""

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from api.deps import MAX_INTEGER, CurrentUser, GatewayDep, ServicesDep, SessionDep, require
from api.errors import Problem, invalid, problems_from
from api.gateway import IncidentGone
from domain.process import ProcessDefinition
from domain.process_diff import ChangeKind, diff
from domain.requests import MigrateRequest
from domain.roles import Role
from store.incidents import IncidentRepository
from store.processes import (
    ProcessSummary,
    ProcessVersion,
    ProcessVersionRepository,
    VersionFrozen,
    VersionMissing,
    VersionState,
)
from store.users import UserRecord
from workflows import contracts
from workflows.incident import IncidentWorkflow

router = APIRouter(prefix="/api/v1/processes", tags=["processes"])

_PROBLEM_TEXTS = {
    400: "The body is not JSON.",
    401: "No token, or an unknown or disabled one.",
    403: "Only process owners and admins change processes.",
    404: "No such process or version.",
    409: "The version is published and can no longer change.",
    422: "The definition is invalid; `errors` lists every problem with its field path.",
    503: "Another draft of this process was created at the same moment; send it again.",
}


_problems = problems_from(_PROBLEM_TEXTS)


ProcessName = Annotated[
    str,
    Path(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$",
        description="The process's name: letters, digits, `_`, `.` and `-`.",
    ),
]
VersionNumber = Annotated[int, Path(ge=1, le=MAX_INTEGER, description="The version's number.")]
ProcessOwner = Annotated[UserRecord, require(Role.PROCESS_OWNER, Role.ADMIN)]

# Drafts created at the same moment for one process take the same number; the later
# commit fails and is tried again with the next number.
_CREATE_ATTEMPTS = 3
# Moving open incidents in bulk: how many one request moves, and how many at once.
BULK_LIMIT = 500
_BULK_CONCURRENCY = 8


class VersionOut(ProcessVersion):
    current: bool = Field(description="The version published last: new incidents take it.")


class ChangeOut(BaseModel):
    path: str
    kind: ChangeKind
    before: Any = None
    after: Any = None
    description: str = Field(description="The change in words, for people.")


class DiffOut(BaseModel):
    name: str
    from_version: int
    to_version: int
    changes: list[ChangeOut]


def _out(found: ProcessVersion, current: ProcessVersion | None) -> VersionOut:
    """`found`, saying whether it is `current` (the version published last)."""
    is_current = current is not None and current.version == found.version
    return VersionOut(**found.model_dump(), current=is_current)


def missing(name: str, version: int | None = None) -> Problem:
    what = f"version {version} of process {name!r}" if version else f"process {name!r}"
    return Problem(
        404,
        "Process version not found",
        f"There is no {what}. GET /api/v1/processes/{name}/versions lists its versions.",
        code="process-version-not-found",
    )


def _frozen(name: str, version: int) -> Problem:
    return Problem(
        409,
        "Version published",
        f"Version {version} of {name!r} is published and can no longer change. POST "
        f"/api/v1/processes/{name}/versions creates a new draft from an edited copy.",
        code="version-published",
    )


def _checked(
    definition: ProcessDefinition, name: str, version: int | None, services: ServicesDep
) -> ProcessDefinition:
    """`definition` for the path's process, or a 422 listing what does not fit."""
    errors = []
    given = definition.model_fields_set
    if "name" in given and definition.name != name:
        errors.append(("name", f"is {definition.name!r}; the path says {name!r}"))
    if "version" in given and definition.version != version:
        wanted = f"{version}" if version else "left out: Vagt numbers new drafts"
        errors.append(("version", f"must be {wanted}"))
    # Channels hold secrets and live in the workers' process file; a version may only
    # name channels configured there.
    unknown = sorted(definition.channel_names() - set(services.process.channels))
    if unknown:
        errors.append(("channels", f"not configured in the process file: {', '.join(unknown)}"))
    if errors:
        raise invalid(*errors)
    return definition.model_copy(update={"name": name})


@router.get("", responses=_problems(401))
async def list_processes(user: CurrentUser, session: SessionDep) -> list[ProcessSummary]:
    """Every process with versions: its current version and its newest."""
    return await ProcessVersionRepository(session).list()


@router.get("/{name}/versions", responses=_problems(401, 404, 422))
async def list_versions(
    name: ProcessName, user: CurrentUser, session: SessionDep
) -> list[VersionOut]:
    """Every version of a process, oldest first."""
    repository = ProcessVersionRepository(session)
    versions = await repository.versions(name)
    if not versions:
        raise missing(name)
    current = await repository.current(name)
    return [_out(found, current) for found in versions]


@router.post(
    "/{name}/versions",
    status_code=status.HTTP_201_CREATED,
    responses=_problems(400, 401, 403, 422, 503),
)
async def create_draft(
    name: ProcessName,
    definition: ProcessDefinition,
    user: ProcessOwner,
    services: ServicesDep,
) -> VersionOut:
    """A new draft, numbered after the process's newest version. The body is a whole
    process definition (`name` and `version` may be left out)."""
    draft = _checked(definition, name, None, services)
    for _ in range(_CREATE_ATTEMPTS):
        async with services.database.session() as session:
            repository = ProcessVersionRepository(session)
            try:
                created = await repository.create_draft(draft, user.name)
                await session.commit()
            except IntegrityError:
                continue
            return _out(created, current=None)  # a draft is never current
    raise Problem(
        503,
        "Draft not created",
        f"Other drafts of {name!r} were being created at the same moment; send it again.",
        code="draft-not-created",
    )


@router.get("/{name}/versions/{version}", responses=_problems(401, 404, 422))
async def get_version(
    name: ProcessName, version: VersionNumber, user: CurrentUser, session: SessionDep
) -> VersionOut:
    repository = ProcessVersionRepository(session)
    found = await repository.get(name, version)
    if found is None:
        raise missing(name, version)
    return _out(found, await repository.current(name))


@router.put("/{name}/versions/{version}", responses=_problems(400, 401, 403, 404, 409, 422))
async def edit_draft(
    name: ProcessName,
    version: VersionNumber,
    definition: ProcessDefinition,
    user: ProcessOwner,
    services: ServicesDep,
    session: SessionDep,
) -> VersionOut:
    """Replace a draft's definition; a published version refuses (409)."""
    draft = _checked(definition, name, version, services)
    repository = ProcessVersionRepository(session)
    try:
        edited = await repository.edit_draft(name, version, draft)
    except VersionMissing:
        raise missing(name, version) from None
    except VersionFrozen:
        raise _frozen(name, version) from None
    await session.commit()
    return _out(edited, await repository.current(name))


@router.post("/{name}/versions/{version}/publish", responses=_problems(401, 403, 404, 409, 422))
async def publish(
    name: ProcessName,
    version: VersionNumber,
    user: ProcessOwner,
    session: SessionDep,
    services: ServicesDep,
) -> VersionOut:
    """Freeze a draft and make it the process's current version: new incidents take
    it (within 5 s on other API processes and workers); running incidents keep theirs."""
    repository = ProcessVersionRepository(session)
    try:
        published = await repository.publish(name, version, user.name)
    except VersionMissing:
        raise missing(name, version) from None
    except VersionFrozen:
        raise _frozen(name, version) from None
    await session.commit()
    services.processes.forget(name)  # this API's next declaration takes it at once
    return _out(published, published)


@router.get("/{name}/diff", responses=_problems(401, 404, 422))
async def diff_versions(
    name: ProcessName,
    user: CurrentUser,
    session: SessionDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_INTEGER)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_INTEGER)],
) -> DiffOut:
    """What changed from one version to another (either may be a draft), one line per
    setting."""
    repository = ProcessVersionRepository(session)
    before = await repository.get(name, from_version)
    if before is None:
        raise missing(name, from_version)
    after = await repository.get(name, to_version)
    if after is None:
        raise missing(name, to_version)
    changes = [
        ChangeOut(**change.model_dump(), description=change.describe())
        for change in diff(before.definition, after.definition)
    ]
    return DiffOut(name=name, from_version=from_version, to_version=to_version, changes=changes)


class MigrateOpen(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_version: int = Field(
        ge=1, le=MAX_INTEGER, description="A published version of the same process."
    )


class Refusal(BaseModel):
    incident_id: int
    status: int
    detail: str


class MigratedOut(BaseModel):
    from_version: int
    to_version: int
    moved: list[int] = Field(description="The incidents now on `to_version`.")
    refused: list[Refusal] = Field(
        description="Incidents the move does not fit (say, a category the version lacks), "
        "or that Temporal did not confirm; each with the reason."
    )
    remaining: int = Field(
        description="Open incidents still on `from_version`: the refused ones, and any "
        f"beyond the {BULK_LIMIT} one request moves (send it again for those)."
    )


@router.post(
    "/{name}/versions/{version}/migrate-open",
    responses=_problems(400, 401, 403, 404, 422),
)
async def migrate_open(
    name: ProcessName,
    version: VersionNumber,
    body: MigrateOpen,
    user: ProcessOwner,
    session: SessionDep,
    gateway: GatewayDep,
) -> MigratedOut:
    """Move every open incident on this version to another published version, as each
    would be moved one by one (`POST /incidents/{id}/migrate`). A process owner's choice,
    never automatic; one that does not fit is left where it is and listed with why."""
    versions = ProcessVersionRepository(session)
    if await versions.get(name, version) is None:
        raise missing(name, version)
    target = await versions.get(name, body.to_version)
    if target is None or target.state is not VersionState.PUBLISHED or target.version == version:
        why = (
            "is the version they are on"
            if body.to_version == version
            else "is a draft; publish it first"
            if target
            else f"does not exist in {name!r}"
        )
        raise invalid(("to_version", f"{body.to_version} {why}"))
    incidents = IncidentRepository(session)
    numbers = await incidents.open_on(name, version, limit=BULK_LIMIT)
    await session.commit()  # no transaction held while the workflows answer
    command = contracts.MigrateCommand(
        actor=user.actor(), request=MigrateRequest(process=target.definition)
    )
    moved: list[int] = []
    refused: list[Refusal] = []
    gate = asyncio.Semaphore(_BULK_CONCURRENCY)

    async def move(number: int) -> None:
        async with gate:
            try:
                await gateway.take_step(number, IncidentWorkflow.migrate, command)
            except IncidentGone:
                return  # closed meanwhile: it keeps its version
            except Problem as problem:
                refused.append(
                    Refusal(incident_id=number, status=problem.status, detail=problem.detail)
                )
                return
            moved.append(number)

    await asyncio.gather(*(move(number) for number in numbers))
    remaining = await incidents.count_open_on(name, version)
    return MigratedOut(
        from_version=version,
        to_version=body.to_version,
        moved=sorted(moved),
        refused=sorted(refused, key=lambda refusal: refusal.incident_id),
        remaining=remaining,
    )
