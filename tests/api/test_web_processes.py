"""The web console's process pages: versions, diffs, publishing and what-ifs."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from store.users import UserRepository
from tests.api.conftest import Api
from tests.api.test_web import PASSWORD, Browser
from workflows.contracts import what_if_workflow_id

VERSIONS = "/api/v1/processes/ops/versions"


@pytest.fixture
async def api(ops_api: Api) -> Api:
    """`ops` versions 1 (published) and 2 (a draft), incidents 7 to 10 on version 1, and
    passwords for alice (a responder) and olive (a process owner)."""
    async with ops_api.database.session() as session:
        for name in ("alice", "olive"):
            await UserRepository(session).set_password(name, PASSWORD)
        await session.commit()
    return ops_api


@asynccontextmanager
async def signed_in(api: Api, name: str) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(transport=api.transport, base_url="http://vagt") as http:
        browser = Browser(http)
        await browser.sign_in(name)
        yield browser


async def test_an_owner_asks_a_what_if_of_a_draft_and_reads_what_would_have_changed(
    api: Api, time_skipping: WorkflowEnvironment
) -> None:
    async with signed_in(api, "olive") as olive:
        await _ask_and_read(olive, time_skipping)


async def _ask_and_read(olive: Browser, time_skipping: WorkflowEnvironment) -> None:
    listed = await olive.get("/processes")
    assert 'href="/processes/ops"' in listed.text
    draft = await olive.get("/processes/ops/versions/2")
    assert "Publish" in draft.text and "Ask what-if" in draft.text

    asked = await olive.post(
        "/processes/ops/versions/2/what-if",
        {"declared_from": "2025-03-03", "declared_to": "2025-03-03"},
    )

    assert asked.status_code == 303, asked.text
    run_path = asked.headers["location"]
    run_id = int(run_path.rsplit("/", 1)[1])
    await time_skipping.client.get_workflow_handle(what_if_workflow_id(run_id)).result()
    shown = (await olive.get(run_path)).text
    assert "completed" in shown and "3 of 3 incidents" in shown
    # By hand (tests/what_if_cases.py): no breach recorded, two simulated, both #7's.
    assert re.search(r"<th>Breaches</th><td>0</td><td>2</td>", shown)
    assert re.search(r"<th>Pages</th><td>3</td><td>4</td>", shown)
    assert "#7 Incident 7" in shown and "#8 Incident 8" not in shown
    assert "acknowledge breached" in shown

    diff = await olive.get("/processes/ops/diff?from=1&to=2")
    assert "sla.targets.P2.acknowledge" in diff.text


async def test_only_owners_publish_and_a_published_version_is_current(api: Api) -> None:
    async with signed_in(api, "alice") as alice:
        draft = await alice.get("/processes/ops/versions/2")
        assert "Publish" not in draft.text and "Ask what-if" not in draft.text
        refused = await alice.post("/processes/ops/versions/2/publish", {})
        assert refused.status_code == 403

    async with signed_in(api, "olive") as olive:
        await olive.get("/processes/ops/versions/2")
        published = await olive.post("/processes/ops/versions/2/publish", {})
        assert published.status_code == 303
        shown = await olive.get("/processes/ops/versions/2")
    assert "published, current" in shown.text and "Publish:" not in shown.text
