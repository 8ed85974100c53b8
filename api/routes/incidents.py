"""Incidents: declare, list, read, and one route per step of the process."""

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.deps import (
    MAX_INTEGER,
    CurrentUser,
    GatewayDep,
    IncidentId,
    Offset,
    Services,
    ServicesDep,
    SessionDep,
)
from api.errors import Problem, invalid, problems_from
from api.gateway import IncidentGone
from api.schemas import IncidentOut, StatusUpdateOut
from domain.errors import Forbidden
from domain.incident import Incident
from domain.lifecycle import IncidentState, Step
from domain.priority import Priority
from domain.process import ProcessDefinition
from domain.requests import (
    AcknowledgeRequest,
    ApproveReviewRequest,
    AssignRequest,
    DeclareRequest,
    EscalateRequest,
    HoldRequest,
    MigrateRequest,
    NoteRequest,
    ReopenRequest,
    RequestChangesRequest,
    ResolveRequest,
    ResumeRequest,
    StatusUpdateRequest,
    SubmitReviewRequest,
    TriageRequest,
)
from domain.roles import Actor, may_declare, may_take
from store.incidents import (
    IncidentPage,
    IncidentQuery,
    IncidentRepository,
    SlaFilter,
    allocate_incident_id,
    skip_taken_numbers,
)
from store.processes import ProcessVersionRepository, VersionState
from store.users import UserRecord, UserRepository
from workflows import contracts
from workflows import incident as wf

log = logging.getLogger("vagt.api")

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

_PROBLEM_TEXTS = {
    400: "The body is not JSON.",
    401: "No token, or an unknown or disabled one.",
    403: "Your roles do not allow this step.",
    404: "No such incident.",
    409: "The step is not possible in the incident's state; `detail` says why.",
    422: "A field or parameter is missing or invalid, or breaks a rule of the process "
    "(an unknown category, root cause or user); `errors` lists bad fields.",
    503: "Temporal or the workers are unreachable; `detail` says whether the step may still apply.",
}


_problems = problems_from(_PROBLEM_TEXTS)


_STEP_PROBLEMS = _problems(400, 401, 403, 404, 409, 422, 503)


@router.post("", status_code=status.HTTP_201_CREATED, responses=_problems(400, 401, 403, 422, 503))
async def declare_incident(
    request: DeclareRequest,
    user: CurrentUser,
    services: ServicesDep,
    response: Response,
) -> IncidentOut:
    """Declare an incident. It starts `detected`, with a priority from impact and urgency."""
    actor = user.actor()
    if not may_declare(actor.roles):
        raise Forbidden(f"{actor.name} may not declare incidents: no role allows it")
    now = datetime.now(UTC)
    # Checked before a number is taken, so a refused declaration changes nothing.
    process = await services.current_process()
    process.check_classification(request.category, request.service)
    incident = await _start_incident(services, request, actor, now, process)
    response.headers["Location"] = f"{router.prefix}/{incident.id}"
    return IncidentOut.of(incident, actor, now)


# Numbers come from the read model; if it was restored from an older backup, they
# may already name workflows in Temporal. A number found taken moves the numbering past
# the run of taken ones at once; should more turn up (numbers amid that run never used),
# a declaration that meets this many answers 503, and the next goes on from there.
_MAX_NUMBER_COLLISIONS = 20


async def _start_incident(
    services: Services,
    request: DeclareRequest,
    actor: Actor,
    now: datetime,
    process: ProcessDefinition,
) -> Incident:
    taken: list[int] = []
    for _ in range(_MAX_NUMBER_COLLISIONS):
        incident_id = await allocate_incident_id(services.database)
        declaration = contracts.Declaration(
            incident_id=incident_id,
            request=request,
            actor=actor,
            declared_at=now,
            process=process,
        )
        incident = await services.gateway.start(
            contracts.IncidentInput(declaration=declaration, revision=contracts.CODE_REVISION)
        )
        if incident is not None:
            return incident
        taken.append(incident_id)
        free = await skip_taken_numbers(services.database, incident_id, services.gateway.exists)
        log.warning(
            "incident number %s is taken in Temporal (the read model is older than Temporal's "
            "incidents); the first free number after the incidents there is %s",
            incident_id,
            free,
        )
    named = (
        f"Incident number {taken[0]} names an incident"
        if len(taken) == 1
        else f"Incident numbers {', '.join(map(str, taken))} all name incidents"
    )
    raise Problem(
        503,
        "Incident numbers taken",
        f"{named} in Temporal already: the read model was probably restored from an "
        "older backup. Nothing was declared. Send the declaration again: numbering has "
        "moved past them.",
        code="incident-numbering",
        headers={"Retry-After": "1"},
    )


@router.get("", responses=_problems(401, 422))
async def list_incidents(
    user: CurrentUser,
    session: SessionDep,
    state: Annotated[list[IncidentState], Query()] = [],  # noqa: B006 (FastAPI copies it)
    sla: Annotated[SlaFilter | None, Query(description="breached or at_risk")] = None,
    priority: Annotated[list[Priority], Query()] = [],  # noqa: B006
    service: str | None = None,
    q: Annotated[str | None, Query(description="Text in title or description.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Offset = 0,
) -> IncidentPage:
    """Incidents from the read model, newest first."""
    query = IncidentQuery(
        states=state,
        priorities=priority,
        service=service,
        text=q,
        sla=sla,
        limit=limit,
        offset=offset,
    )
    return await IncidentRepository(session).list(query)


@router.get("/{incident_id}", responses=_problems(401, 404, 422))
async def get_incident(
    incident_id: IncidentId, user: CurrentUser, session: SessionDep, gateway: GatewayDep
) -> IncidentOut:
    """One incident as the read model holds it: written by every step before it is
    answered, and by the incident's workflow in the same task as anything it does on
    its own (a clock breached, a level paged, alerts heard). Its workflow is asked only
    for an incident the read model does not hold yet: a query makes Temporal's SDK
    rebuild a workflow it no longer holds in memory, and doing so while a timer's task
    waits, the SDK ran the timer at the previous task's time (tests/workflows/unreplayable/),
    which the next replay of the history refuses."""
    stored = await IncidentRepository(session).get(incident_id)
    incident = stored or await gateway.current(incident_id)
    if incident is None:
        raise _not_found(incident_id)
    return IncidentOut.of(incident, user.actor(), datetime.now(UTC))


async def _take(
    incident_id: IncidentId,
    update: Any,
    command: contracts.StepCommand,
    user: UserRecord,
    services: Services,
) -> IncidentOut:
    try:
        incident = await services.gateway.take_step(incident_id, update, command)
    except IncidentGone:
        # The read model is read only here: a step that lands opens no session.
        async with services.database.session() as session:
            stored = await IncidentRepository(session).get(incident_id)
        if stored is None:
            raise _not_found(incident_id) from None
        raise Problem(
            409,
            "Step not allowed now",
            f"Incident {incident_id} is {stored.state.replace('_', ' ')} and takes no more steps.",
            code="step-not-allowed",
        ) from None
    return IncidentOut.of(incident, user.actor(), datetime.now(UTC))


def _not_found(incident_id: int) -> Problem:
    return Problem(
        404,
        "Incident not found",
        f"There is no incident {incident_id}. GET /api/v1/incidents lists them.",
        code="incident-not-found",
    )


@router.post("/{incident_id}/triage", responses=_STEP_PROBLEMS)
async def triage(
    incident_id: IncidentId,
    request: TriageRequest,
    user: CurrentUser,
    services: ServicesDep,
) -> IncidentOut:
    """Set impact, urgency (and so priority), category and service; allowed again later."""
    command = contracts.TriageCommand(actor=user.actor(), request=request)
    return await _take(incident_id, wf.IncidentWorkflow.triage, command, user, services)


@router.post("/{incident_id}/acknowledge", responses=_STEP_PROBLEMS)
async def acknowledge(
    incident_id: IncidentId,
    user: CurrentUser,
    services: ServicesDep,
    request: Annotated[AcknowledgeRequest | None, Body()] = None,
) -> IncidentOut:
    """Say you are on it; you join the responders."""
    command = contracts.AcknowledgeCommand(
        actor=user.actor(), request=request or AcknowledgeRequest()
    )
    return await _take(incident_id, wf.IncidentWorkflow.acknowledge, command, user, services)


@router.post("/{incident_id}/assign", responses=_STEP_PROBLEMS)
async def assign(
    incident_id: IncidentId,
    request: AssignRequest,
    user: CurrentUser,
    services: ServicesDep,
) -> IncidentOut:
    """Name the commander and/or replace the responders; each must be a Vagt user."""
    named = [request.commander] if request.commander else []
    async with services.database.session() as session:
        missing = await UserRepository(session).missing_names([*named, *(request.responders or [])])
    if missing:
        raise Problem(
            422,
            "Invalid request",
            f"Unknown user(s): {', '.join(sorted(missing))}. GET /api/v1/users lists users.",
            code="invalid-request",
            errors=[{"field": "commander/responders", "message": f"unknown: {sorted(missing)}"}],
        )
    command = contracts.AssignCommand(actor=user.actor(), request=request)
    return await _take(incident_id, wf.IncidentWorkflow.assign, command, user, services)


@router.post("/{incident_id}/note", responses=_STEP_PROBLEMS)
async def note(
    incident_id: IncidentId,
    request: NoteRequest,
    user: CurrentUser,
    services: ServicesDep,
) -> IncidentOut:
    """Add a note to the timeline."""
    command = contracts.NoteCommand(actor=user.actor(), request=request)
    return await _take(incident_id, wf.IncidentWorkflow.note, command, user, services)


@router.post(
    "/{incident_id}/updates", status_code=status.HTTP_201_CREATED, responses=_STEP_PROBLEMS
)
async def post_update(
    incident_id: IncidentId,
    request: StatusUpdateRequest,
    user: CurrentUser,
    services: ServicesDep,
    response: Response,
) -> StatusUpdateOut:
    """Post a status update (by a responder or the commander). It goes on the timeline,
    to everyone who follows the incident, its service or its priority (internal ones
    only to subscribers who asked for them), and resets the process's update cadence."""
    command = contracts.StatusUpdateCommand(actor=user.actor(), request=request)
    shown = await _take(incident_id, wf.IncidentWorkflow.post_update, command, user, services)
    posted = shown.updates[-1]
    response.headers["Location"] = f"{router.prefix}/{incident_id}/updates/{posted.seq}"
    return posted


@router.get("/{incident_id}/updates", responses=_problems(401, 404, 422))
async def list_updates(
    incident_id: IncidentId, user: CurrentUser, session: SessionDep, gateway: GatewayDep
) -> list[StatusUpdateOut]:
    """The incident's status updates, oldest first."""
    shown = await get_incident(incident_id, user, session, gateway)
    return shown.updates


@router.get("/{incident_id}/updates/{seq}", responses=_problems(401, 404, 422))
async def get_update(
    incident_id: IncidentId,
    seq: Annotated[int, Path(ge=1, le=MAX_INTEGER)],
    user: CurrentUser,
    session: SessionDep,
    gateway: GatewayDep,
) -> StatusUpdateOut:
    """One status update, by its event's number on the timeline."""
    shown = await get_incident(incident_id, user, session, gateway)
    for posted in shown.updates:
        if posted.seq == seq:
            return posted
    raise Problem(
        404,
        "Status update not found",
        f"Incident {incident_id} has no status update {seq}. "
        f"GET {router.prefix}/{incident_id}/updates lists them.",
        code="update-not-found",
    )


@router.post("/{incident_id}/hold", responses=_STEP_PROBLEMS)
async def hold(
    incident_id: IncidentId,
    request: HoldRequest,
    user: CurrentUser,
    services: ServicesDep,
) -> IncidentOut:
    """Put an acknowledged incident on hold, saying what it waits for."""
    command = contracts.HoldCommand(actor=user.actor(), request=request)
    return await _take(incident_id, wf.IncidentWorkflow.hold, command, user, services)


@router.post("/{incident_id}/resume", responses=_STEP_PROBLEMS)
async def resume(
    incident_id: IncidentId,
    user: CurrentUser,
    services: ServicesDep,
    request: Annotated[ResumeRequest | None, Body()] = None,
) -> IncidentOut:
    """Take an incident off hold."""
    command = contracts.ResumeCommand(actor=user.actor(), request=request or ResumeRequest())
    return await _take(incident_id, wf.IncidentWorkflow.resume, command, user, services)


@router.post("/{incident_id}/resolve", responses=_STEP_PROBLEMS)
async def resolve(
    incident_id: IncidentId,
    request: ResolveRequest,
    user: CurrentUser,
    services: ServicesDep,
) -> IncidentOut:
    """Service is restored: say how, and the root-cause category. The review is next."""
    command = contracts.ResolveCommand(actor=user.actor(), request=request)
    return await _take(incident_id, wf.IncidentWorkflow.resolve, command, user, services)


@router.post("/{incident_id}/reopen", responses=_STEP_PROBLEMS)
async def reopen(
    incident_id: IncidentId,
    request: ReopenRequest,
    user: CurrentUser,
    services: ServicesDep,
) -> IncidentOut:
    """It is not fixed after all: back to acknowledged."""
    command = contracts.ReopenCommand(actor=user.actor(), request=request)
    return await _take(incident_id, wf.IncidentWorkflow.reopen, command, user, services)


@router.post("/{incident_id}/review", responses=_STEP_PROBLEMS)
async def submit_review(
    incident_id: IncidentId,
    request: SubmitReviewRequest,
    user: CurrentUser,
    services: ServicesDep,
) -> IncidentOut:
    """Submit the review: root cause, contributing factors, what went well, action items."""
    command = contracts.SubmitReviewCommand(actor=user.actor(), request=request)
    return await _take(incident_id, wf.IncidentWorkflow.submit_review, command, user, services)


@router.post("/{incident_id}/review/request-changes", responses=_STEP_PROBLEMS)
async def request_changes(
    incident_id: IncidentId,
    request: RequestChangesRequest,
    user: CurrentUser,
    services: ServicesDep,
) -> IncidentOut:
    """Send the review back to its author with what to change."""
    command = contracts.RequestChangesCommand(actor=user.actor(), request=request)
    return await _take(incident_id, wf.IncidentWorkflow.request_changes, command, user, services)


@router.post("/{incident_id}/review/approve", responses=_STEP_PROBLEMS)
async def approve_review(
    incident_id: IncidentId,
    user: CurrentUser,
    services: ServicesDep,
    request: Annotated[ApproveReviewRequest | None, Body()] = None,
) -> IncidentOut:
    """Approve the review and close the incident (commander or process owner, not the author)."""
    command = contracts.ApproveReviewCommand(
        actor=user.actor(), request=request or ApproveReviewRequest()
    )
    return await _take(incident_id, wf.IncidentWorkflow.approve_review, command, user, services)


@router.post("/{incident_id}/escalate", responses=_STEP_PROBLEMS)
async def escalate(
    incident_id: IncidentId,
    request: EscalateRequest,
    user: CurrentUser,
    services: ServicesDep,
) -> IncidentOut:
    """Page the next escalation level now, saying why; works after acknowledgement too."""
    command = contracts.EscalateCommand(actor=user.actor(), request=request)
    return await _take(incident_id, wf.IncidentWorkflow.escalate, command, user, services)


class MigrateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(
        ge=1, le=MAX_INTEGER, description="A published version of the incident's process."
    )


@router.post("/{incident_id}/migrate", responses=_STEP_PROBLEMS)
async def migrate(
    incident_id: IncidentId,
    request: MigrateBody,
    user: CurrentUser,
    services: ServicesDep,
) -> IncidentOut:
    """Move the incident to another published version of its process, on purpose: its
    clocks take the version's targets and keep the time already counted, its escalation
    follows the version's policies, and the timeline records the move."""
    actor = user.actor()
    if not may_take(actor.roles, Step.MIGRATE):
        raise Forbidden(f"{actor.name} may not migrate: no role allows it")
    async with services.database.session() as session:
        name = await IncidentRepository(session).process_of(incident_id)
        if name is None:  # not projected yet: its workflow knows
            live = await services.gateway.current(incident_id)
            if live is None:
                raise _not_found(incident_id)
            name = live.process.name
        found = await ProcessVersionRepository(session).get(name, request.version)
    if found is None or found.state is not VersionState.PUBLISHED:
        why = "is a draft; publish it first" if found else f"does not exist in {name!r}"
        raise invalid(("version", f"{request.version} {why}"))
    command = contracts.MigrateCommand(
        actor=actor, request=MigrateRequest(process=found.definition)
    )
    return await _take(incident_id, wf.IncidentWorkflow.migrate, command, user, services)
