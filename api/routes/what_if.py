"""What-if: what a process version would have done to past incidents.

A process owner asks about a version (a draft or a published one) and a period or
filter of past incidents; a Temporal workflow walks each incident's recorded timeline
again under the version (the same steps at the same moments) and stores, for each,
the breaches and pages that would have happened beside those that did. Nothing real
is touched and nothing is sent. The run reports its progress while it works.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import BaseModel, Field

from api.deps import MAX_INTEGER, CurrentUser, GatewayDep, Offset, SessionDep
from api.errors import Problem, invalid, problems_from
from api.routes.processes import ProcessName, ProcessOwner, VersionNumber, missing
from domain.process import ProcessDefinition
from domain.what_if import Totals
from store.processes import ProcessVersionRepository
from store.what_if import (
    MOST_INCIDENTS,
    IncidentOutcome,
    RunStatus,
    WhatIfFilter,
    WhatIfRepository,
    WhatIfRun,
)

router = APIRouter(prefix="/api/v1/processes", tags=["what-if"])

_problems = problems_from(
    {
        400: "The body is not JSON.",
        401: "No token, or an unknown or disabled one.",
        403: "Only process owners and admins ask what-ifs.",
        404: "No such process, version or what-if.",
        422: "The filter is invalid or matches too many incidents; `errors` says which field.",
        503: "Temporal is unreachable, so the what-if was not started (nothing was kept).",
    }
)

_CHANGED = "Only incidents the version would have breached or paged differently."

RunNumber = Annotated[int, Path(ge=1, le=MAX_INTEGER, description="The what-if's number.")]


class WhatIfOut(BaseModel):
    id: int
    process_name: str
    version: int
    status: RunStatus
    filter: WhatIfFilter
    requested_by: str
    requested_at: datetime = Field(
        description="Open incidents are walked up to this moment; later incidents are left out."
    )
    total: int = Field(description="Incidents that matched the filter when it was asked.")
    examined: int = Field(description="Incidents walked again so far.")
    totals: Totals = Field(
        description="So far: breaches and pages as recorded beside as simulated, and how "
        "many incidents would have gone differently."
    )
    finished_at: datetime | None
    error: str | None = Field(description="Why a failed what-if stopped.")
    definition: ProcessDefinition | None = Field(
        default=None,
        description="The version as it was when asked (a draft may have changed since); "
        "given when one what-if is read.",
    )
    incidents: str = Field(description="Where each incident's outcome is listed.")


class OutcomePage(BaseModel):
    items: list[IncidentOutcome]
    total: int
    limit: int
    offset: int


def _out(run: WhatIfRun, *, with_definition: bool = False) -> WhatIfOut:
    return WhatIfOut(
        **run.model_dump(exclude={"definition"}),
        definition=run.definition if with_definition else None,
        incidents=f"{_path(run)}/incidents",
    )


def _path(run: WhatIfRun) -> str:
    return f"/api/v1/processes/{run.process_name}/versions/{run.version}/what-if/{run.id}"


def _run_missing(name: str, version: int, run_id: int) -> Problem:
    return Problem(
        404,
        "What-if not found",
        f"Version {version} of {name!r} has no what-if {run_id}. GET "
        f"/api/v1/processes/{name}/versions/{version}/what-if lists its what-ifs.",
        code="what-if-not-found",
    )


@router.post(
    "/{name}/versions/{version}/what-if",
    status_code=status.HTTP_202_ACCEPTED,
    responses=_problems(400, 401, 403, 404, 422, 503),
)
async def ask_what_if(
    name: ProcessName,
    version: VersionNumber,
    wanted: WhatIfFilter,
    user: ProcessOwner,
    session: SessionDep,
    gateway: GatewayDep,
    response: Response,
) -> WhatIfOut:
    """Walk the past incidents of this process that match the filter (`{}` for all of
    them) again under this version, draft or published. Answers at once with the
    what-if, which works in the background: read it (`Location`) for its progress and
    totals, and its `incidents` for each incident's breaches and pages, recorded and
    simulated. No incident is touched and no notification is sent."""
    asked = await ProcessVersionRepository(session).get(name, version)
    if asked is None:
        raise missing(name, version)
    runs = WhatIfRepository(session)
    now = datetime.now(UTC)
    total = await runs.matching(name, wanted, now)
    if total > MOST_INCIDENTS:
        raise invalid(
            (
                "declared_from",
                f"the filter matches {total:,} incidents; one what-if walks at most "
                f"{MOST_INCIDENTS:,}: ask about a shorter period, or several",
            )
        )
    run = await runs.create(asked.definition, wanted, user.name, now, total)
    await session.commit()
    try:
        await gateway.start_what_if(run.id)
    except Problem:
        await runs.forget(run.id)  # a refused request leaves nothing behind
        await session.commit()
        raise
    response.headers["Location"] = _path(run)
    return _out(run, with_definition=True)


@router.get("/{name}/versions/{version}/what-if", responses=_problems(401, 404, 422))
async def list_what_ifs(
    name: ProcessName, version: VersionNumber, user: CurrentUser, session: SessionDep
) -> list[WhatIfOut]:
    """Every what-if asked about this version, newest first."""
    if await ProcessVersionRepository(session).get(name, version) is None:
        raise missing(name, version)
    return [_out(run) for run in await WhatIfRepository(session).runs(name, version)]


@router.get("/{name}/versions/{version}/what-if/{run_id}", responses=_problems(401, 404, 422))
async def get_what_if(
    name: ProcessName,
    version: VersionNumber,
    run_id: RunNumber,
    user: CurrentUser,
    session: SessionDep,
) -> WhatIfOut:
    """One what-if: its status, progress and totals so far."""
    run = await _run(session, name, version, run_id)
    return _out(run, with_definition=True)


@router.get(
    "/{name}/versions/{version}/what-if/{run_id}/incidents", responses=_problems(401, 404, 422)
)
async def list_outcomes(
    name: ProcessName,
    version: VersionNumber,
    run_id: RunNumber,
    user: CurrentUser,
    session: SessionDep,
    changed: Annotated[bool, Query(description=_CHANGED)] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> OutcomePage:
    """The incidents walked so far, in number order: for each, the breaches and pages
    recorded and those the version would have made, and the recorded steps the version
    refuses (each with why)."""
    await _run(session, name, version, run_id)
    items, total = await WhatIfRepository(session).outcomes(
        run_id, changed_only=changed, limit=limit, offset=offset
    )
    return OutcomePage(items=items, total=total, limit=limit, offset=offset)


async def _run(session: SessionDep, name: str, version: int, run_id: int) -> WhatIfRun:
    run = await WhatIfRepository(session).get(run_id)
    if run is None or run.process_name != name or run.version != version:
        raise _run_missing(name, version, run_id)
    return run
