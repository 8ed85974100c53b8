"""The web console over HTTP: sign-in, CSRF, the desk and an incident's forms."""

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest

from domain.incident import Incident
from domain.process import DEFAULT_CATEGORIES, DEFAULT_PROCESS
from domain.requests import DeclareRequest
from domain.roles import Actor, Role
from store.incidents import IncidentRepository
from store.users import UserRepository
from tests.api.conftest import Api

PASSWORD = "a long enough passphrase"
ALICE = Actor(name="alice", roles=frozenset({Role.RESPONDER}))


@pytest.fixture
async def people(api: Api) -> Api:
    async with api.database.session() as session:
        users = UserRepository(session)
        for name in ("alice", "carol", "olive", "vic"):
            await users.set_password(name, PASSWORD)
        await session.commit()
    return api


class Browser:
    """One person's browser: its own cookies, and the CSRF token of the last page."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf = ""

    async def get(self, path: str) -> httpx.Response:
        page = await self.http.get(path)
        found = re.search(r'name="csrf_token" value="([^"]*)"', page.text)
        if found:
            self.csrf = found.group(1)
        return page

    async def post(self, path: str, fields: dict[str, str], csrf: bool = True) -> httpx.Response:
        data = {"csrf_token": self.csrf, **fields} if csrf else fields
        return await self.http.post(path, data=data)

    async def sign_in(self, name: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/login")
        return await self.post("/login", {"username": name, "password": password})


@pytest.fixture
async def browser(people: Api) -> AsyncIterator[Browser]:
    async with httpx.AsyncClient(transport=people.transport, base_url="http://vagt") as http:
        yield Browser(http)


async def publish_version_2(api: Api, **changes: object) -> None:
    """Version 2 of the default process: version 1 with `changes`, published by olive."""
    current = (await api.get("/api/v1/processes/default/versions/1", "olive")).json()
    definition = {k: v for k, v in current["definition"].items() if k != "version"}
    created = await api.post("/api/v1/processes/default/versions", "olive", definition | changes)
    assert created.status_code == 201, created.text
    published = await api.post("/api/v1/processes/default/versions/2/publish", "olive")
    assert published.status_code == 200, published.text


async def open_browser(api: Api) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=api.transport, base_url="http://vagt")


class TestSignIn:
    async def test_pages_need_a_session_and_send_the_browser_to_sign_in(
        self, browser: Browser
    ) -> None:
        page = await browser.http.get("/incidents/1")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/incidents/1"

    async def test_signing_in_opens_a_session_cookie_that_scripts_cannot_read(
        self, browser: Browser
    ) -> None:
        signed_in = await browser.sign_in("alice")

        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
        cookie = signed_in.headers["set-cookie"]
        assert "vagt_session=" in cookie
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        desk = await browser.get("/")
        assert desk.status_code == 200
        assert "Nothing is burning." in desk.text

    async def test_a_wrong_password_or_unknown_name_is_refused_alike(
        self, browser: Browser
    ) -> None:
        wrong = await browser.sign_in("alice", "not alice's passphrase")
        unknown = await browser.sign_in("mallory", PASSWORD)

        assert wrong.status_code == unknown.status_code == 401
        assert "Unknown name or wrong password." in wrong.text
        assert "vagt_session" not in wrong.headers.get("set-cookie", "")

    async def test_signing_in_without_the_forms_token_is_refused(self, browser: Browser) -> None:
        await browser.get("/login")
        forged = await browser.post(
            "/login", {"username": "alice", "password": PASSWORD}, csrf=False
        )

        assert forged.status_code == 403
        assert (await browser.http.get("/")).status_code == 303  # still signed out
        # The refusal's form (a fresh token in it and its cookie) signs in.
        found = re.search(r'name="csrf_token" value="([^"]+)"', forged.text)
        assert found is not None
        browser.csrf = found.group(1)
        again = await browser.post("/login", {"username": "alice", "password": PASSWORD})
        assert again.status_code == 303

    async def test_signing_out_ends_the_session(self, browser: Browser) -> None:
        await browser.sign_in("alice")
        await browser.get("/")

        signed_out = await browser.post("/logout", {})

        assert signed_out.status_code == 303
        assert (await browser.http.get("/")).status_code == 303


class TestIncidentForms:
    async def test_a_responder_declares_acknowledges_and_sees_a_refusal_with_its_reason(
        self, browser: Browser
    ) -> None:
        await browser.sign_in("alice")
        await browser.get("/declare")

        declared = await browser.post(
            "/declare", {"title": "Checkout is down", "impact": "1", "urgency": "1"}
        )
        assert declared.status_code == 303
        path = declared.headers["location"]
        page = await browser.get(path)
        assert "Checkout is down" in page.text
        assert 'action="' + path + '/acknowledge"' in page.text
        assert "/approve" not in page.text  # a responder never approves

        acknowledged = await browser.post(f"{path}/acknowledge", {})
        assert acknowledged.status_code == 303
        page = await browser.get(path)
        assert "acknowledged" in page.text

        # Resolving needs a root cause the process knows.
        refused = await browser.post(
            f"{path}/resolve", {"summary": "Restarted", "root_cause_category": "gremlins"}
        )
        assert refused.status_code == 422
        assert "Refused:" in refused.text and "gremlins" in refused.text

    async def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
        self, browser: Browser
    ) -> None:
        await browser.sign_in("alice")
        await browser.get("/declare")

        forged = await browser.post(
            "/declare", {"title": "Forged", "impact": "1", "urgency": "1"}, False
        )
        wrong = await browser.http.post(
            "/declare",
            data={"csrf_token": "guessed", "title": "Forged", "impact": "1", "urgency": "1"},
        )

        assert forged.status_code == wrong.status_code == 403
        assert "CSRF" in forged.text
        desk = await browser.get("/")
        assert "Forged" not in desk.text

    async def test_a_viewer_sees_the_desk_and_no_forms(self, people: Api) -> None:
        async with await open_browser(people) as http:
            viewer = Browser(http)
            await viewer.sign_in("vic")
            desk = await viewer.get("/")
        assert desk.status_code == 200
        assert "Declare an incident" not in desk.text
        assert 'href="/declare"' not in desk.text


class TestDesk:
    async def test_shows_each_clocks_time_left_and_marks_breaches(
        self, browser: Browser, people: Api
    ) -> None:
        now = datetime.now(UTC)
        fresh = Incident.declare(
            1, DeclareRequest(title="Fresh P1", impact=1, urgency=1), ALICE, now, DEFAULT_PROCESS
        )
        late = Incident.declare(
            2,
            DeclareRequest(title="Late P1", impact=1, urgency=1),
            ALICE,
            now - timedelta(hours=1),
            DEFAULT_PROCESS,
        )
        late.fire_due(now)  # its acknowledge clock breached
        async with people.database.session() as session:
            for incident in (fresh, late):
                await IncidentRepository(session).project(incident, incident.timeline)
            await session.commit()
        await browser.sign_in("vic")

        desk = (await browser.get("/")).text

        fresh_line = desk[desk.index("Fresh P1") :]
        # P1s have 5 minutes to be acknowledged and 4 hours to be resolved.
        assert re.search(r"acknowledge:\s*<span class=\"left\">4m \d+s</span> left", fresh_line)
        assert re.search(r"resolve:\s*<span class=\"left\">3h 59m</span> left", fresh_line)
        late_item = desk[desk.rindex("<li", 0, desk.index("Late P1")) : desk.index("Late P1")]
        assert "breached" in late_item
        assert "SLA breached" in desk


async def test_after_signing_in_the_browser_goes_back_but_never_to_another_site(
    browser: Browser,
) -> None:
    for asked, landed in (
        ("/incidents/3", "/incidents/3"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("https://evil.example/", "/"),
    ):
        form = await browser.get(f"/login?next={quote(asked)}")
        next_field = re.search(r'name="next" value="([^"]*)"', form.text)
        assert next_field is not None
        fields = {"username": "alice", "password": PASSWORD, "next": next_field.group(1)}
        signed_in = await browser.post("/login", fields)
        assert signed_in.headers["location"] == landed
        # A next given straight to the post is checked again.
        await browser.get("/login")
        fields["next"] = asked
        assert (await browser.post("/login", fields)).headers["location"] == landed


async def test_a_commander_moves_an_incident_to_another_version_by_its_form(
    people: Api, browser: Browser
) -> None:
    await publish_version_2(people)
    await browser.sign_in("carol")
    await browser.get("/declare")
    declared = await browser.post("/declare", {"title": "Slow", "impact": "2", "urgency": "2"})
    path = declared.headers["location"]
    page = await browser.get(path)
    assert "default version 2" in page.text  # new incidents take the current version

    # Version 1 again, then a version that does not exist.
    moved = await browser.post(f"{path}/migrate", {"version": "1"})
    refused = await browser.post(f"{path}/migrate", {"version": "9"})

    assert moved.status_code == 303
    assert refused.status_code == 422 and "9 does not exist" in refused.text
    assert "default version 1" in (await browser.get(path)).text


async def test_an_incidents_forms_offer_what_its_own_version_knows(
    people: Api, browser: Browser
) -> None:
    await browser.sign_in("alice")
    await browser.get("/declare")
    declared = await browser.post("/declare", {"title": "Slow", "impact": "2", "urgency": "2"})
    path = declared.headers["location"]
    # Version 2 knows only one category; the incident keeps running on version 1.
    await publish_version_2(people, categories=["network"])

    page = (await browser.get(path)).text

    triage = page[
        page.index('id="t-category"') : page.index("</select>", page.index('id="t-category"'))
    ]
    offered = re.findall(r"<option\s*>(\w+)</option>", triage)
    assert offered == DEFAULT_CATEGORIES  # version 1's, not version 2's "network" alone
