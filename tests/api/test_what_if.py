"""What-if through the API: asked by a process owner, worked by the real worker, read back."""

from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment

from domain.what_if import Happening, Totals
from tests.api.conftest import Api
from tests.domain.builders import T0
from tests.temporal_fixtures import Receiver
from tests.what_if_cases import (
    HOUR,
    RECORDED_TOTALS,
    SIMULATED_TOTALS,
    SLOW_P2_RECORDED,
    SLOW_P2_SIMULATED,
)
from workflows.contracts import what_if_workflow_id

VERSIONS = "/api/v1/processes/ops/versions"
FIRST_HOURS = {
    "declared_from": T0.isoformat(),
    "declared_to": (T0 + 3 * HOUR).isoformat(),
}


@pytest.fixture
def api(ops_api: Api) -> Api:
    """`ops` versions 1 (published) and 2 (a draft), and incidents 7 to 10 on version 1."""
    return ops_api


async def finished(env: WorkflowEnvironment, run: dict[str, Any]) -> None:
    await env.client.get_workflow_handle(what_if_workflow_id(run["id"])).result()


async def test_an_owner_asks_what_a_draft_would_have_done_and_reads_every_difference(
    api: Api, time_skipping: WorkflowEnvironment, receiver: Receiver
) -> None:
    asked = await api.post(f"{VERSIONS}/2/what-if", "olive", json=FIRST_HOURS)

    assert asked.status_code == 202, asked.text
    run = asked.json()
    assert (run["status"], run["total"], run["requested_by"]) == ("running", 3, "olive")
    assert run["definition"]["version"] == 2
    assert asked.headers["Location"] == f"{VERSIONS}/2/what-if/{run['id']}"

    await finished(time_skipping, run)

    done = (await api.get(asked.headers["Location"], "vic")).json()
    assert (done["status"], done["examined"], done["error"]) == ("completed", 3, None)
    assert done["finished_at"] is not None
    totals = Totals.model_validate(done["totals"])
    assert (totals.incidents, totals.changed, totals.with_skipped_steps) == (3, 1, 1)
    assert totals.recorded == RECORDED_TOTALS
    assert totals.simulated == SIMULATED_TOTALS

    changed = (await api.get(done["incidents"], "vic", changed="true")).json()
    assert changed["total"] == 1
    [slow] = changed["items"]
    assert slow["incident_id"] == 7
    assert [Happening.model_validate(h) for h in slow["recorded"]] == SLOW_P2_RECORDED
    assert [Happening.model_validate(h) for h in slow["simulated"]] == SLOW_P2_SIMULATED
    assert len(slow["skipped"]) == 2  # the one-item review and its approval
    every = (await api.get(done["incidents"], "vic", limit=2)).json()
    assert ([item["incident_id"] for item in every["items"]], every["total"]) == ([7, 8], 3)

    listed = (await api.get(f"{VERSIONS}/2/what-if", "alice")).json()
    assert [item["id"] for item in listed] == [run["id"]]
    assert listed[0]["definition"] is None  # only when one what-if is read
    # Nothing was sent on the version's behalf.
    assert receiver.deliveries == []


async def test_a_published_version_can_be_asked_about_too_and_filters_narrow_it(
    api: Api, time_skipping: WorkflowEnvironment
) -> None:
    asked = await api.post(
        f"{VERSIONS}/1/what-if", "ada", json={"priorities": ["P2"], "states": ["closed"]}
    )
    assert asked.status_code == 202, asked.text
    await finished(time_skipping, asked.json())

    done = (await api.get(asked.headers["Location"], "ada")).json()
    # #7 and #8, walked again under the version they ran on: nothing changes.
    assert (done["examined"], done["totals"]["changed"]) == (2, 0)


class TestRefusals:
    async def test_only_process_owners_and_admins_ask(self, api: Api) -> None:
        refused = await api.post(f"{VERSIONS}/2/what-if", "carol", json={})
        assert refused.status_code == 403
        assert (await api.get(f"{VERSIONS}/2/what-if", "carol")).json() == []

    async def test_an_unknown_version_or_what_if_is_a_404_saying_where_to_look(
        self, api: Api
    ) -> None:
        missing = await api.post(f"{VERSIONS}/9/what-if", "olive", json={})
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["type"] == "urn:vagt:problem:process-version-not-found"
        nowhere = await api.get(f"{VERSIONS}/2/what-if/12345", "olive")
        assert nowhere.status_code == 404
        assert f"GET {VERSIONS}/2/what-if" in nowhere.json()["detail"]

    async def test_a_bad_filter_names_its_field_and_keeps_nothing(self, api: Api) -> None:
        backwards = {"declared_from": FIRST_HOURS["declared_to"], "declared_to": T0.isoformat()}

        refused = await api.post(f"{VERSIONS}/2/what-if", "olive", json=backwards)
        naive = await api.post(
            f"{VERSIONS}/2/what-if", "olive", json={"declared_from": "2025-03-03T09:00:00"}
        )
        unknown = await api.post(f"{VERSIONS}/2/what-if", "olive", json={"priority": "P1"})

        assert refused.status_code == naive.status_code == unknown.status_code == 422
        assert "declared_to must be later than declared_from" in refused.text
        assert [e["field"] for e in naive.json()["errors"]] == ["declared_from"]
        assert [e["field"] for e in unknown.json()["errors"]] == ["priority"]
        assert (await api.get(f"{VERSIONS}/2/what-if", "olive")).json() == []

    async def test_temporal_unreachable_is_a_503_and_keeps_nothing(
        self, api: Api, time_skipping: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async def unreachable(*args: object, **kwargs: object) -> None:
            raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")

        monkeypatch.setattr(time_skipping.client, "start_workflow", unreachable)

        refused = await api.post(f"{VERSIONS}/2/what-if", "olive", json={})

        assert refused.status_code == 503
        assert refused.json()["type"] == "urn:vagt:problem:temporal-unreachable"
        assert (await api.get(f"{VERSIONS}/2/what-if", "olive")).json() == []
