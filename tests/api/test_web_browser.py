"""The web console in a real browser: Debian's Chromium, headless, driven by Playwright.

A person signs in and takes an incident from declaration to its approved review
through the forms; a refused step shows its reason; a responder is offered no
approval; a form stripped of its CSRF token is refused. Screenshots of the desk and
an incident page, phone-sized and desktop-sized, are saved in var/screenshots/ for
people to look at (not committed).
"""

import asyncio
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright, expect
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from domain.process import ProcessDocument
from domain.roles import Role
from domain.sla import SlaPolicy
from store.db import Database
from store.users import create_user
from tests.temporal_fixtures import RunWorker
from vagt.ports import free_port

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "a long enough passphrase"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}

pytestmark = pytest.mark.skipif(
    shutil.which(str(CHROMIUM)) is None,
    reason="Debian's chromium is not installed (apt-get install chromium)",
)


@pytest.fixture
async def site(
    time_skipping: WorkflowEnvironment,
    sqlite_database: Database,
    run_worker: RunWorker,
    tmp_path: Path,
) -> AsyncIterator[str]:
    """The API and console on a spare port, a worker, and people with passwords."""
    for name, roles in (
        ("alice", [Role.RESPONDER]),
        ("carol", [Role.COMMANDER]),
        ("olive", [Role.PROCESS_OWNER]),
    ):
        await create_user(sqlite_database, name, roles, PASSWORD)
    process = ProcessDocument(sla=SlaPolicy(targets={}))
    async with run_worker(time_skipping.client, sqlite_database) as settings:
        settings = settings.model_copy(update={"data_dir": tmp_path})
        app = create_app(
            settings, database=sqlite_database, temporal=time_skipping.client, process=process
        )
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        serving = asyncio.create_task(server.serve())
        while not server.started:  # uvicorn offers no event to wait on  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await serving


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        yield launched
        await launched.close()


async def sign_in(browser: Browser, site: str, name: str, **context: object) -> Page:
    page = await (await browser.new_context(base_url=site, **context)).new_page()  # type: ignore[arg-type]
    await page.goto("/")
    await expect(page).to_have_url(f"{site}/login?next=/")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", name="Open incidents")).to_be_visible()
    return page


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(field => field.labels.length === 0).map(field => field.name)"""


async def unlabelled(page: Page) -> list[str]:
    """The page's inputs without a label: none, on every page."""
    names: list[str] = await page.evaluate(UNLABELLED)
    return names


async def take(page: Page, step: str, **fields: str) -> None:
    """Open a step's form, fill it by its labels, and send it."""
    summary = page.locator("summary", has_text=re.compile(f"^\\s*{step}\\s*$"))
    form = page.locator("details.step", has=summary)
    summary = form.locator("summary")
    if await form.get_attribute("open") is None:
        await summary.click()
    for label, value in fields.items():
        field = form.get_by_label(label.replace("_", " "), exact=False)
        if await field.evaluate("e => e.tagName") == "SELECT":
            await field.select_option(value)
        else:
            await field.fill(value)
    await form.get_by_role("button", name=step, exact=True).click()


async def test_an_incident_from_declaration_to_approved_review_through_the_forms(
    site: str, browser: Browser
) -> None:
    alice = await sign_in(browser, site, "alice")
    assert await unlabelled(alice) == []
    await alice.get_by_role("link", name="Declare an incident").click()
    assert await unlabelled(alice) == []
    await alice.get_by_label("Title").fill("Checkout is down")
    await alice.get_by_label("Impact").select_option("1")
    await alice.get_by_label("Urgency").select_option("1")
    await alice.get_by_role("button", name="Declare").click()
    await expect(alice.get_by_role("heading", name="Checkout is down")).to_be_visible()
    incident = alice.url

    assert await unlabelled(alice) == []
    await take(alice, "Triage", Category="database", Service="checkout", Urgency="2")
    await expect(alice.locator(".facts")).to_contain_text("checkout")
    await take(alice, "Acknowledge")
    await expect(alice.locator(".state")).to_have_text("acknowledged")
    # The commander takes command; a refused step keeps the page and says why.
    carol = await sign_in(browser, site, "carol")
    await carol.goto(incident)
    await take(carol, "Assign", Commander="nobody")
    await expect(carol.get_by_role("alert")).to_contain_text("nobody")
    await take(carol, "Assign", Commander="carol")
    await expect(carol.locator(".facts")).to_contain_text("carol")
    await alice.goto(incident)
    await take(alice, "Hold", Reason="waiting for the vendor")
    await expect(alice.locator(".state")).to_contain_text("on hold")
    await take(alice, "Resume")
    await take(
        alice, "Resolve", How_was_service_restored="Failed over", Root_cause_category="hardware"
    )
    await expect(alice.locator(".state")).to_have_text("resolved")
    await take(
        alice,
        "Review",
        Root_cause="Disk failed",
        Action_items="Alert on SMART errors; alice; 2030-01-31",
    )
    await expect(alice.locator(".state")).to_contain_text("review")
    # A responder is offered no approval.
    await expect(alice.get_by_role("button", name="Approve")).to_have_count(0)

    for size, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        await alice.set_viewport_size(viewport)  # type: ignore[arg-type]
        await alice.screenshot(path=SCREENSHOTS / f"incident-{size}.png", full_page=True)
        await alice.goto("/")
        await alice.screenshot(path=SCREENSHOTS / f"desk-{size}.png", full_page=True)
        await alice.goto(incident)

    olive = await sign_in(browser, site, "olive")
    await olive.goto("/processes/default/versions/1")
    await expect(olive.get_by_role("button", name="Ask what-if")).to_be_visible()
    assert await unlabelled(olive) == []
    await olive.goto(incident)
    await take(olive, "Approve")
    await expect(olive.locator(".state")).to_have_text("closed")
    await olive.goto("/?view=past")
    await expect(olive.get_by_text("Checkout is down")).to_be_visible()


async def test_a_form_without_its_csrf_token_is_refused(site: str, browser: Browser) -> None:
    carol = await sign_in(browser, site, "carol")
    await carol.goto("/declare")
    await carol.locator("#main input[name=csrf_token]").evaluate("e => e.remove()")
    await carol.get_by_label("Title").fill("Forged")
    await carol.get_by_role("button", name="Declare").click()

    await expect(carol.get_by_role("alert")).to_contain_text("CSRF")
    await carol.goto("/")
    await expect(carol.get_by_text("Forged")).to_have_count(0)
