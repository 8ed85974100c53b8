"""On-call schedules of the process in force (its current version, the one new incidents
take): who is on call, now or at any time."""

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import CurrentUser, ServicesDep
from api.errors import Problem, invalid, problems
from domain.schedules import OnCallSchedule, Shift

router = APIRouter(
    prefix="/api/v1/schedules",
    tags=["schedules"],
    responses=problems({401: "No token, or an unknown or disabled one."}),
)


class OnCall(BaseModel):
    schedule: str
    at: datetime
    user: str | None


class ScheduleOut(BaseModel):
    name: str
    timezone: str
    on_call_now: str | None
    next_shifts: list[Shift]


async def _schedule(services: ServicesDep, name: str) -> OnCallSchedule:
    schedules = (await services.current_process()).schedules
    found = schedules.get(name)
    if found is None:
        known = ", ".join(sorted(schedules)) or "none are configured"
        raise Problem(
            404,
            "Schedule not found",
            f"There is no schedule {name!r}; known schedules: {known}.",
            code="schedule-not-found",
        )
    return found


@router.get("")
async def list_schedules(user: CurrentUser, services: ServicesDep) -> list[ScheduleOut]:
    """Every schedule, who is on call now, and the shifts of the coming week."""
    now = datetime.now(UTC)
    return [
        ScheduleOut(
            name=name,
            timezone=schedule.timezone,
            on_call_now=schedule.on_call(now),
            next_shifts=schedule.shifts(now, now + timedelta(days=7)),
        )
        for name, schedule in sorted((await services.current_process()).schedules.items())
    ]


@router.get(
    "/{name}/oncall",
    responses=problems(
        {
            404: "No such schedule.",
            422: "`at` is not a time with a time zone offset; `errors` says why.",
        }
    ),
)
async def on_call(
    name: str,
    user: CurrentUser,
    services: ServicesDep,
    at: Annotated[
        datetime | None, Query(description="An ISO 8601 time with offset; now when omitted.")
    ] = None,
) -> OnCall:
    """Who is on call for a schedule at `at`."""
    moment = at or datetime.now(UTC)
    if moment.tzinfo is None:
        raise invalid(("at", "time zone offset missing; e.g. 2026-03-02T09:00:00+01:00 or ...Z"))
    schedule = await _schedule(services, name)
    return OnCall(schedule=name, at=moment, user=schedule.on_call(moment))
