"""The web console's status updates and subscriptions: the update form and list on the
incident page, following an incident, and the subscriptions page."""

from collections.abc import AsyncIterator

import httpx
import pytest

from store.users import UserRepository
from tests.api.conftest import Api
from tests.api.test_status_updates import declared
from tests.api.test_web import PASSWORD, Browser


@pytest.fixture
async def browser(desk: Api) -> AsyncIterator[Browser]:
    async with desk.database.session() as session:
        for name in ("alice", "carol", "vic"):
            await UserRepository(session).set_password(name, PASSWORD)
        await session.commit()
    async with httpx.AsyncClient(transport=desk.transport, base_url="http://vagt") as http:
        yield Browser(http)


class TestUpdateForm:
    async def test_a_responder_posts_an_update_and_sees_it_listed(
        self, desk: Api, browser: Browser
    ) -> None:
        number = await declared(desk)
        await browser.sign_in("alice")
        page = await browser.get(f"/incidents/{number}")
        assert "Post a status update" in page.text
        assert "No status update yet." in page.text

        posted = await browser.post(
            f"/incidents/{number}/updates", {"message": "Rolling back the 14:02 deploy"}
        )

        assert posted.status_code == 303
        page = await browser.get(f"/incidents/{number}")
        assert "Rolling back the 14:02 deploy" in page.text
        (update,) = (await desk.get(f"/api/v1/incidents/{number}/updates", "vic")).json()
        assert (update["author"], update["public"]) == ("alice", True)

    async def test_the_internal_box_makes_it_internal(self, desk: Api, browser: Browser) -> None:
        number = await declared(desk)
        await browser.sign_in("alice")
        await browser.get(f"/incidents/{number}")

        await browser.post(
            f"/incidents/{number}/updates", {"message": "Vendor is slow", "internal": "on"}
        )

        (update,) = (await desk.get(f"/api/v1/incidents/{number}/updates", "vic")).json()
        assert update["public"] is False
        assert "internal" in (await browser.get(f"/incidents/{number}")).text

    async def test_an_empty_update_is_refused_on_the_page_and_changes_nothing(
        self, desk: Api, browser: Browser
    ) -> None:
        number = await declared(desk)
        await browser.sign_in("alice")
        await browser.get(f"/incidents/{number}")

        refused = await browser.post(f"/incidents/{number}/updates", {"message": "  "})

        assert refused.status_code == 422
        assert "Refused: message:" in refused.text
        assert (await desk.get(f"/api/v1/incidents/{number}/updates", "vic")).json() == []

    async def test_a_viewer_is_offered_no_update_form(self, desk: Api, browser: Browser) -> None:
        number = await declared(desk)
        await browser.sign_in("vic")

        assert "Post a status update" not in (await browser.get(f"/incidents/{number}")).text


class TestFollowing:
    async def test_follow_this_incident_subscribes_me_and_the_page_can_undo_it(
        self, desk: Api, browser: Browser
    ) -> None:
        number = await declared(desk)
        await browser.sign_in("vic")
        await browser.get(f"/incidents/{number}")

        followed = await browser.post(
            "/subscriptions", {"incident_id": str(number), "next": f"/incidents/{number}"}
        )

        assert followed.status_code == 303
        assert followed.headers["location"] == f"/incidents/{number}"
        (mine,) = (await desk.get("/api/v1/subscriptions", "vic", mine="true")).json()
        assert mine["scope"]["incident_id"] == number
        listing = await browser.get("/subscriptions")
        assert f"incident #{number}" in listing.text

        gone = await browser.post(f"/subscriptions/{mine['id']}/delete", {})

        assert gone.status_code == 303
        assert (await desk.get("/api/v1/subscriptions", "vic")).json() == []

    async def test_a_commander_subscribes_a_channel_to_a_priority_range(
        self, desk: Api, browser: Browser
    ) -> None:
        await browser.sign_in("carol")
        page = await browser.get("/subscriptions")
        assert "channel status" in page.text

        made = await browser.post(
            "/subscriptions",
            {"channel": "status", "follows": "priorities", "highest": "P1", "lowest": "P2"},
        )

        assert made.status_code == 303
        (subscription,) = (await desk.get("/api/v1/subscriptions", "carol")).json()
        assert subscription["subscriber"]["channel"] == "status"
        assert subscription["scope"]["priorities"] == {"highest": "P1", "lowest": "P2"}

    async def test_a_refusal_is_said_on_the_page(self, desk: Api, browser: Browser) -> None:
        await browser.sign_in("vic")
        await browser.get("/subscriptions")

        refused = await browser.post("/subscriptions", {"follows": "service", "service": ""})

        assert refused.status_code == 422
        assert "exactly one of" in refused.text
        assert (await desk.get("/api/v1/subscriptions", "vic")).json() == []
