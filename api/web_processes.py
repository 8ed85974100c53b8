"""The web console's process pages: versions, what changed, publishing, and what-ifs.

Reading is for everyone signed in; publishing and asking what-ifs are for process
owners and admins, checked here as the API's dependencies check them there. Drafts
are written through the API (a whole definition is a JSON document, not a form).
"""

import json
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.deps import MAX_INTEGER, ServicesDep, SessionDep
from api.errors import Problem
from api.routes import processes as api_processes
from api.routes import what_if as api_what_if
from api.web import SignedIn, checked_form, error_page, page, reason
from domain.priority import Priority
from domain.roles import Role
from store.web_sessions import WebSession
from store.what_if import WhatIfFilter

router = APIRouter(include_in_schema=False)

Name = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")]
Number = Annotated[int, Path(ge=1, le=MAX_INTEGER)]
_OWNERS = {Role.PROCESS_OWNER, Role.ADMIN}


@router.get("/processes")
async def processes(request: Request, web: SignedIn, session: SessionDep) -> Response:
    found = await api_processes.list_processes(web.user, session)
    return page(request, "processes.html", {"processes": found}, web)


@router.get("/processes/{name}")
async def versions(request: Request, name: Name, web: SignedIn, session: SessionDep) -> Response:
    try:
        listed = await api_processes.list_versions(name, web.user, session)
    except Problem as problem:
        return error_page(request, web, problem.status, problem.title, problem.detail)
    return page(request, "versions.html", {"name": name, "versions": listed}, web)


@router.get("/processes/{name}/versions/{version}")
async def version_page(
    request: Request, name: Name, version: Number, web: SignedIn, session: SessionDep
) -> Response:
    return await _version(request, name, version, web, session)


async def _version(
    request: Request,
    name: str,
    version: int,
    web: WebSession,
    session: SessionDep,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        shown = await api_processes.get_version(name, version, web.user, session)
        runs = await api_what_if.list_what_ifs(name, version, web.user, session)
    except Problem as problem:
        return error_page(request, web, problem.status, problem.title, problem.detail)
    context = {
        "version": shown,
        "definition": json.dumps(shown.definition.model_dump(mode="json"), indent=2),
        "runs": runs,
        "owner": bool(_OWNERS & web.user.roles),
        "priorities": list(Priority),
        "error": error,
    }
    return page(request, "version.html", context, web, status_code)


@router.post("/processes/{name}/versions/{version}/publish")
async def publish(
    request: Request,
    name: Name,
    version: Number,
    web: SignedIn,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    form = await _owners_form(request, web, "publish versions")
    if isinstance(form, Response):
        return form
    try:
        await api_processes.publish(name, version, web.user, session, services)
    except Problem as problem:
        await session.rollback()
        why, status = reason(problem)
        return await _version(request, name, version, web, session, why, status)
    return RedirectResponse(f"/processes/{name}/versions/{version}", status_code=303)


async def _owners_form(request: Request, web: WebSession, action: str) -> FormData | Response:
    """The posted form of a process owner or admin, else the page that refuses it."""
    form = await checked_form(request, web)
    if isinstance(form, Response):
        return form
    if not _OWNERS & web.user.roles:
        detail = f"Only process owners and admins {action}."
        return error_page(request, web, 403, "Not allowed", detail)
    return form


@router.get("/processes/{name}/diff")
async def diff(
    request: Request,
    name: Name,
    web: SignedIn,
    session: SessionDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_INTEGER)],
    to_version: Annotated[int, Query(alias="to", ge=1, le=MAX_INTEGER)],
) -> Response:
    try:
        found = await api_processes.diff_versions(name, web.user, session, from_version, to_version)
    except Problem as problem:
        return error_page(request, web, problem.status, problem.title, problem.detail)
    return page(request, "diff.html", {"diff": found}, web)


@router.post("/processes/{name}/versions/{version}/what-if")
async def ask_what_if(
    request: Request,
    name: Name,
    version: Number,
    web: SignedIn,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    form = await _owners_form(request, web, "ask what-ifs")
    if isinstance(form, Response):
        return form
    try:
        wanted = WhatIfFilter.model_validate(
            {
                "declared_from": _day(form.get("declared_from"), time.min),
                "declared_to": _day(form.get("declared_to"), time.max),
                "priorities": form.getlist("priority"),
            }
        )
        run = await api_what_if.ask_what_if(
            name, version, wanted, web.user, session, services.gateway, Response()
        )
    except (ValidationError, Problem) as refusal:
        await session.rollback()
        why, status = reason(refusal)
        return await _version(request, name, version, web, session, why, status)
    return RedirectResponse(
        f"/processes/{name}/versions/{version}/what-if/{run.id}", status_code=303
    )


def _day(value: Any, at: time) -> datetime | None:
    """A date from a form's date field, at the start or end of that day in UTC."""
    if not value:
        return None
    try:
        day = date.fromisoformat(str(value))
    except ValueError:
        raise Problem(
            422, "Invalid date", f"{value!r} is no date: give it as YYYY-MM-DD."
        ) from None
    return datetime.combine(day, at, tzinfo=UTC)


@router.get("/processes/{name}/versions/{version}/what-if/{run_id}")
async def what_if_page(
    request: Request,
    name: Name,
    version: Number,
    run_id: Number,
    web: SignedIn,
    session: SessionDep,
    changed: bool = True,
    offset: Annotated[int, Query(ge=0, le=MAX_INTEGER)] = 0,
) -> Response:
    try:
        run = await api_what_if.get_what_if(name, version, run_id, web.user, session)
        outcomes = await api_what_if.list_outcomes(
            name, version, run_id, web.user, session, changed, 50, offset
        )
    except Problem as problem:
        return error_page(request, web, problem.status, problem.title, problem.detail)
    context = {"run": run, "outcomes": outcomes, "changed": changed, "offset": offset}
    return page(request, "what_if.html", context, web)
