"""The web console's reports: how fast incidents are handled, what keeps coming back,
which action items are late; every table also as CSV, for the signed-in browser."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from api.deps import ServicesDep, SessionDep
from api.errors import Problem
from api.routes import reports as api_reports
from api.web import SignedIn, error_page, page
from domain.measures import Measures, Period
from domain.priority import Priority
from store.reports import (
    ActionItemQuery,
    ActionItemView,
    GroupBy,
    OwnerCounts,
    ReportFilter,
    ReportRepository,
)

router = APIRouter(include_in_schema=False)

Day = Annotated[date | None, Query()]
Priorities = Annotated[list[Priority], Query(alias="priority")]
Service = Annotated[str | None, Query(max_length=200)]

# The per-period chart: bars this tall at most, this wide each.
CHART_HEIGHT, BAR_WIDTH = 120, 14


def _report(
    start: date | None, end: date | None, priority: list[Priority], service: str | None
) -> tuple[ReportFilter, date, date]:
    """The report's filter: whole UTC days from `start` through `end` (the last 30 days
    when left out)."""
    today = datetime.now(UTC).date()
    end = end or today
    if not date(1970, 2, 1) <= end < date(2199, 12, 31) or (
        start is not None and not date(1970, 1, 1) <= start < date(2199, 12, 31)
    ):
        raise Problem(422, "Invalid period", "Choose days between 1970 and 2199.")
    start = start or end - timedelta(days=29)
    window = api_reports.report_window(
        datetime.combine(start, time(), tzinfo=UTC),
        datetime.combine(end + timedelta(days=1), time(), tzinfo=UTC),
        datetime.now(UTC),
    )
    return (
        ReportFilter(window=window, priorities=priority, services=[service] if service else []),
        start,
        end,
    )


@router.get("/reports")
async def reports_page(
    request: Request,
    web: SignedIn,
    session: SessionDep,
    services: ServicesDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    priority: Priorities = [],  # noqa: B006 (FastAPI copies it)
    service: Service = None,
    period: Period = "week",
) -> Response:
    try:
        report, start, end = _report(start, end, priority, service)
    except Problem as refused:
        return error_page(request, web, 422, "Choose another period", refused.detail)
    now = datetime.now(UTC)
    repository = ReportRepository(session, services.database)
    measured = await repository.measures(report, now, period)
    recurring = await repository.recurrence(report, GroupBy.DEDUP_KEY, limit=5)
    causes = await repository.recurrence(report, GroupBy.ROOT_CAUSE, limit=5, min_count=1)
    owners = await repository.owners(now.date())
    overdue = await repository.action_items(ActionItemQuery(overdue=True, limit=20), now.date())
    context = {
        "filters": {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "priority": priority,
            "service": service or "",
            "period": period,
        },
        "priorities": list(Priority),
        "measures": measured,
        "chart": _chart(measured),
        "recurring": recurring.groups,
        "causes": causes.groups,
        "owners": owners,
        "overdue": overdue,
        "query": str(request.url.query),
    }
    return page(request, "reports.html", context, web)


def _chart(measured: Measures) -> dict[str, Any]:
    """Bars of opened and closed per period, scaled to the busiest."""
    periods = sorted(set(measured.opened) | set(measured.closed))
    highest = max([*measured.opened.values(), *measured.closed.values(), 1])
    bars = [
        {
            "start": day,
            "opened": measured.opened.get(day, 0),
            "closed": measured.closed.get(day, 0),
            "opened_height": round(measured.opened.get(day, 0) / highest * CHART_HEIGHT),
            "closed_height": round(measured.closed.get(day, 0) / highest * CHART_HEIGHT),
            "x": n * (2 * BAR_WIDTH + 6),
        }
        for n, day in enumerate(periods)
    ]
    return {
        "bars": bars,
        "height": CHART_HEIGHT,
        "bar": BAR_WIDTH,
        "width": max(len(bars) * (2 * BAR_WIDTH + 6), 1),
    }


_TABLES = ("times", "sla", "states", "volume", "recurrence", "owners", "overdue")


@router.get("/reports.csv")
async def reports_csv(
    request: Request,
    web: SignedIn,
    session: SessionDep,
    services: ServicesDep,
    table: Annotated[str, Query(pattern="^(" + "|".join(_TABLES) + ")$")],
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
    priority: Priorities = [],  # noqa: B006
    service: Service = None,
    period: Period = "week",
) -> Response:
    """One table of the reports page, as the API exports it."""
    try:
        report, _, _ = _report(start, end, priority, service)
    except Problem as refused:
        return error_page(request, web, 422, "Choose another period", refused.detail)
    now = datetime.now(UTC)
    repository = ReportRepository(session, services.database)
    if table == "recurrence":
        found = await repository.recurrence(report, GroupBy.DEDUP_KEY)
        rows = api_reports.recurrence_table(found)
        return api_reports.csv_response(rows, api_reports.RECURRENCE_COLUMNS, "recurrence.csv")
    if table == "owners":
        owners = await repository.owners(now.date())
        return api_reports.csv_response(
            [o.model_dump() for o in owners], list(OwnerCounts.model_fields), "owners.csv"
        )
    if table == "overdue":
        items = await repository.action_items(ActionItemQuery(overdue=True, limit=1000), now.date())
        return api_reports.csv_response(
            [i.model_dump(mode="json") for i in items.items],
            list(ActionItemView.model_fields),
            "overdue-action-items.csv",
        )
    measured = await repository.measures(report, now, period)
    name: api_reports.MeasuresTable = table  # type: ignore[assignment]
    return api_reports.csv_response(
        api_reports.measures_table(measured, name),
        api_reports.MEASURES_COLUMNS[name],
        f"measures-{name}.csv",
    )
