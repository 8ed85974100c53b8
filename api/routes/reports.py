"""Reports: how fast incidents are handled, what keeps coming back, which actions are late.

Every report reads the read model's per-incident facts (store.reports), so it answers
in the same time whatever the incidents' timelines weigh. The definitions of every
measure are in domain.measures and the README. Every table is also CSV: `format=csv`
(and, for the measures, `table=`).
"""

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query, Response
from pydantic import BaseModel, Field

from api.deps import MAX_INTEGER, CurrentUser, Offset, ServicesDep, SessionDep
from api.errors import Problem, invalid, problems_from
from domain.lifecycle import Step
from domain.measures import Measures, Period, Window
from domain.priority import Priority
from domain.roles import may_take
from store.reports import (
    ActionItemChange,
    ActionItemQuery,
    ActionItemView,
    ActionState,
    GroupBy,
    OwnerCounts,
    Recurrence,
    ReportFilter,
    ReportRepository,
)
from store.users import UserRecord

router = APIRouter(tags=["reports"])

_problems = problems_from(
    {
        401: "No token, or an unknown or disabled one.",
        403: "Only the item's owner, responders, commanders, process owners and admins "
        "change action items.",
        404: "No such action item.",
        422: "A parameter or the body is invalid; `errors` says which.",
    }
)

DEFAULT_PERIOD = timedelta(days=30)
LONGEST_PERIOD = timedelta(days=3_660)
CSV = "text/csv; charset=utf-8"
_CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}

From = Annotated[
    datetime | None,
    Query(
        alias="from",
        description="Incidents declared at or after this moment (UTC when no offset is "
        "given); 30 days before `to` when left out.",
    ),
]
To = Annotated[
    datetime | None,
    Query(alias="to", description="Incidents declared before this moment; now when left out."),
]
Priorities = Annotated[list[Priority], Query(alias="priority", description="Any of these.")]
Services = Annotated[list[str], Query(alias="service", description="Any of these services.")]
Categories = Annotated[list[str], Query(alias="category", description="Any of these.")]
Integrations = Annotated[
    list[str], Query(alias="integration", description="Opened by alerts of any of these.")
]
Format = Annotated[Literal["json", "csv"], Query(alias="format")]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# Reports compare a period with the one before it and round to whole days: the
# moments they take stay well inside what dates can hold.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def report_window(start: datetime | None, end: datetime | None, now: datetime) -> Window:
    for name, moment in (("from", start), ("to", end)):
        if moment is not None and not EARLIEST <= _aware(moment) <= LATEST:
            raise invalid((f"query.{name}", "must be between 1970-01-01 and 2200-01-01"))
    end = _aware(end) if end is not None else now
    start = _aware(start) if start is not None else end - DEFAULT_PERIOD
    if start >= end:
        raise invalid(("query.from", "must be before `to`"))
    if end - start > LONGEST_PERIOD:
        raise invalid(("query.from", "a report covers at most 3,660 days; narrow the period"))
    return Window(start=start, end=end)


class ReportScope(BaseModel):
    """What a report covers, as asked (with the defaults filled in)."""

    start: datetime
    end: datetime
    priorities: list[Priority]
    services: list[str]
    categories: list[str]
    integrations: list[str]


def _scope(found: ReportFilter) -> ReportScope:
    assert found.window.start is not None and found.window.end is not None
    return ReportScope(
        start=found.window.start,
        end=found.window.end,
        priorities=found.priorities,
        services=found.services,
        categories=found.categories,
        integrations=found.integrations,
    )


class MeasuresOut(BaseModel):
    scope: ReportScope
    period: Period = Field(description="Opened and closed are counted per day or week (Monday).")
    measured_at: datetime = Field(description="Stays in a state not yet left count up to now.")
    measures: Measures


MeasuresTable = Literal["times", "sla", "states", "volume"]


@router.get(
    "/api/v1/reports/measures",
    responses=_problems(401, 422) | _CSV_RESPONSE,
)
async def get_measures(
    user: CurrentUser,
    session: SessionDep,
    services_: ServicesDep,
    start: From = None,
    end: To = None,
    priorities: Priorities = [],  # noqa: B006 (FastAPI copies it)
    services: Services = [],  # noqa: B006
    categories: Categories = [],  # noqa: B006
    integrations: Integrations = [],  # noqa: B006
    period: Annotated[Period, Query(description="Count per day or per week.")] = "day",
    format: Format = "json",
    table: Annotated[
        MeasuresTable | None,
        Query(
            description="With format=csv, which table: times (to acknowledge, to resolve, "
            "on hold), sla (per clock), states (time in each) or volume (opened and closed)."
        ),
    ] = None,
) -> Any:
    """MTTA and MTTR (mean, median, 90th percentile), SLA compliance per clock, time
    in each state (hold apart), reopenings, and incidents opened and closed per day or
    week, over the incidents declared in the period that match the filter."""
    now = datetime.now(UTC)
    found = ReportFilter(
        window=report_window(start, end, now),
        priorities=priorities,
        services=services,
        categories=categories,
        integrations=integrations,
    )
    if format == "csv" and table is None:
        raise invalid(("query.table", "choose the table to export: times, sla, states or volume"))
    # The report's independent queries at once, each in a session of its own.
    measured = await ReportRepository(session, services_.database).measures(found, now, period)
    if format == "csv":
        assert table is not None
        rows = measures_table(measured, table)
        return csv_response(rows, MEASURES_COLUMNS[table], f"measures-{table}.csv")
    return MeasuresOut(scope=_scope(found), period=period, measured_at=now, measures=measured)


MEASURES_COLUMNS: dict[MeasuresTable, list[str]] = {
    "times": ["measure", "count", "mean", "median", "p90"],
    "sla": ["clock", "met", "breached", "open", "share_met"],
    "states": ["state", "incidents", "total", "mean"],
    "volume": ["period_start", "opened", "closed"],
}


def measures_table(measured: Measures, table: MeasuresTable) -> list[dict[str, Any]]:
    if table == "times":
        return [
            {"measure": name, **spread.model_dump()}
            for name, spread in (
                ("time_to_acknowledge", measured.time_to_acknowledge),
                ("time_to_resolve", measured.time_to_resolve),
                ("time_on_hold", measured.hold),
            )
        ]
    if table == "sla":
        return [
            {"clock": str(clock), **compliance.model_dump()}
            for clock, compliance in measured.sla.items()
        ]
    if table == "states":
        return [
            {"state": str(state), **spent.model_dump()}
            for state, spent in measured.in_state.items()
        ]
    days = sorted(set(measured.opened) | set(measured.closed))
    return [
        {
            "period_start": day.isoformat(),
            "opened": measured.opened.get(day, 0),
            "closed": measured.closed.get(day, 0),
        }
        for day in days
    ]


@router.get(
    "/api/v1/reports/recurrence",
    responses=_problems(401, 422) | _CSV_RESPONSE,
)
async def get_recurrence(
    user: CurrentUser,
    session: SessionDep,
    group_by: Annotated[
        GroupBy,
        Query(description="dedup_key (within its integration), service or root_cause_category"),
    ] = GroupBy.DEDUP_KEY,
    start: From = None,
    end: To = None,
    priorities: Priorities = [],  # noqa: B006
    services: Services = [],  # noqa: B006
    categories: Categories = [],  # noqa: B006
    integrations: Integrations = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=100, description="How many groups, most first.")] = 10,
    min_count: Annotated[
        int, Query(ge=1, le=MAX_INTEGER, description="Groups with fewer are left out.")
    ] = 2,
    format: Format = "json",
) -> Any:
    """The groups of incidents that keep coming back: how many in the period, how many
    in the period of the same length before it (the trend), and links to the latest
    incidents and their reviews."""
    found = ReportFilter(
        window=report_window(start, end, datetime.now(UTC)),
        priorities=priorities,
        services=services,
        categories=categories,
        integrations=integrations,
    )
    recurrence = await ReportRepository(session).recurrence(
        found, group_by, limit=limit, min_count=min_count
    )
    if format == "csv":
        return csv_response(
            recurrence_table(recurrence), RECURRENCE_COLUMNS, f"recurrence-{group_by}.csv"
        )
    return recurrence


RECURRENCE_COLUMNS = [
    "group_by",
    "integration",
    "key",
    "count",
    "previous_count",
    "trend",
    "first_declared_at",
    "last_declared_at",
    "incidents",
]


def recurrence_table(recurrence: Recurrence) -> list[dict[str, Any]]:
    return [
        {
            "group_by": str(recurrence.group_by),
            "integration": group.integration,
            "key": group.key,
            "count": group.count,
            "previous_count": group.previous_count,
            "trend": str(group.trend),
            "first_declared_at": group.first_declared_at.isoformat(),
            "last_declared_at": group.last_declared_at.isoformat(),
            "incidents": " ".join(str(incident.id) for incident in group.incidents),
        }
        for group in recurrence.groups
    ]


@router.get(
    "/api/v1/reports/action-items",
    responses=_problems(401, 422) | _CSV_RESPONSE,
)
async def get_action_items_by_owner(
    user: CurrentUser,
    session: SessionDep,
    owner: Annotated[str | None, Query(max_length=100)] = None,
    format: Format = "json",
) -> Any:
    """Action items of approved reviews by owner: open (of those, overdue), done and
    dropped."""
    owners = await ReportRepository(session).owners(datetime.now(UTC).date(), owner)
    if format == "csv":
        return csv_response(
            [counts.model_dump() for counts in owners],
            list(OwnerCounts.model_fields),
            "action-items-by-owner.csv",
        )
    return owners


ActionItemNumber = Annotated[int, Path(ge=1, le=MAX_INTEGER, description="The item's number.")]


@router.get(
    "/api/v1/action-items",
    responses=_problems(401, 422) | _CSV_RESPONSE,
    tags=["action items"],
)
async def list_action_items(
    user: CurrentUser,
    session: SessionDep,
    state: Annotated[list[ActionState], Query()] = [],  # noqa: B006
    overdue: Annotated[
        bool | None, Query(description="true: open and past due; false: the others.")
    ] = None,
    owner: Annotated[str | None, Query(max_length=100)] = None,
    incident_id: Annotated[int | None, Query(ge=1, le=MAX_INTEGER)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Offset = 0,
    format: Format = "json",
) -> Any:
    """Action items of approved reviews, the soonest due first."""
    query = ActionItemQuery(
        states=state,
        overdue=overdue,
        owner=owner,
        incident_id=incident_id,
        limit=limit,
        offset=offset,
    )
    page = await ReportRepository(session).action_items(query, datetime.now(UTC).date())
    if format == "csv":
        return csv_response(
            [item.model_dump(mode="json") for item in page.items],
            list(ActionItemView.model_fields),
            "action-items.csv",
        )
    return page


def _item_missing(item_id: int) -> Problem:
    return Problem(
        404,
        "Action item not found",
        f"There is no action item {item_id}; GET /api/v1/action-items lists them.",
        code="action-item-not-found",
    )


@router.get(
    "/api/v1/action-items/{item_id}",
    responses=_problems(401, 404, 422),
    tags=["action items"],
)
async def get_action_item(
    item_id: ActionItemNumber, user: CurrentUser, session: SessionDep
) -> ActionItemView:
    found = await ReportRepository(session).action_item(item_id, datetime.now(UTC).date())
    if found is None:
        raise _item_missing(item_id)
    return found


def _may_change(user: UserRecord, item: ActionItemView) -> bool:
    # Its owner, and whoever may write reviews or approve them.
    return (
        user.name == item.owner
        or may_take(user.roles, Step.SUBMIT_REVIEW)
        or may_take(user.roles, Step.APPROVE_REVIEW)
    )


@router.patch(
    "/api/v1/action-items/{item_id}",
    responses=_problems(401, 403, 404, 422),
    tags=["action items"],
)
async def change_action_item(
    item_id: ActionItemNumber,
    user: CurrentUser,
    session: SessionDep,
    change: Annotated[
        ActionItemChange,
        Body(
            openapi_examples={
                "done": {"value": {"state": "done", "note": "Disk alert added at 80%"}},
                "postponed": {"value": {"due_date": "2026-12-31", "owner": "bob"}},
            }
        ),
    ],
) -> ActionItemView:
    """Mark an item done or dropped (or open again), move its due date, hand it to
    someone else, or note what was done; what the body leaves out stays. A new due date
    earns a new reminder when it passes."""
    repository = ReportRepository(session)
    now = datetime.now(UTC)
    found = await repository.action_item(item_id, now.date())
    if found is None:
        raise _item_missing(item_id)
    if not _may_change(user, found):
        raise Problem(
            403,
            "Not allowed for your roles",
            f"Only {found.owner} (its owner) and responders, commanders, process owners "
            "and admins change this action item.",
            code="forbidden",
        )
    changed = await repository.change_action_item(item_id, change, user.name, now)
    if changed is None:
        raise _item_missing(item_id)
    await session.commit()
    return changed


def csv_response(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], filename: str
) -> Response:
    """`rows` as CSV under a header line of `columns`."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(_cells(row) for row in rows)
    return Response(
        out.getvalue(),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _cells(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: _cell(value) for key, value in row.items()}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        # Text from alerts and people: a spreadsheet must not run it as a formula.
        return f"'{value}" if value.startswith(_FORMULA) else value
    if isinstance(value, Iterable):
        return " ".join(str(v) for v in value)
    return value


_FORMULA = ("=", "+", "-", "@", "\t", "\r")
