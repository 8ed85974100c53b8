"""Change events: PagerDuty's Change Events API in, a list for responders out, no paging."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.api.conftest import Api

DEPLOY = {
    "payload": {
        "summary": "Build Success: Increase snapshot create timeout to 30 seconds",
        "timestamp": "2020-07-17T08:42:58.315+0000",
        "source": "acme-build-pipeline-tool-default-i-9999",
        "custom_details": {"build_state": "passed", "build_number": "2", "run_time": "1236s"},
    },
    "links": [{"href": "https://acme.pagerduty.dev/build/2", "text": "View more details in Acme!"}],
}

ROUTING = {
    "rules": [{"match": {"labels": {"environment": "staging"}}, "set": {"service": "sandbox"}}],
    "defaults": {"service": "checkout"},
}


async def integration(api: Api, name: str = "ci", **settings: Any) -> str:
    body = {"name": name, "format": "pagerduty", "routing": ROUTING} | settings
    response = await api.post("/api/v1/integrations", "ada", body)
    assert response.status_code == 201, response.text
    key: str = response.json()["key"]
    return key


async def send(api: Api, key: str, event: dict[str, Any] = DEPLOY) -> httpx.Response:
    return await api.http.post("/v2/change/enqueue", json=event | {"routing_key": key})


def with_payload(**fields: Any) -> dict[str, Any]:
    return DEPLOY | {"payload": DEPLOY["payload"] | fields}  # type: ignore[operator]


async def changes(api: Api, who: str = "vic", **params: object) -> dict[str, Any]:
    response = await api.get("/api/v1/changes", who, **params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


class TestEnqueue:
    async def test_answered_as_pagerduty_and_stored_for_the_routed_service(self, api: Api) -> None:
        key = await integration(api)

        response = await send(api, key)

        assert response.status_code == 202
        assert response.content == b'{"status":"success","message":"Change event processed"}'
        page = await changes(api)
        assert page["total"] == 1
        change = page["items"][0]
        assert change == {
            "id": change["id"],
            "integration_id": change["integration_id"],
            "service": "checkout",
            "summary": DEPLOY["payload"]["summary"],  # type: ignore[index]
            "source": "acme-build-pipeline-tool-default-i-9999",
            "happened_at": "2020-07-17T08:42:58.315000Z",
            "received_at": change["received_at"],
            "details": {"build_state": "passed", "build_number": "2", "run_time": "1236s"},
            "links": [
                {"href": "https://acme.pagerduty.dev/build/2", "text": "View more details in Acme!"}
            ],
        }

    async def test_routing_rules_see_custom_details_as_labels(self, api: Api) -> None:
        key = await integration(api)

        await send(api, key, with_payload(custom_details={"environment": "staging"}))

        assert [c["service"] for c in (await changes(api))["items"]] == ["sandbox"]

    async def test_without_a_timestamp_it_happened_when_received(self, api: Api) -> None:
        key = await integration(api)
        payload = {"summary": "Rotated the database password"}

        assert (await send(api, key, {"payload": payload})).status_code == 202

        change = (await changes(api))["items"][0]
        assert change["happened_at"] == change["received_at"]
        assert (change["source"], change["details"], change["links"]) == (None, {}, [])

    async def test_a_long_summary_is_truncated_not_refused(self, api: Api) -> None:
        key = await integration(api)

        assert (await send(api, key, with_payload(summary="é" * 2000))).status_code == 202

        summary = (await changes(api))["items"][0]["summary"]
        assert len(summary) == 1024 and summary.endswith("…")

    async def test_never_opens_an_incident(self, api: Api) -> None:
        key = await integration(api)

        for _ in range(3):
            assert (await send(api, key)).status_code == 202

        incidents = await api.get("/api/v1/incidents", "vic")
        assert incidents.json()["total"] == 0
        assert (await changes(api))["total"] == 3


class TestNulCharacters:
    async def test_a_nul_in_a_change_is_recorded_as_a_replacement_character(self, api: Api) -> None:
        key = await integration(api)

        response = await send(api, key, with_payload(summary="Deploy\u0000 v2", source="ci\u0000"))

        assert response.status_code == 202, response.text
        change = (await changes(api))["items"][0]
        assert (change["summary"], change["source"]) == ("Deploy\ufffd v2", "ci\ufffd")


class TestRefused:
    async def test_an_unknown_routing_key_gets_pagerdutys_400(self, api: Api) -> None:
        await integration(api)

        response = await send(api, "0" * 32)

        assert response.status_code == 400
        assert response.json() == {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Invalid routing key"],
        }
        assert (await changes(api))["total"] == 0

    async def test_a_short_routing_key_is_named_as_pagerduty_does(self, api: Api) -> None:
        response = await send(api, "abc")

        assert response.status_code == 400
        assert response.json()["errors"] == [
            "Length of 'routing_key' is incorrect (should be 32 characters)"
        ]

    async def test_a_missing_summary_is_400_and_records_nothing(self, api: Api) -> None:
        key = await integration(api)
        event = DEPLOY | {"payload": {"source": "ci"}}

        response = await send(api, key, event)

        assert response.status_code == 400
        body = response.json()
        assert (body["status"], body["message"]) == ("invalid event", "Event object is invalid")
        assert len(body["errors"]) == 1 and "summary" in body["errors"][0]
        assert (await changes(api))["total"] == 0

    async def test_a_disabled_integration_is_refused(self, api: Api) -> None:
        key = await integration(api, enabled=False)

        response = await send(api, key)

        assert response.status_code == 400
        assert "disabled" in response.json()["errors"][0]

    async def test_a_body_over_512_kb_is_refused(self, api: Api) -> None:
        key = await integration(api)

        response = await send(api, key, with_payload(custom_details={"log": "x" * 600_000}))

        assert response.status_code == 400
        assert "512 KB" in response.json()["errors"][0]

    async def test_an_endless_body_is_refused_without_being_read_whole(self, api: Api) -> None:
        sent = 0

        async def endless() -> AsyncIterator[bytes]:
            nonlocal sent
            while sent < 100 * 1024 * 1024:  # 100 MB, with no Content-Length: chunked
                sent += 64 * 1024
                yield b" " * 64 * 1024

        response = await api.http.post("/v2/change/enqueue", content=endless())

        assert response.status_code == 400
        assert "512 KB" in response.json()["errors"][0]
        assert sent < 1024 * 1024

    async def test_a_declared_length_over_512_kb_is_refused_before_reading(self, api: Api) -> None:
        headers = {"Content-Type": "application/json", "Content-Length": str(600_000)}
        request = api.http.build_request(
            "POST", "/v2/change/enqueue", headers=headers, content=b"{}"
        )

        response = await api.http.send(request)

        assert response.status_code == 400
        assert "600000 bytes" in response.json()["errors"][0]

    async def test_past_the_rate_limit_is_429_with_retry_after(self, api: Api) -> None:
        key = await integration(api, rate_limit_per_minute=1)

        assert (await send(api, key)).status_code == 202
        response = await send(api, key)

        assert response.status_code == 429
        assert response.json()["status"] == "throttle event"
        assert int(response.headers["Retry-After"]) >= 1
        assert (await changes(api))["total"] == 1


class TestList:
    async def test_an_offset_past_the_read_models_integers_is_422_not_500(self, api: Api) -> None:
        response = await api.get("/api/v1/changes", "vic", offset=2**63)

        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"

    async def test_by_service_and_time_newest_first(self, api: Api) -> None:
        key = await integration(api)
        for day, environment in ((1, "prod"), (2, "staging"), (3, "prod"), (4, "prod")):
            event = with_payload(
                summary=f"deploy {day}",
                timestamp=f"2026-03-0{day}T12:00:00Z",
                custom_details={"environment": environment},
            )
            assert (await send(api, key, event)).status_code == 202

        page = await changes(
            api, service="checkout", since="2026-03-01T12:00:00Z", until="2026-03-04T12:00:00"
        )

        assert [c["summary"] for c in page["items"]] == ["deploy 3", "deploy 1"]
        everything = await changes(api, limit=2, offset=1)
        assert [c["summary"] for c in everything["items"]] == ["deploy 3", "deploy 2"]
        assert everything["total"] == 4

    async def test_any_signed_in_user_may_read_but_not_anonymously(self, api: Api) -> None:
        for who in ("alice", "carol", "olive", "vic", "ada"):
            await changes(api, who)

        response = await api.http.get("/api/v1/changes")

        assert response.status_code == 401

    @pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 201}, {"since": "yesterday"}])
    async def test_bad_filters_are_422(self, api: Api, params: dict[str, object]) -> None:
        response = await api.get("/api/v1/changes", "vic", **params)

        assert response.status_code == 422
