"""The web console: server-rendered pages for people, on the same rules as the API.

Signing in with a name and password opens a session (an HttpOnly, SameSite cookie;
store.web_sessions); every form carries the session's CSRF token and every post checks
it. Steps go through the JSON API's own route functions, so a form is refused exactly
as the API would refuse it, and the page shows the refusal's reason. Pages work
without JavaScript; `static/vagt.js` only adds live countdowns and refreshes the desk.
"""

import secrets
from datetime import UTC, date, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.datastructures import FormData

from api.deps import MAX_INTEGER, ServicesDep, SessionDep
from api.errors import Problem
from api.routes import incidents as api_incidents
from api.schemas import ClockOut
from domain.errors import DomainError
from domain.lifecycle import IncidentState, Step
from domain.priority import Priority
from domain.requests import (
    AcknowledgeRequest,
    ApproveReviewRequest,
    AssignRequest,
    DeclareRequest,
    EscalateRequest,
    HoldRequest,
    NoteRequest,
    ReopenRequest,
    RequestChangesRequest,
    ResolveRequest,
    ResumeRequest,
    StatusUpdateRequest,
    SubmitReviewRequest,
    TriageRequest,
)
from domain.roles import may_declare
from store.incidents import IncidentQuery, IncidentRepository, SlaFilter
from store.processes import ProcessVersionRepository
from store.users import UserRepository
from store.web_sessions import LIFETIME, WebSession, WebSessionRepository

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=FilePath(__file__).parent / "templates")

SESSION_COOKIE = "vagt_session"
# Signing in has no session yet: its form's token is also set as a cookie (double submit),
# so another site cannot sign a browser in to an account of its choosing.
LOGIN_COOKIE = "vagt_login_csrf"
OPEN_STATES = [state for state in IncidentState if state is not IncidentState.CLOSED]

# Each step's path segment, the request it takes, and the API route that takes it.
STEPS: dict[Step, tuple[str, type[Any], Any]] = {
    Step.TRIAGE: ("triage", TriageRequest, api_incidents.triage),
    Step.ACKNOWLEDGE: ("acknowledge", AcknowledgeRequest, api_incidents.acknowledge),
    Step.ASSIGN: ("assign", AssignRequest, api_incidents.assign),
    Step.NOTE: ("note", NoteRequest, api_incidents.note),
    Step.POST_UPDATE: ("updates", StatusUpdateRequest, api_incidents.post_update),
    Step.HOLD: ("hold", HoldRequest, api_incidents.hold),
    Step.RESUME: ("resume", ResumeRequest, api_incidents.resume),
    Step.RESOLVE: ("resolve", ResolveRequest, api_incidents.resolve),
    Step.REOPEN: ("reopen", ReopenRequest, api_incidents.reopen),
    Step.SUBMIT_REVIEW: ("review", SubmitReviewRequest, api_incidents.submit_review),
    Step.REQUEST_CHANGES: ("request-changes", RequestChangesRequest, api_incidents.request_changes),
    Step.APPROVE_REVIEW: ("approve", ApproveReviewRequest, api_incidents.approve_review),
    Step.ESCALATE: ("escalate", EscalateRequest, api_incidents.escalate),
    Step.MIGRATE: ("migrate", api_incidents.MigrateBody, api_incidents.migrate),
}
_BY_SLUG = {slug: step for step, (slug, _, _) in STEPS.items()}


class SignInNeeded(Exception):
    """No live session: the browser is sent to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


async def _signed_in(request: Request, session: SessionDep) -> WebSession:
    cookie = request.cookies.get(SESSION_COOKIE)
    found = await WebSessionRepository(session).find(cookie) if cookie else None
    if found is None:
        raise SignInNeeded(request.url.path)
    return found


SignedIn = Annotated[WebSession, Depends(_signed_in)]


def install(app: FastAPI) -> None:
    """The console's routes, its static files, and its sign-in redirect."""
    # They build on this module's helpers.
    from api import web_processes, web_reports, web_subscriptions

    app.include_router(router)
    app.include_router(web_processes.router)
    app.include_router(web_reports.router)
    app.include_router(web_subscriptions.router)
    app.mount("/static", StaticFiles(directory=FilePath(__file__).parent / "static"), name="static")
    app.add_exception_handler(SignInNeeded, _sign_in)  # type: ignore[arg-type]


async def _sign_in(request: Request, error: SignInNeeded) -> Response:
    return RedirectResponse(f"/login?next={quote(error.next_path)}", status_code=303)


def page(
    request: Request,
    name: str,
    context: dict[str, Any],
    web: WebSession | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    base = {
        "me": web.user if web else None,
        "csrf": web.csrf_token if web else "",
        "may_declare": web is not None and may_declare(web.user.roles),
    }
    response = templates.TemplateResponse(request, name, base | context, status_code=status_code)
    # Pages hold incident details: never kept by a shared cache, never framed elsewhere.
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; frame-ancestors 'none'; form-action 'self'"
    )
    return response


async def checked_form(request: Request, web: WebSession) -> FormData | Response:
    """The posted form if it carries the session's CSRF token, else the refusal page."""
    form = await request.form()
    try:
        _checked(web, form)
    except Problem as problem:
        return error_page(request, web, problem.status, problem.title, problem.detail)
    return form


def _checked(web: WebSession, form: Any) -> None:
    given = str(form.get("csrf_token", ""))
    if not secrets.compare_digest(given.encode(), web.csrf_token.encode()):
        raise Problem(
            403,
            "Form refused",
            "The form carried no valid CSRF token (it may be from an older session). "
            "Reload the page and send it again.",
            code="csrf-refused",
        )


def local_path(path: str) -> str:
    """`path` if it stays on this site, else the desk."""
    # Browsers read `/\\host` as `//host`: another site.
    local = path.startswith("/") and not path.startswith(("//", "/\\"))
    return path if local else "/"


# Signing in and out


@router.get("/login")
async def login_page(request: Request, next: str = "/") -> Response:
    return _login_form(request, local_path(next))


def _login_form(
    request: Request, next_path: str, name: str = "", error: str | None = None, status: int = 200
) -> Response:
    """The sign-in form, with its token in a cookie beside it (kept if the browser has
    one, else a new one), so it can always be sent again."""
    token = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(32)
    context = {"login_csrf": token, "next": next_path, "username": name, "error": error}
    response = page(request, "login.html", context, status_code=status)
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@router.post("/login")
async def login(request: Request, session: SessionDep) -> Response:
    form = await request.form()
    name, password = str(form.get("username", "")), str(form.get("password", ""))
    next_path = local_path(str(form.get("next", "/")))
    cookie_token = request.cookies.get(LOGIN_COOKIE, "")
    form_token = str(form.get("csrf_token", ""))
    if not cookie_token or not secrets.compare_digest(cookie_token.encode(), form_token.encode()):
        expired = "The sign-in form expired. Sign in again."
        return _login_form(request, next_path, name, expired, 403)
    user = await UserRepository(session).authenticate(name, password)
    if user is None:
        wrong = "Unknown name or wrong password."
        return _login_form(request, next_path, name, wrong, 401)
    cookie, _ = await WebSessionRepository(session).open(user)
    await session.commit()
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
async def logout(request: Request, web: SignedIn, session: SessionDep) -> Response:
    form = await checked_form(request, web)
    if isinstance(form, Response):
        return form
    await WebSessionRepository(session).close(request.cookies[SESSION_COOKIE])
    await session.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


# The desk


@router.get("/")
async def desk(
    request: Request,
    web: SignedIn,
    session: SessionDep,
    view: Annotated[str, Query(pattern="^(open|past)$")] = "open",
    priority: Annotated[list[Priority], Query()] = [],  # noqa: B006 (FastAPI copies it)
    sla: SlaFilter | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    service: Annotated[str | None, Query(max_length=200)] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_INTEGER)] = 0,
) -> Response:
    """Open incidents by priority, with each clock's time left; or past ones."""
    repository = IncidentRepository(session)
    states = OPEN_STATES if view == "open" else [IncidentState.CLOSED]
    query = IncidentQuery(
        states=states,
        priorities=priority,
        sla=sla,
        text=q or None,
        service=service or None,
        limit=50,
        offset=offset,
    )
    listed = await repository.list(query)
    now = datetime.now(UTC)
    clocks: dict[int, list[ClockOut]] = {}
    for incident in await repository.many([item.id for item in listed.items], timelines=False):
        clocks[incident.id] = [ClockOut.of(c, incident, now) for c in incident.watch.clocks]
    items = listed.items
    if view == "open":  # the most urgent first, newest first within a priority
        items = sorted(items, key=lambda item: (item.priority, -item.declared_at.timestamp()))
    context = {
        "view": view,
        "items": items,
        "total": listed.total,
        "offset": offset,
        "clocks": clocks,
        "now": now,
        "filters": {"priority": priority, "sla": sla, "q": q or "", "service": service or ""},
        "priorities": list(Priority),
    }
    return page(request, "desk.html", context, web)


# One incident


@router.get("/incidents/{incident_id}")
async def incident_page(
    request: Request,
    incident_id: Annotated[int, Path(ge=1, le=MAX_INTEGER)],
    web: SignedIn,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    return await _incident(request, incident_id, web, session, services)


async def _incident(
    request: Request,
    incident_id: int,
    web: WebSession,
    session: SessionDep,
    services: ServicesDep,
    error: str | None = None,
    refused_step: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        shown = await api_incidents.get_incident(incident_id, web.user, session, services.gateway)
    except Problem as problem:
        return error_page(request, web, problem.status, problem.title, problem.detail)
    # The forms offer what the incident's own version knows, as its steps are checked.
    runs_on = await ProcessVersionRepository(session).get(shown.process.name, shown.process.version)
    process = runs_on.definition if runs_on else await services.current_process()
    context = {
        "incident": shown,
        "steps": [(step, STEPS[step][0]) for step in shown.allowed_steps],
        "labels": {"updates": "Post a status update"},
        "error": error,
        "refused_step": refused_step,
        "categories": process.categories,
        "root_causes": process.root_cause_categories,
        "now": datetime.now(UTC),
        "today": date.today(),
    }
    return page(request, "incident.html", context, web, status_code)


@router.post("/incidents/{incident_id}/{slug}")
async def take_step(
    request: Request,
    incident_id: Annotated[int, Path(ge=1, le=MAX_INTEGER)],
    slug: Annotated[str, Path(max_length=40)],
    web: SignedIn,
    session: SessionDep,
    services: ServicesDep,
) -> Response:
    """One step from its form: on success back to the incident, else its page again
    with the reason the step was refused."""
    form = await request.form()
    try:
        _checked(web, form)
    except Problem as problem:
        return error_page(request, web, problem.status, problem.title, problem.detail)
    step = _BY_SLUG.get(slug)
    if step is None:
        return error_page(request, web, 404, "No such step", f"Vagt has no step {slug!r}.")
    _, model, route = STEPS[step]
    # Posting an update answers with where it is; the console goes back to the incident.
    extra = {"response": Response()} if step is Step.POST_UPDATE else {}
    try:
        await route(
            incident_id=incident_id,
            request=model.model_validate(_fields(step, form)),
            user=web.user,
            services=services,
            **extra,
        )
    except (ValidationError, Problem, DomainError) as refusal:
        await session.rollback()
        why, status = reason(refusal)
        return await _incident(request, incident_id, web, session, services, why, slug, status)
    return RedirectResponse(f"/incidents/{incident_id}", status_code=303)


def _fields(step: Step, form: Any) -> dict[str, Any]:
    """The form's fields as the step's request: blanks left out, lists split."""
    fields = {key: value.strip() for key, value in form.items() if key != "csrf_token"}
    fields = {key: value for key, value in fields.items() if value != ""}
    if step is Step.POST_UPDATE:
        # A checkbox is sent only when ticked.
        fields["public"] = fields.pop("internal", None) is None
    if step is Step.ASSIGN and "responders" in fields:
        fields["responders"] = [n.strip() for n in fields["responders"].split(",") if n.strip()]
    if step is Step.SUBMIT_REVIEW:
        fields["contributing_factors"] = _lines(fields.get("contributing_factors", ""))
        # One action item a line: description; owner; due date (YYYY-MM-DD).
        fields["action_items"] = [
            dict(zip(_ITEM_PARTS, (part.strip() for part in line.split(";")), strict=False))
            for line in _lines(fields.get("action_items", ""))
        ]
    return fields


_ITEM_PARTS = ("description", "owner", "due_date")


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def reason(refusal: ValidationError | Problem | DomainError) -> tuple[str, int]:
    """Why a form was refused, in words, and the status to answer with."""
    if isinstance(refusal, ValidationError):
        fields = (
            f"{'.'.join(str(part) for part in error['loc']) or 'form'}: {error['msg']}"
            for error in refusal.errors()
        )
        return "; ".join(fields), 422
    if isinstance(refusal, Problem):
        errors = refusal.extra.get("errors")
        if errors:
            return "; ".join(f"{e['field']}: {e['message']}" for e in errors), refusal.status
        return refusal.detail, refusal.status
    return refusal.message, refusal.status


def error_page(request: Request, web: WebSession, status: int, title: str, detail: str) -> Response:
    return page(request, "error.html", {"title": title, "detail": detail}, web, status)


# Declaring


@router.get("/declare")
async def declare_page(request: Request, web: SignedIn, services: ServicesDep) -> Response:
    process = await services.current_process()
    context: dict[str, Any] = {"categories": process.categories, "form": {}, "error": None}
    return page(request, "declare.html", context, web)


@router.post("/declare")
async def declare(request: Request, web: SignedIn, services: ServicesDep) -> Response:
    form = await request.form()
    try:
        _checked(web, form)
    except Problem as problem:
        return error_page(request, web, problem.status, problem.title, problem.detail)
    fields = {key: str(value).strip() for key, value in form.items() if key != "csrf_token"}
    try:
        body = DeclareRequest.model_validate({k: v for k, v in fields.items() if v != ""})
        declared = await api_incidents.declare_incident(body, web.user, services, Response())
    except (ValidationError, Problem, DomainError) as refusal:
        why, status = reason(refusal)
        process = await services.current_process()
        context = {"categories": process.categories, "form": fields, "error": why}
        return page(request, "declare.html", context, web, status)
    return RedirectResponse(f"/incidents/{declared.id}", status_code=303)
