"""Liveness and readiness, for process supervisors and load balancers."""

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from api.deps import ServicesDep

router = APIRouter(tags=["health"])

Check = Literal["ok", "unreachable"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    database: Check
    temporal: Check


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The API process is up."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "The database or Temporal is down."}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    """Ready to serve: the read model and Temporal both answer."""
    checks = {
        "database": await _database_ok(services),
        "temporal": await services.gateway.healthy(),
    }
    ready = all(checks.values())
    body = {"status": "ready" if ready else "not ready"} | {
        name: "ok" if ok else "unreachable" for name, ok in checks.items()
    }
    return JSONResponse(body, status_code=200 if ready else 503)


async def _database_ok(services: ServicesDep) -> bool:
    try:
        async with services.database.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception:  # any failure means "not ready"; the reason is in the DB's own logs
        return False
    return True
