"""Every error leaves as `application/problem+json` (RFC 9457): what went wrong, how to fix it."""

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from domain.errors import DomainError
from domain.validation import expand

log = logging.getLogger("vagt.api")

PROBLEM_JSON = "application/problem+json"


class FieldProblem(BaseModel):
    field: str = Field(description="The field's path: `title`, `query.limit`, `body`.")
    message: str


class ProblemDetails(BaseModel):
    """An error as RFC 9457 problem details; problem types may add members."""

    type: str = Field(description="`urn:vagt:problem:<code>`, one per kind of problem.")
    title: str
    status: int
    detail: str = Field(description="What went wrong and what to do about it.")
    instance: str = Field(description="The path the request was sent to.")
    errors: list[FieldProblem] | None = Field(
        default=None, description="Each bad field, for a body or parameters that are invalid."
    )


_SCHEMAS = "#/components/schemas/"


def problems(descriptions: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the errors a route answers with, each as problem+json."""
    content = {PROBLEM_JSON: {"schema": {"$ref": f"{_SCHEMAS}{ProblemDetails.__name__}"}}}
    return {
        status: {"description": description, "content": content}
        for status, description in descriptions.items()
    }


def problems_from(texts: Mapping[int, str]) -> Callable[..., dict[int | str, dict[str, Any]]]:
    """`problems` for a route module's table of texts: `_problems(401, 404)` documents
    those two statuses with the module's words for them."""

    def chosen(*statuses: int) -> dict[int | str, dict[str, Any]]:
        return problems({status: texts[status] for status in statuses})

    return chosen


class Problem(Exception):
    """An HTTP error with a problem type, raised anywhere below a route."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.code = code or title.lower().replace(" ", "-")
        self.headers = headers
        self.extra = extra


def problem_response(problem: Problem, instance: str) -> JSONResponse:
    body = {
        "type": f"urn:vagt:problem:{problem.code}",
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
        **problem.extra,
    }
    return JSONResponse(
        body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers
    )


def from_domain(error: DomainError) -> Problem:
    code = "".join(f"-{c.lower()}" if c.isupper() else c for c in error.code).lstrip("-")
    return Problem(error.status, error.title, error.message, code=code)


def invalid(*errors: tuple[str, str]) -> Problem:
    """A 422 naming each bad field (path, message), as a refused body is answered."""
    listed = [{"field": field, "message": message} for field, message in errors]
    summary = "; ".join(f"{field}: {message}" for field, message in errors)
    return Problem(
        422,
        "Invalid request",
        f"Fix these fields and send again: {summary}",
        code="invalid-request",
        errors=listed,
    )


def from_validation(error: RequestValidationError) -> Problem:
    # A document refused as a whole (a process definition) lists each of its problems.
    found = expand(error.errors(), prefix=("body",), top="body")
    if any(e["type"] == "json_invalid" for e in error.errors()):
        return Problem(
            400,
            "Malformed JSON",
            "The request body is not valid JSON; send a JSON object.",
            errors=[{"field": path, "message": message} for path, message in found],
        )
    return invalid(*found)


def install(app: FastAPI) -> None:
    """Render every error the app can raise as problem+json, and document its schema."""
    _document_problem_details(app)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem_response(from_domain(exc), request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem_response(from_validation(exc), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail) if exc.detail else "See the API documentation at /docs."
        headers = exc.headers
        if exc.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        problem = Problem(exc.status_code, _reason(exc.status_code), detail, headers=headers)
        return problem_response(problem, request.url.path)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        problem = Problem(
            500, "Internal error", "Vagt hit a bug; it is logged. Nothing you sent was wrong."
        )
        return problem_response(problem, request.url.path)


# Every method a route can take; HEAD and OPTIONS only where a route declares them.
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _allowed_methods(request: Request) -> list[str]:
    """Every method the path takes. Starlette's 405 names only the first route matching the
    path, while GET and POST on one path are two routes."""
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


def _document_problem_details(app: FastAPI) -> None:
    """Put ProblemDetails into the OpenAPI components, where `problems()` refers to it:
    FastAPI adds only the models routes return."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()  # cached by FastAPI, so amended once
        schema = ProblemDetails.model_json_schema(ref_template=_SCHEMAS + "{model}")
        components = document.setdefault("components", {}).setdefault("schemas", {})
        components.update(schema.pop("$defs", {}))
        components[ProblemDetails.__name__] = schema
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
