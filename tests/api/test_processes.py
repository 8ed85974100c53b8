"""Process versions through the API: drafts, publishing, refusals and diffs."""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from domain.process import ProcessDocument
from domain.sla import SlaPolicy
from store.db import Database
from tests.api.conftest import Api, serve
from tests.temporal_fixtures import RunWorker

VERSIONS = "/api/v1/processes/ops/versions"

OPS: dict[str, Any] = {
    "sla": {"targets": {"P1": {"acknowledge": "15m", "resolve": "4h"}}},
    "escalation_policies": {"page": {"levels": [{"targets": [{"user": "alice"}], "delay": "10m"}]}},
    "escalation": {"P1": ["page"]},
    "people": {"alice": {"notify": [{"channel": "log"}]}},
}


@pytest.fixture
async def api(
    time_skipping: WorkflowEnvironment, database: Database, run_worker: RunWorker, tmp_path: Path
) -> AsyncIterator[Api]:
    # The workers' process file configures one channel, `log`; versions may name it.
    process = ProcessDocument.model_validate(
        {"channels": {"log": {"type": "webhook", "url": "http://127.0.0.1:9/"}}}
    )
    process.sla = SlaPolicy(targets={})
    async with serve(time_skipping, database, run_worker, tmp_path, process) as running:
        yield running


async def put(api: Api, path: str, who: str, json: object) -> httpx.Response:
    return await api.http.put(path, headers=api.auth(who), json=json)


def _with(**changes: Any) -> dict[str, Any]:
    return {**OPS, **changes}


class TestDrafts:
    async def test_an_owner_drafts_edits_and_publishes_and_then_it_is_frozen(
        self, api: Api
    ) -> None:
        created = await api.post(VERSIONS, "olive", json=OPS)
        assert created.status_code == 201, created.text
        draft = created.json()
        assert (draft["name"], draft["version"], draft["state"]) == ("ops", 1, "draft")
        assert draft["current"] is False
        assert draft["definition"]["name"] == "ops"
        assert draft["created_by"] == "olive"

        faster = _with(sla={"targets": {"P1": {"acknowledge": "10m", "resolve": "4h"}}})
        edited = await put(api, f"{VERSIONS}/1", "olive", faster)
        assert edited.status_code == 200, edited.text
        assert edited.json()["definition"]["sla"]["targets"]["P1"]["acknowledge"] == "10m"

        published = await api.post(f"{VERSIONS}/1/publish", "ada")
        assert published.status_code == 200, published.text
        shown = published.json()
        assert (shown["state"], shown["current"], shown["published_by"]) == (
            "published",
            True,
            "ada",
        )

        again = await put(api, f"{VERSIONS}/1", "olive", OPS)
        assert again.status_code == 409
        assert again.json()["type"] == "urn:vagt:problem:version-published"
        assert (await api.post(f"{VERSIONS}/1/publish", "olive")).status_code == 409
        kept = (await api.get(f"{VERSIONS}/1", "alice")).json()
        assert kept["definition"]["sla"]["targets"]["P1"]["acknowledge"] == "10m"

    async def test_versions_are_numbered_in_order_and_the_last_published_is_current(
        self, api: Api
    ) -> None:
        for _ in range(3):
            assert (await api.post(VERSIONS, "olive", json=OPS)).status_code == 201
        assert (await api.post(f"{VERSIONS}/2/publish", "olive")).status_code == 200
        assert (await api.post(f"{VERSIONS}/1/publish", "olive")).status_code == 200

        listed = (await api.get(VERSIONS, "vic")).json()
        assert [(v["version"], v["state"], v["current"]) for v in listed] == [
            (1, "published", True),  # published after 2
            (2, "published", False),
            (3, "draft", False),
        ]
        processes = (await api.get("/api/v1/processes", "vic")).json()
        assert processes == [
            # The process file's, published at start.
            {"name": "default", "current_version": 1, "latest_version": 1, "versions": 1},
            {"name": "ops", "current_version": 1, "latest_version": 3, "versions": 3},
        ]

    async def test_drafts_created_at_once_each_get_their_own_number(self, api: Api) -> None:
        answers = await asyncio.gather(*(api.post(VERSIONS, "olive", json=OPS) for _ in range(3)))

        assert [answer.status_code for answer in answers] == [201, 201, 201]
        assert sorted(answer.json()["version"] for answer in answers) == [1, 2, 3]


class TestRefusals:
    async def test_an_invalid_definition_is_refused_with_every_problem_at_its_path(
        self, api: Api
    ) -> None:
        broken = _with(
            escalation={"P1": ["page", "nightly"]},
            sla={"targets": {"P1": {"resolve": "4h", "calendar": "office"}}},
            sla_notify=[{"user": "carol"}],
            categories=[],
        )

        refused = await api.post(VERSIONS, "olive", json=broken)

        assert refused.status_code == 422
        body = refused.json()
        assert body["type"] == "urn:vagt:problem:invalid-request"
        assert {(e["field"], e["message"]) for e in body["errors"]} == {
            ("categories", "a process needs at least one category"),
            ("sla.targets.P1.calendar", "unknown 'office'"),
            ("escalation.P1", "unknown escalation policy 'nightly'"),
            ("sla_notify", "'carol' has no entry under people"),
        }
        # Nothing was stored.
        assert (await api.get(VERSIONS, "olive")).status_code == 404

    async def test_fields_of_the_wrong_type_are_each_named(self, api: Api) -> None:
        broken = _with(
            sla={"targets": {"P1": {"acknowledge": "soon"}}},
            notification_retry={"max_attempts": 0},
        )

        refused = await api.post(VERSIONS, "olive", json=broken)

        assert refused.status_code == 422
        fields = {e["field"] for e in refused.json()["errors"]}
        assert fields == {"sla.targets.P1.acknowledge", "notification_retry.max_attempts"}

    async def test_name_version_and_channels_must_fit(self, api: Api) -> None:
        refused = await api.post(
            VERSIONS,
            "olive",
            json=_with(
                name="other",
                version=7,
                people={"alice": {"notify": [{"channel": "pagerduty"}]}},
            ),
        )

        assert refused.status_code == 422
        assert {e["field"] for e in refused.json()["errors"]} == {"name", "version", "channels"}
        # The same body with its name and the draft's number fits an edit.
        assert (await api.post(VERSIONS, "olive", json=OPS)).status_code == 201
        same = await put(api, f"{VERSIONS}/1", "olive", _with(name="ops", version=1))
        assert same.status_code == 200

    async def test_responders_read_but_only_owners_and_admins_change(self, api: Api) -> None:
        assert (await api.post(VERSIONS, "alice", json=OPS)).status_code == 403
        assert (await api.post(VERSIONS, "carol", json=OPS)).status_code == 403
        assert (await api.post(VERSIONS, "olive", json=OPS)).status_code == 201
        assert (await put(api, f"{VERSIONS}/1", "alice", OPS)).status_code == 403
        assert (await api.post(f"{VERSIONS}/1/publish", "alice")).status_code == 403

        assert (await api.get(f"{VERSIONS}/1", "alice")).status_code == 200
        assert (await api.get(VERSIONS, "alice")).status_code == 200

    async def test_unknown_processes_and_versions_are_404(self, api: Api) -> None:
        assert (await api.get("/api/v1/processes/nope/versions", "alice")).status_code == 404
        assert (await api.post(VERSIONS, "olive", json=OPS)).status_code == 201
        assert (await api.get(f"{VERSIONS}/2", "alice")).status_code == 404
        assert (await put(api, f"{VERSIONS}/2", "olive", OPS)).status_code == 404
        assert (await api.post(f"{VERSIONS}/2/publish", "olive")).status_code == 404
        missing = await api.get("/api/v1/processes/ops/diff", "alice", **{"from": 1, "to": 2})
        assert missing.status_code == 404


class TestDiff:
    async def test_each_changed_setting_is_one_line(self, api: Api) -> None:
        assert (await api.post(VERSIONS, "olive", json=OPS)).status_code == 201
        changed = _with(
            sla={"targets": {"P1": {"acknowledge": "5m", "resolve": "4h"}}},
            escalation_policies={
                "page": {
                    "levels": [
                        {"targets": [{"user": "alice"}], "delay": "5m"},
                        {"targets": [{"user": "alice"}], "delay": "15m"},
                    ]
                }
            },
            categories=["application", "database", "dns"],
        )
        assert (await api.post(VERSIONS, "olive", json=changed)).status_code == 201

        answer = await api.get("/api/v1/processes/ops/diff", "vic", **{"from": 1, "to": 2})

        assert answer.status_code == 200
        lines = [change["description"] for change in answer.json()["changes"]]
        assert lines == [
            'categories: added "dns"; removed "network", "infrastructure", "security", '
            '"access", "capacity", "third_party", "other"',
            'escalation_policies.page.levels.0.delay: "10m" -> "5m"',
            'escalation_policies.page.levels.1: added {"targets": [{"user": "alice"}], '
            '"delay": "15m"}',
            'sla.targets.P1.acknowledge: "15m" -> "5m"',
        ]
        acknowledge = answer.json()["changes"][-1]
        assert (acknowledge["path"], acknowledge["kind"]) == (
            "sla.targets.P1.acknowledge",
            "changed",
        )
        assert (acknowledge["before"], acknowledge["after"]) == ("15m", "5m")


class TestCurrentVersion:
    async def test_the_process_file_is_published_at_start(self, api: Api) -> None:
        [version] = (await api.get("/api/v1/processes/default/versions", "vic")).json()

        assert (version["version"], version["state"], version["current"]) == (1, "published", True)
        assert version["created_by"] == "process-file"

    async def test_new_incidents_take_the_version_published_last_and_running_ones_keep_theirs(
        self, api: Api
    ) -> None:
        declaration = {"title": "Checkout down", "impact": 1, "urgency": 1}
        before = await api.post("/api/v1/incidents", "alice", json=declaration)
        assert before.status_code == 201, before.text
        assert before.json()["process"] == {"name": "default", "version": 1}
        assert before.json()["clocks"] == []  # version 1 sets no targets

        targets = {"sla": {"targets": {"P1": {"acknowledge": "15m", "resolve": "4h"}}}}
        defaults = "/api/v1/processes/default/versions"
        assert (await api.post(defaults, "olive", json=targets)).status_code == 201
        assert (await api.post(f"{defaults}/2/publish", "olive")).status_code == 200

        after = await api.post("/api/v1/incidents", "alice", json=declaration)
        assert after.status_code == 201, after.text
        assert after.json()["process"] == {"name": "default", "version": 2}
        assert {clock["name"] for clock in after.json()["clocks"]} == {"acknowledge", "resolve"}
        kept = (await api.get(f"/api/v1/incidents/{before.json()['id']}", "alice")).json()
        assert kept["process"] == {"name": "default", "version": 1}
        assert kept["clocks"] == []


@pytest.fixture
async def timed_api(
    own_time_skipping: WorkflowEnvironment,
    database: Database,
    run_worker: RunWorker,
    tmp_path: Path,
) -> AsyncIterator[Api]:
    """The API on a time-skipping server of its own, so the test can move time on."""
    process = ProcessDocument(sla=SlaPolicy(targets={}))
    async with serve(own_time_skipping, database, run_worker, tmp_path, process) as running:
        yield running


def _acknowledge_clock(incident: dict[str, Any]) -> dict[str, Any]:
    clock: dict[str, Any] = next(c for c in incident["clocks"] if c["name"] == "acknowledge")
    return clock


class TestMigrate:
    async def test_a_migrated_incident_takes_the_new_targets_and_keeps_its_time(
        self, timed_api: Api, own_time_skipping: WorkflowEnvironment
    ) -> None:
        api, defaults = timed_api, "/api/v1/processes/default/versions"
        for acknowledge in ("30m", "10m"):  # versions 2 and 3
            body = {"sla": {"warn_at": [], "targets": {"P1": {"acknowledge": acknowledge}}}}
            created = (await api.post(defaults, "olive", json=body)).json()
            if acknowledge == "30m":
                await api.post(f"{defaults}/{created['version']}/publish", "olive")
        declaration = {"title": "Checkout down", "impact": 1, "urgency": 1}
        kept = (await api.post("/api/v1/incidents", "alice", json=declaration)).json()
        moved = (await api.post("/api/v1/incidents", "alice", json=declaration)).json()
        assert moved["process"] == {"name": "default", "version": 2}

        await own_time_skipping.sleep(timedelta(minutes=5))
        url = f"/api/v1/incidents/{moved['id']}/migrate"
        assert (await api.post(url, "olive", json={"version": 3})).status_code == 422  # a draft
        assert (await api.post(f"{defaults}/3/publish", "olive")).status_code == 200
        assert (await api.post(url, "alice", json={"version": 3})).status_code == 403
        assert (await api.post(url, "olive", json={"version": 9})).status_code == 422
        answer = await api.post(url, "olive", json={"version": 3})

        assert answer.status_code == 200, answer.text
        migrated = answer.json()
        assert migrated["process"] == {"name": "default", "version": 3}
        assert _acknowledge_clock(migrated)["target_seconds"] == 600
        event = migrated["timeline"][-1]
        assert (event["kind"], event["actor"]) == ("process_migrated", "olive")
        assert (event["details"]["from_version"], event["details"]["to_version"]) == (2, 3)
        again = await api.post(url, "olive", json={"version": 3})
        assert again.status_code == 422
        assert "already runs on version 3" in again.json()["detail"]

        # Ten minutes counted from the declaration, not from the move: five more breach it.
        await own_time_skipping.sleep(timedelta(minutes=6))
        shown = await _until_breached(api, moved["id"])
        assert _acknowledge_clock(shown)["state"] == "breached"
        left = (await api.get(f"/api/v1/incidents/{kept['id']}", "alice")).json()
        assert left["process"] == {"name": "default", "version": 2}
        assert _acknowledge_clock(left)["state"] == "running"
        assert _acknowledge_clock(left)["target_seconds"] == 1800


async def _until_breached(api: Api, incident_id: int) -> dict[str, Any]:
    shown: dict[str, Any] = {}
    for _ in range(100):
        shown = (await api.get(f"/api/v1/incidents/{incident_id}", "alice")).json()
        if any(event["kind"] == "sla_breached" for event in shown["timeline"]):
            break
        await asyncio.sleep(0.05)
    return shown


class TestMigrateOpen:
    async def test_every_open_incident_that_fits_moves_and_the_rest_say_why(self, api: Api) -> None:
        defaults = "/api/v1/processes/default/versions"
        assert (await api.post(defaults, "olive", json={})).status_code == 201
        assert (await api.post(f"{defaults}/2/publish", "olive")).status_code == 200
        declared = []
        for category in ("database", None, None):
            body = {"title": "Checkout down", "impact": 2, "urgency": 2, "category": category}
            answer = await api.post("/api/v1/incidents", "alice", json=body)
            assert answer.json()["process"]["version"] == 2
            declared.append(answer.json()["id"])
        # Moving works through the desk (the read model), which lists an incident once
        # its workflow has written it there: a moment after the declaration's answer.
        for _ in range(200):
            listed = (await api.get("/api/v1/incidents", "alice")).json()["items"]
            if {item["id"] for item in listed} >= set(declared):
                break
            await asyncio.sleep(0.05)
        narrower = {"categories": ["application", "network"]}
        assert (await api.post(defaults, "olive", json=narrower)).status_code == 201
        assert (await api.post(f"{defaults}/3/publish", "olive")).status_code == 200
        url = f"{defaults}/2/migrate-open"

        assert (await api.post(url, "alice", json={"to_version": 3})).status_code == 403
        assert (await api.post(url, "olive", json={"to_version": 2})).status_code == 422
        assert (await api.post(url, "olive", json={"to_version": 9})).status_code == 422
        missing = await api.post(f"{defaults}/9/migrate-open", "olive", json={"to_version": 3})
        assert missing.status_code == 404
        answer = await api.post(url, "olive", json={"to_version": 3})

        assert answer.status_code == 200, answer.text
        result = answer.json()
        assert result["moved"] == declared[1:]
        [refusal] = result["refused"]
        assert (refusal["incident_id"], refusal["status"]) == (declared[0], 422)
        assert "unknown category 'database'" in refusal["detail"]
        assert result["remaining"] == 1
        for number, version in zip(declared, (2, 3, 3), strict=True):
            shown = (await api.get(f"/api/v1/incidents/{number}", "alice")).json()
            assert shown["process"]["version"] == version
        # Nothing more to move: the refused one stays until it is triaged to fit.
        again = (await api.post(url, "olive", json={"to_version": 3})).json()
        assert (again["moved"], again["remaining"]) == ([], 1)


class TestSchedulesOfTheCurrentVersion:
    async def test_schedules_come_from_the_version_published_last(self, api: Api) -> None:
        assert (await api.get("/api/v1/schedules", "vic")).json() == []
        rotation = {"members": ["alice", "bob"], "length": "1w", "handoff": "2026-01-05T09:00"}
        body = {"schedules": {"db": {"name": "db", "rotations": [rotation]}}}
        defaults = "/api/v1/processes/default/versions"
        assert (await api.post(defaults, "olive", json=body)).status_code == 201
        assert (await api.get("/api/v1/schedules", "vic")).json() == []  # a draft: not yet

        assert (await api.post(f"{defaults}/2/publish", "olive")).status_code == 200

        listed = (await api.get("/api/v1/schedules", "vic")).json()
        assert [schedule["name"] for schedule in listed] == ["db"]
        on_call = await api.get("/api/v1/schedules/db/oncall", "vic", at="2026-01-13T12:00:00Z")
        assert on_call.json()["user"] == "bob"
