"""A responder's walk through one incident over HTTP, and every way a step is refused."""

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete
from temporalio.testing import WorkflowEnvironment

from domain.incident import Incident
from domain.timeline import EventKind
from store.db import Database
from store.incidents import IncidentRepository, hand_out_numbers_from
from store.tables import IncidentRow, TimelineEventRow
from tests.api.conftest import PLAIN, Api, serve
from tests.temporal_fixtures import RunWorker

INCIDENTS = "/api/v1/incidents"
DECLARE = {
    "title": "Checkout returns 500",
    "description": "Payments fail for EU customers",
    "impact": 1,
    "urgency": 2,
    "service": "checkout",
    "category": "application",
}
REVIEW = {
    "root_cause": "A config push removed the payment provider's key",
    "contributing_factors": ["no canary for config pushes"],
    "what_went_well": "Rollback took 3 minutes",
    "timeline_summary": "09:00 alert, 09:05 ack, 09:20 rollback",
    "action_items": [
        {
            "description": "Canary config pushes",
            "owner": "alice",
            "due_date": (date.today() + timedelta(days=14)).isoformat(),
        }
    ],
}


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def _count_queries(api: Api, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The incidents the API asks their workflows for from now on."""
    gateway = api.transport.app.state.services.gateway  # type: ignore[attr-defined]
    asked: list[int] = []
    ask = gateway.current

    async def current(incident_id: int) -> Incident | None:
        asked.append(incident_id)
        found: Incident | None = await ask(incident_id)
        return found

    monkeypatch.setattr(gateway, "current", current)
    return asked


async def _declare(api: Api, **changes: object) -> dict[str, Any]:
    response = await api.post(INCIDENTS, "alice", DECLARE | changes)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["location"] == f"{INCIDENTS}/{body['id']}"
    return body


class TestWholeIncident:
    async def test_declare_triage_acknowledge_hold_resolve_review_approve(self, api: Api) -> None:
        incident = await _declare(api)
        assert incident["state"] == "detected"
        assert incident["priority"] == "P2"
        assert "acknowledge" in incident["allowed_steps"]
        url = f"{INCIDENTS}/{incident['id']}"

        steps: list[tuple[str, str, object, str]] = [
            (
                "triage",
                "alice",
                {"impact": 1, "urgency": 1, "category": "application", "service": "checkout"},
                "triaged",
            ),
            ("acknowledge", "alice", None, "acknowledged"),
            (
                "assign",
                "carol",
                {"commander": "carol", "responders": ["alice", "bob"]},
                "acknowledged",
            ),
            ("note", "bob", {"text": "EU traffic only"}, "acknowledged"),
            ("hold", "alice", {"reason": "waiting for the provider"}, "on_hold"),
            ("resume", "alice", None, "acknowledged"),
            (
                "resolve",
                "alice",
                {"summary": "Rolled back the config", "root_cause_category": "configuration"},
                "resolved",
            ),
            ("review", "alice", REVIEW, "in_review"),
            ("review/approve", "carol", {"comment": "good review"}, "closed"),
        ]
        for path, who, body, state in steps:
            response = await api.post(f"{url}/{path}", who, body)
            assert response.status_code == 200, f"{path}: {response.text}"
            assert response.json()["state"] == state, path

        shown = (await api.get(url, "vic")).json()
        assert shown["state"] == "closed"
        assert shown["priority"] == "P1"
        assert shown["commander"] == "carol"
        assert shown["responders"] == ["alice", "bob"]
        assert shown["review"]["approved_by"] == "carol"
        assert shown["allowed_steps"] == []
        assert [(e["kind"], e["actor"]) for e in shown["timeline"]] == [
            ("declared", "alice"),
            ("triaged", "alice"),
            ("acknowledged", "alice"),
            ("assigned", "carol"),
            ("note_added", "bob"),
            ("put_on_hold", "alice"),
            ("resumed", "alice"),
            ("resolved", "alice"),
            ("review_submitted", "alice"),
            ("review_approved", "carol"),
        ]

    async def test_get_shows_the_state_as_answered_and_the_callers_allowed_steps(
        self, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An open incident is read from the read model, which each step is written to
        before it is answered: no query goes to its workflow (a query on a workflow its
        worker no longer holds made Temporal's SDK run a waiting timer at a stale time,
        leaving a history that does not replay)."""
        incident = await _declare(api)
        url = f"{INCIDENTS}/{incident['id']}"
        await api.post(f"{url}/acknowledge", "alice")
        asked = _count_queries(api, monkeypatch)
        as_alice = (await api.get(url, "alice")).json()
        as_vic = (await api.get(url, "vic")).json()
        assert as_alice["state"] == "acknowledged"
        assert "resolve" in as_alice["allowed_steps"]
        assert as_vic["allowed_steps"] == []
        assert asked == []

    async def test_an_incident_not_in_the_read_model_yet_is_read_from_its_workflow(
        self, api: Api, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        incident = await _declare(api)
        await api.post(f"{INCIDENTS}/{incident['id']}/acknowledge", "alice")
        async with api.database.session() as session, session.begin():
            await session.execute(delete(TimelineEventRow))
            await session.execute(delete(IncidentRow))
        asked = _count_queries(api, monkeypatch)
        shown = await api.get(f"{INCIDENTS}/{incident['id']}", "vic")
        assert shown.status_code == 200, shown.text
        assert shown.json()["state"] == "acknowledged"
        assert asked == [incident["id"]]


class TestList:
    async def test_lists_filter_by_state_priority_service_and_text_newest_first(
        self, api: Api
    ) -> None:
        first = await _declare(api, title="Disk full on db-1", service="db", impact=3)
        second = await _declare(api, title="VPN flapping", service="network", urgency=1)
        await api.post(f"{INCIDENTS}/{second['id']}/acknowledge", "alice")

        async def ids(**params: object) -> list[int]:
            for _ in range(100):  # the read model follows the workflow within moments
                page = (await api.get(INCIDENTS, "vic", **params)).json()
                found = [item["id"] for item in page["items"]]
                if second["id"] in found or first["id"] in found:
                    return found
            return found

        assert await ids() == [second["id"], first["id"]]
        assert await ids(service="db") == [first["id"]]
        assert await ids(q="vpn") == [second["id"]]
        assert await ids(priority="P4") == [first["id"]]
        page = (await api.get(INCIDENTS, "vic", limit=1)).json()
        assert page["total"] == 2 and len(page["items"]) == 1

    async def test_a_declaration_and_a_step_are_listed_as_they_are_answered(self, api: Api) -> None:
        """The API writes the incidents it declares and the steps it takes to the read
        model before it answers; the incident's workflow writes them again only
        step_batch_seconds (5) later."""
        declared = await _declare(api, title="Queue backlog", service="queue")
        page = (await api.get(INCIDENTS, "vic", state="detected")).json()
        assert [item["id"] for item in page["items"]] == [declared["id"]]
        acknowledged = await api.post(f"{INCIDENTS}/{declared['id']}/acknowledge", "alice")
        assert acknowledged.status_code == 200

        page = (await api.get(INCIDENTS, "vic", state="acknowledged")).json()
        assert [item["id"] for item in page["items"]] == [declared["id"]]
        async with api.database.session() as session:
            stored = await IncidentRepository(session).get(declared["id"])
        assert stored is not None
        assert [event.kind for event in stored.timeline][-1] is EventKind.ACKNOWLEDGED


Restore = Callable[[int], AbstractAsyncContextManager[Api]]


class TestNumbers:
    @pytest.fixture
    def restore(
        self, time_skipping: WorkflowEnvironment, run_worker: RunWorker, tmp_path: Path
    ) -> Restore:
        """`restore(first)`: the API on a read model restored from an older backup, on the
        same Temporal, handing out incident numbers again from `first`."""

        @asynccontextmanager
        async def restored(first: int) -> AsyncIterator[Api]:
            database = Database(f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}")
            await database.migrate()
            await hand_out_numbers_from(database, first)
            try:
                async with serve(time_skipping, database, run_worker, tmp_path, PLAIN) as api:
                    yield api
            finally:
                await database.dispose()

        return restored

    async def test_a_read_model_restored_from_an_older_backup_skips_numbers_temporal_holds(
        self, api: Api, restore: Restore
    ) -> None:
        closed = await _declare(api, title="Closed before the restore")
        url = f"{INCIDENTS}/{closed['id']}"
        await api.post(f"{url}/acknowledge", "alice")
        await api.post(
            f"{url}/resolve", "alice", {"summary": "ok", "root_cause_category": "change"}
        )
        await api.post(f"{url}/review", "alice", REVIEW)
        assert (await api.post(f"{url}/review/approve", "olive")).status_code == 200
        running = await _declare(api, title="Open at the restore")

        # A backup taken before either was declared: it hands out their numbers again.
        async with restore(closed["id"]) as after:
            declared = await _declare(after, title="Declared after the restore")
            assert declared["id"] == running["id"] + 1
            # Its workflow's latest run is still the closed incident, as it was.
            shown = (await after.get(f"{INCIDENTS}/{closed['id']}", "alice")).json()
            assert (shown["title"], shown["state"]) == ("Closed before the restore", "closed")

    async def test_many_taken_numbers_are_skipped_in_one_declaration(
        self, api: Api, restore: Restore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        before = [await _declare(api, title=f"Before the restore {n}") for n in range(12)]
        # One collision moves the numbering past the twelve at once.
        monkeypatch.setattr("api.routes.incidents._MAX_NUMBER_COLLISIONS", 2)
        async with restore(before[0]["id"]) as after:
            declared = await _declare(after)
            assert declared["id"] == before[-1]["id"] + 1
            assert (await _declare(after))["id"] == declared["id"] + 1

    async def test_a_declaration_meeting_too_many_taken_numbers_is_503_and_the_next_goes_on(
        self, api: Api, restore: Restore, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        before = [await _declare(api, title=f"Before the restore {n}") for n in range(3)]
        first = before[0]["id"]
        monkeypatch.setattr("api.routes.incidents._MAX_NUMBER_COLLISIONS", 1)
        async with restore(first) as after:
            refused = await after.post(INCIDENTS, "alice", DECLARE)
            body = _problem(refused, 503)
            assert body["detail"].startswith(
                f"Incident number {first} names an incident in Temporal already"
            )
            assert refused.headers["retry-after"] == "1"
            declared = await _declare(after)
            assert declared["id"] == before[-1]["id"] + 1
            listed = (await after.get(INCIDENTS, "alice")).json()
            assert [item["id"] for item in listed["items"]] == [declared["id"]]


class TestRefusals:
    async def test_without_or_with_an_unknown_token_is_401(self, api: Api) -> None:
        missing = await api.http.get(INCIDENTS)
        assert _problem(missing, 401)
        assert missing.headers["www-authenticate"] == "Bearer"
        wrong = await api.http.get(INCIDENTS, headers={"Authorization": "Bearer vagt_nope"})
        _problem(wrong, 401)

    async def test_a_viewer_cannot_declare_or_act(self, api: Api) -> None:
        _problem(await api.post(INCIDENTS, "vic", DECLARE), 403)
        incident = await _declare(api)
        body = _problem(await api.post(f"{INCIDENTS}/{incident['id']}/acknowledge", "vic"), 403)
        assert "vic may not acknowledge" in body["detail"]

    async def test_unknown_incident_is_404(self, api: Api) -> None:
        _problem(await api.get(f"{INCIDENTS}/999999", "alice"), 404)
        _problem(await api.post(f"{INCIDENTS}/999999/acknowledge", "alice"), 404)

    async def test_numbers_past_the_read_models_integers_are_422_not_500(self, api: Api) -> None:
        huge = 2**63
        body = _problem(await api.get(INCIDENTS, "alice", offset=huge), 422)
        assert [error["field"] for error in body["errors"]] == ["query.offset"]
        body = _problem(await api.get(f"{INCIDENTS}/{huge}", "alice"), 422)
        assert [error["field"] for error in body["errors"]] == ["path.incident_id"]
        _problem(await api.post(f"{INCIDENTS}/{2**31}/acknowledge", "alice"), 422)

    async def test_a_method_the_path_does_not_take_is_405_naming_all_it_takes(
        self, api: Api
    ) -> None:
        response = await api.http.delete(INCIDENTS, headers=api.auth("alice"))

        _problem(response, 405)
        assert response.headers["allow"] == "GET, POST"

    async def test_a_step_not_possible_now_is_409_with_the_reason(self, api: Api) -> None:
        incident = await _declare(api)
        url = f"{INCIDENTS}/{incident['id']}"
        body = _problem(await api.post(f"{url}/resume", "alice"), 409)
        assert "cannot resume an incident that is detected" in body["detail"]

    async def test_a_closed_incident_takes_no_more_steps(self, api: Api) -> None:
        incident = await _declare(api)
        url = f"{INCIDENTS}/{incident['id']}"
        await api.post(f"{url}/acknowledge", "alice")
        await api.post(
            f"{url}/resolve",
            "alice",
            {"summary": "ok", "root_cause_category": "change"},
        )
        await api.post(f"{url}/review", "alice", REVIEW)
        assert (await api.post(f"{url}/review/approve", "olive")).status_code == 200
        body = _problem(await api.post(f"{url}/acknowledge", "alice"), 409)
        assert "closed" in body["detail"]

    async def test_approving_ones_own_review_is_403(self, api: Api) -> None:
        incident = await _declare(api)
        url = f"{INCIDENTS}/{incident['id']}"
        await api.post(f"{url}/assign", "carol", {"commander": "carol"})
        await api.post(f"{url}/acknowledge", "carol")
        await api.post(
            f"{url}/resolve", "carol", {"summary": "ok", "root_cause_category": "change"}
        )
        await api.post(f"{url}/review", "carol", REVIEW)
        body = _problem(await api.post(f"{url}/review/approve", "carol"), 403)
        assert "carol wrote this review" in body["detail"]
        _problem(await api.post(f"{url}/review/approve", "bob"), 403)

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"impact": 1, "urgency": 1}, "title"),
            (DECLARE | {"impact": 4}, "impact"),
            (DECLARE | {"severity": "high"}, "severity"),
        ],
    )
    async def test_bad_fields_are_422_naming_each_field(
        self, api: Api, body: dict[str, object], field: str
    ) -> None:
        problem = _problem(await api.post(INCIDENTS, "alice", body), 422)
        assert field in [error["field"] for error in problem["errors"]]
        assert field in problem["detail"]

    async def test_resolving_without_root_cause_is_422(self, api: Api) -> None:
        incident = await _declare(api)
        url = f"{INCIDENTS}/{incident['id']}"
        await api.post(f"{url}/acknowledge", "alice")
        missing = _problem(await api.post(f"{url}/resolve", "alice", {"summary": "ok"}), 422)
        assert [e["field"] for e in missing["errors"]] == ["root_cause_category"]
        unknown = _problem(
            await api.post(
                f"{url}/resolve", "alice", {"summary": "ok", "root_cause_category": "gremlins"}
            ),
            422,
        )
        assert "gremlins" in unknown["detail"]
        state = (await api.get(url, "alice")).json()["state"]
        assert state == "acknowledged", "a refused step changed the incident"

    async def test_unknown_category_refused_before_an_incident_is_made(self, api: Api) -> None:
        _problem(await api.post(INCIDENTS, "alice", DECLARE | {"category": "weather"}), 422)
        page = (await api.get(INCIDENTS, "alice")).json()
        assert page["total"] == 0

    async def test_assigning_an_unknown_user_is_422(self, api: Api) -> None:
        incident = await _declare(api)
        body = _problem(
            await api.post(f"{INCIDENTS}/{incident['id']}/assign", "carol", {"commander": "zed"}),
            422,
        )
        assert "zed" in body["detail"]

    async def test_malformed_json_is_400(self, api: Api) -> None:
        response = await api.http.post(
            INCIDENTS,
            content=b"{not json",
            headers=api.auth("alice") | {"content-type": "application/json"},
        )
        _problem(response, 400)
