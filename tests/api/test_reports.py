"""/api/v1/reports and /api/v1/action-items: the hand-worked incidents of
tests.store.test_reports, and one incident walked through the API to an approved review."""

import asyncio
import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from tests.api.conftest import Api
from tests.domain.builders import T0
from tests.store.test_reports import project, recurring, the_three

DAY = timedelta(days=1)
MEASURES = "/api/v1/reports/measures"
RECURRENCE = "/api/v1/reports/recurrence"
ITEMS = "/api/v1/action-items"
# The first fortnight of the hand-worked set: all six incidents.
FORTNIGHT = {"from": T0.isoformat(), "to": (T0 + 14 * DAY).isoformat()}


def rows(response: httpx.Response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.text)))


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    return body


class TestMeasures:
    async def test_the_period_and_filter_choose_the_incidents(self, api: Api) -> None:
        await project(api.database, the_three() + recurring())

        everything = await api.get(MEASURES, "vic", **FORTNIGHT, period="week")
        p3_on_db = await api.get(
            MEASURES, "vic", **FORTNIGHT, priority="P3", service="db", integration="prometheus"
        )

        assert everything.status_code == 200, everything.text
        body = everything.json()
        assert body["scope"]["start"] == "2025-03-03T09:00:00Z"
        measures = body["measures"]
        assert measures["incidents"] == 6
        # 5 h, 1 h, 2 h and 1 h to resolve.
        assert measures["time_to_resolve"] == {
            "count": 4,
            "mean": 8_100.0,
            "median": 5_400.0,
            "p90": 18_000.0,
        }
        assert measures["sla"]["acknowledge"] == {
            "met": 1,
            "breached": 1,
            "open": 0,
            "share_met": 0.5,
        }
        assert measures["opened"] == {"2025-03-03": 3, "2025-03-10": 3}
        # #4, #5 and #6.
        assert p3_on_db.json()["measures"]["incidents"] == 3

    async def test_every_table_as_csv(self, api: Api) -> None:
        await project(api.database, the_three())

        times = rows(await api.get(MEASURES, "vic", **FORTNIGHT, format="csv", table="times"))
        volume = rows(await api.get(MEASURES, "vic", **FORTNIGHT, format="csv", table="volume"))
        sla = rows(await api.get(MEASURES, "vic", **FORTNIGHT, format="csv", table="sla"))
        states = rows(await api.get(MEASURES, "vic", **FORTNIGHT, format="csv", table="states"))

        assert times[0] == {
            "measure": "time_to_acknowledge",
            "count": "1",
            "mean": "600.0",
            "median": "600.0",
            "p90": "600.0",
        }
        assert [r["measure"] for r in times] == [
            "time_to_acknowledge",
            "time_to_resolve",
            "time_on_hold",
        ]
        assert volume == [
            {"period_start": "2025-03-03", "opened": "1", "closed": "0"},
            {"period_start": "2025-03-04", "opened": "1", "closed": "1"},
            {"period_start": "2025-03-11", "opened": "1", "closed": "0"},
        ]
        assert sla[1] == {
            "clock": "resolve",
            "met": "2",
            "breached": "0",
            "open": "0",
            "share_met": "1.0",
        }
        assert [r["state"] for r in states][:2] == ["detected", "triaged"]

    async def test_bad_parameters_are_refused_with_the_fix(self, api: Api) -> None:
        no_table = problem(await api.get(MEASURES, "vic", format="csv"), 422)
        backwards = problem(
            await api.get(MEASURES, "vic", **{"from": "2025-03-10", "to": "2025-03-01"}), 422
        )
        priority = problem(await api.get(MEASURES, "vic", priority="P9"), 422)
        ancient = problem(await api.get(RECURRENCE, "vic", to="0001-01-05T00:00:00Z"), 422)

        assert no_table["errors"][0]["field"] == "query.table"
        assert "times, sla, states or volume" in no_table["detail"]
        assert backwards["errors"][0] == {"field": "query.from", "message": "must be before `to`"}
        assert priority["errors"][0]["field"] == "query.priority.0"
        assert ancient["errors"][0] == {
            "field": "query.to",
            "message": "must be between 1970-01-01 and 2200-01-01",
        }
        problem(await api.http.get(MEASURES), 401)

    async def test_the_default_period_is_the_last_30_days(self, api: Api) -> None:
        body = (await api.get(MEASURES, "vic")).json()

        start = datetime.fromisoformat(body["scope"]["start"])
        end = datetime.fromisoformat(body["scope"]["end"])
        assert end - start == timedelta(days=30)
        assert abs(end - datetime.now(UTC)) < timedelta(minutes=1)


class TestRecurrence:
    async def test_groups_with_trend_and_links_and_as_csv(self, api: Api) -> None:
        await project(api.database, the_three() + recurring())
        second_week = {"from": (T0 + 7 * DAY).isoformat(), "to": (T0 + 14 * DAY).isoformat()}

        found = await api.get(RECURRENCE, "vic", **second_week)
        exported = rows(await api.get(RECURRENCE, "vic", **second_week, format="csv"))
        by_cause = await api.get(RECURRENCE, "vic", **FORTNIGHT, group_by="root_cause_category")

        [group] = found.json()["groups"]
        assert group["key"] == "disk-full"
        assert (group["count"], group["previous_count"], group["trend"]) == (2, 1, "rising")
        assert [i["url"] for i in group["incidents"]] == [
            "/api/v1/incidents/6",
            "/api/v1/incidents/5",
        ]
        assert exported == [
            {
                "group_by": "dedup_key",
                "integration": "prometheus",
                "key": "disk-full",
                "count": "2",
                "previous_count": "1",
                "trend": "rising",
                "first_declared_at": "2025-03-12T09:00:00+00:00",
                "last_declared_at": "2025-03-12T10:00:00+00:00",
                "incidents": "6 5",
            }
        ]
        assert by_cause.json()["groups"][0]["count"] == 4


REVIEW = {
    "root_cause": "Logs filled the disk",
    "action_items": [
        {"description": "Rotate logs daily", "owner": "bob", "due_date": "2025-01-31"},
        {"description": "Alert at 80% disk", "owner": "alice", "due_date": "2999-01-01"},
    ],
}


async def closed_with_review(api: Api) -> int:
    declared = await api.post(
        "/api/v1/incidents", "alice", {"title": "Disk full", "impact": 2, "urgency": 2}
    )
    assert declared.status_code == 201, declared.text
    url = f"/api/v1/incidents/{declared.json()['id']}"
    for path, who, body in (
        ("acknowledge", "alice", None),
        ("resolve", "alice", {"summary": "Freed space", "root_cause_category": "capacity"}),
        ("review", "alice", REVIEW),
        ("review/approve", "olive", None),
    ):
        response = await api.post(f"{url}/{path}", who, body)
        assert response.status_code == 200, f"{path}: {response.text}"
    number: int = declared.json()["id"]
    return number


async def listed(api: Api, **params: object) -> dict[str, Any]:
    for _ in range(100):  # the read model follows the workflow within moments
        page: dict[str, Any] = (await api.get(ITEMS, "vic", **params)).json()
        if page["total"]:
            return page
        await asyncio.sleep(0.05)
    raise AssertionError("no action items in the read model")


class TestActionItems:
    async def test_an_approved_reviews_items_tracked_to_done(self, api: Api) -> None:
        incident = await closed_with_review(api)

        overdue = await listed(api, overdue="true")
        [late] = overdue["items"]
        assert (late["incident_id"], late["owner"], late["overdue"]) == (incident, "bob", True)
        by_owner = (await api.get("/api/v1/reports/action-items", "vic")).json()
        assert by_owner == [
            {"owner": "alice", "open": 1, "overdue": 0, "done": 0, "dropped": 0},
            {"owner": "bob", "open": 1, "overdue": 1, "done": 0, "dropped": 0},
        ]

        item = f"{ITEMS}/{late['id']}"
        refused = await api.http.patch(item, headers=api.auth("vic"), json={"state": "done"})
        done = await api.http.patch(
            item, headers=api.auth("bob"), json={"state": "done", "note": "logrotate daily"}
        )

        problem(refused, 403)
        assert done.status_code == 200, done.text
        assert (done.json()["state"], done.json()["overdue"]) == ("done", False)
        assert done.json()["updated_by"] == "bob"
        shown = (await api.get(item, "vic")).json()
        assert (shown["state"], shown["note"]) == ("done", "logrotate daily")
        assert (await listed(api, state="done"))["total"] == 1
        exported = rows(await api.get(ITEMS, "vic", format="csv"))
        assert [(r["owner"], r["state"]) for r in exported] == [("bob", "done"), ("alice", "open")]

    async def test_bad_changes_are_refused_and_change_nothing(self, api: Api) -> None:
        await closed_with_review(api)
        [item] = (await listed(api, owner="alice"))["items"]
        url = f"{ITEMS}/{item['id']}"

        async def patch(body: object) -> httpx.Response:
            return await api.http.patch(url, headers=api.auth("alice"), json=body)

        null_state = problem(await patch({"state": None}), 422)
        problem(await patch({"state": "finished"}), 422)
        problem(await patch({"colour": "red"}), 422)
        problem(await api.http.patch(f"{ITEMS}/999999", headers=api.auth("ada"), json={}), 404)

        assert "state cannot be null" in null_state["detail"]
        after = (await api.get(url, "vic")).json()
        assert after == item

    async def test_a_new_due_date_and_owner(self, api: Api) -> None:
        await closed_with_review(api)
        [item] = (await listed(api, owner="bob"))["items"]

        moved = await api.http.patch(
            f"{ITEMS}/{item['id']}",
            headers=api.auth("carol"),
            json={"due_date": (date.today() + 7 * DAY).isoformat(), "owner": "alice"},
        )

        assert moved.status_code == 200, moved.text
        assert (moved.json()["owner"], moved.json()["overdue"]) == ("alice", False)
        assert (await api.get(ITEMS, "vic", overdue="true")).json()["total"] == 0
