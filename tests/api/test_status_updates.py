"""Status updates and subscriptions through the API: what a commander posts, and who
hears it."""

import asyncio
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.temporal_fixtures import Receiver

DECLARE = {"title": "Checkout down", "impact": 2, "urgency": 2, "service": "checkout"}


async def declared(api: Api) -> int:
    answer = await api.post("/api/v1/incidents", "alice", json=DECLARE)
    assert answer.status_code == 201, answer.text
    number: int = answer.json()["id"]
    return number


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = answer.json()
    return body


class TestPostingUpdates:
    async def test_an_update_is_created_listed_and_on_the_incident(self, desk: Api) -> None:
        number = await declared(desk)
        url = f"/api/v1/incidents/{number}"

        answer = await desk.post(
            f"{url}/updates", "alice", json={"message": "Card payments fail for 1 in 10"}
        )

        assert answer.status_code == 201, answer.text
        posted = answer.json()
        assert posted["author"] == "alice"
        assert (posted["message"], posted["public"]) == ("Card payments fail for 1 in 10", True)
        assert answer.headers["location"] == f"{url}/updates/{posted['seq']}"
        assert (await desk.get(answer.headers["location"], "vic")).json() == posted
        assert (await desk.get(f"{url}/updates", "vic")).json() == [posted]
        shown = (await desk.get(url, "vic")).json()
        assert shown["updates"] == [posted]
        assert shown["last_update_at"] == posted["at"]
        event = next(e for e in shown["timeline"] if e["seq"] == posted["seq"])
        assert event["kind"] == "status_update_posted"

    async def test_an_internal_update_says_so(self, desk: Api) -> None:
        number = await declared(desk)

        answer = await desk.post(
            f"/api/v1/incidents/{number}/updates",
            "carol",
            json={"message": "The vendor blames our config", "public": False},
        )

        assert answer.json()["public"] is False

    async def test_refusals_change_nothing(self, desk: Api) -> None:
        number = await declared(desk)
        url = f"/api/v1/incidents/{number}"
        before = (await desk.get(url, "vic")).json()["timeline"]

        viewer = problem(await desk.post(f"{url}/updates", "vic", json={"message": "hi"}), 403)
        assert "vic may not post update" in viewer["detail"]
        empty = problem(await desk.post(f"{url}/updates", "alice", json={"message": " "}), 422)
        assert empty["errors"][0]["field"] == "message"
        extra = await desk.post(f"{url}/updates", "alice", json={"message": "x", "to": "all"})
        problem(extra, 422)
        problem(
            await desk.post("/api/v1/incidents/999/updates", "alice", json={"message": "x"}), 404
        )
        problem(await desk.get(f"{url}/updates/999", "vic"), 404)

        assert (await desk.get(url, "vic")).json()["timeline"] == before


class TestSubscriptions:
    async def test_anyone_subscribes_themselves_and_again_finds_the_first(self, desk: Api) -> None:
        body = {"scope": {"service": "checkout"}}

        made = await desk.post("/api/v1/subscriptions", "vic", json=body)
        again = await desk.post(
            "/api/v1/subscriptions", "vic", json=body | {"include_internal": True}
        )

        assert made.status_code == 201, made.text
        subscription = made.json()
        assert subscription["subscriber"] == {"user": "vic", "channel": None}
        assert made.headers["location"] == f"/api/v1/subscriptions/{subscription['id']}"
        assert again.status_code == 200
        assert again.json()["id"] == subscription["id"]
        assert again.json()["include_internal"] is True
        mine = (await desk.get("/api/v1/subscriptions", "vic", mine="true")).json()
        assert [s["id"] for s in mine] == [subscription["id"]]

    async def test_only_commanders_and_owners_subscribe_channels_and_others(
        self, desk: Api
    ) -> None:
        channel = {"subscriber": {"channel": "status"}, "scope": {"service": "checkout"}}

        refused = problem(await desk.post("/api/v1/subscriptions", "vic", json=channel), 403)
        assert "may subscribe only themselves" in refused["detail"]
        assert (await desk.post("/api/v1/subscriptions", "carol", json=channel)).status_code == 201
        someone = {"subscriber": {"user": "alice"}, "scope": {"priorities": {"lowest": "P2"}}}
        assert (await desk.post("/api/v1/subscriptions", "olive", json=someone)).status_code == 201

    @pytest.mark.parametrize(
        ("body", "field", "words"),
        [
            (
                {"subscriber": {"channel": "pager"}, "scope": {"service": "checkout"}},
                "subscriber.channel",
                "no channel 'pager'",
            ),
            (
                {"subscriber": {"user": "bob"}, "scope": {"service": "checkout"}},
                "subscriber.user",
                "bob has no contact methods",
            ),
            ({"scope": {"incident_id": 999}}, "scope.incident_id", "there is no incident 999"),
        ],
    )
    async def test_what_news_could_never_reach_is_refused(
        self, desk: Api, body: dict[str, Any], field: str, words: str
    ) -> None:
        answer = problem(await desk.post("/api/v1/subscriptions", "carol", json=body), 422)

        assert answer["errors"] == [{"field": field, "message": answer["errors"][0]["message"]}]
        assert words in answer["detail"]
        assert (await desk.get("/api/v1/subscriptions", "carol")).json() == []

    @pytest.mark.parametrize(
        "scope",
        [
            {},
            {"service": "checkout", "incident_id": 1},
            {"priorities": {"highest": "P3", "lowest": "P1"}},
        ],
    )
    async def test_a_scope_names_one_thing_the_right_way_round(
        self, desk: Api, scope: dict[str, Any]
    ) -> None:
        problem(await desk.post("/api/v1/subscriptions", "vic", json={"scope": scope}), 422)

    async def test_unsubscribing_is_one_call_by_the_subscriber(self, desk: Api) -> None:
        made = (
            await desk.post("/api/v1/subscriptions", "vic", json={"scope": {"service": "checkout"}})
        ).json()
        url = f"/api/v1/subscriptions/{made['id']}"

        problem(await desk.http.delete(url, headers=desk.auth("alice")), 403)
        gone = await desk.http.delete(url, headers=desk.auth("vic"))

        assert gone.status_code == 204
        problem(await desk.get(url, "vic"), 404)
        problem(await desk.http.delete(url, headers=desk.auth("vic")), 404)

    async def test_subscribers_hear_the_news_on_their_channel(
        self, desk: Api, receiver: Receiver
    ) -> None:
        channel = {"subscriber": {"channel": "status"}, "scope": {"service": "checkout"}}
        assert (await desk.post("/api/v1/subscriptions", "carol", json=channel)).status_code == 201
        number = await declared(desk)

        answer = await desk.post(
            f"/api/v1/incidents/{number}/updates", "alice", json={"message": "Rolling back"}
        )
        assert answer.status_code == 201
        await desk.post(
            f"/api/v1/incidents/{number}/updates",
            "alice",
            json={"message": "Suspect the 14:02 deploy", "public": False},
        )
        await desk.post(
            f"/api/v1/incidents/{number}/updates", "alice", json={"message": "Back to normal"}
        )

        def heard() -> list[tuple[str, str, str]]:
            return [
                (d.channel, d.notification.kind, d.notification.text)
                for d in receiver.deliveries
                if d.notification.incident_id == number
            ]

        # News goes out in order: once the last is heard, the internal one was passed over.
        for _ in range(200):
            if len(heard()) >= 3:
                break
            await asyncio.sleep(0.05)
        assert heard() == [
            ("status", "incident_declared", "New P3 incident: Checkout down"),
            ("status", "status_update", "Rolling back"),
            ("status", "status_update", "Back to normal"),
        ]
