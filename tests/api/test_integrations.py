"""Admins create integrations; each key is shown once, with the URLs to send to."""

import re
from typing import Any

import httpx
import pytest

from domain.routing import Classification, Routing
from store.integrations import IntegrationRepository
from tests.api.conftest import Api

PROMETHEUS = {"name": "prometheus", "format": "alertmanager"}


async def create(api: Api, body: dict[str, Any] = PROMETHEUS) -> dict[str, Any]:
    response = await api.post("/api/v1/integrations", "ada", body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def patch(api: Api, integration_id: int, body: object, who: str = "ada") -> httpx.Response:
    return await api.http.patch(
        f"/api/v1/integrations/{integration_id}", headers=api.auth(who), json=body
    )


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"


EMPTY_ROUTING = Routing().model_dump(mode="json")


class TestCreate:
    async def test_admin_gets_the_key_once_and_where_to_send(self, api: Api) -> None:
        created = await create(api)

        key = created["key"]
        assert re.fullmatch(r"[0-9a-f]{32}", key)
        integration = created["integration"]
        assert integration == {
            "id": integration["id"],
            "name": "prometheus",
            "format": "alertmanager",
            "enabled": True,
            "routing": EMPTY_ROUTING,
            "resolve_on_recovery": False,
            "rate_limit_per_minute": 1200,
            "key_hint": key[:4],
            "created_at": integration["created_at"],
            "updated_at": integration["created_at"],
        }
        assert [(s["url"], s["key_in"]) for s in created["send_to"]] == [
            ("http://vagt/api/v1/integrations/alertmanager", "bearer"),
            (f"http://vagt/api/v1/integrations/alertmanager/{key}", "path"),
        ]
        listed = await api.get("/api/v1/integrations", "ada")
        shown = await api.get(f"/api/v1/integrations/{integration['id']}", "ada")
        assert listed.json() == [integration]
        assert shown.json() == integration
        assert key not in listed.text + shown.text

    @pytest.mark.parametrize(
        ("format", "sent_to"),
        [
            ("pagerduty", [("http://vagt/v2/enqueue", "routing_key")]),
            (
                "grafana",
                [
                    ("http://vagt/api/v1/integrations/grafana", "bearer"),
                    ("http://vagt/api/v1/integrations/grafana/{key}", "path"),
                ],
            ),
            ("generic", [("http://vagt/api/v1/alerts", "bearer")]),
        ],
    )
    async def test_each_format_says_where_its_sender_posts(
        self, api: Api, format: str, sent_to: list[tuple[str, str]]
    ) -> None:
        created = await create(api, {"name": format, "format": format})

        key = created["key"]
        assert [(s["url"], s["key_in"]) for s in created["send_to"]] == [
            (url.format(key=key), key_in) for url, key_in in sent_to
        ]

    async def test_the_key_authenticates_the_integration(self, api: Api) -> None:
        created = await create(api)

        async with api.database.session() as session:
            found = await IntegrationRepository(session).by_key(created["key"])

        assert found is not None and found.name == "prometheus"

    async def test_settings_are_kept(self, api: Api) -> None:
        body = {
            "name": "zabbix",
            "format": "pagerduty",
            "enabled": False,
            "routing": {"defaults": {"service": "db"}},
            "resolve_on_recovery": True,
            "rate_limit_per_minute": 100,
        }

        integration = (await create(api, body))["integration"]

        assert {field: integration[field] for field in body} == body | {
            "routing": Routing(defaults=Classification(service="db")).model_dump(mode="json")
        }

    async def test_duplicate_name_is_409(self, api: Api) -> None:
        await create(api)

        response = await api.post("/api/v1/integrations", "ada", PROMETHEUS)

        assert_problem(response, 409)
        assert "prometheus" in response.json()["detail"]

    @pytest.mark.parametrize(
        "body",
        [
            {"name": "x", "format": "nagios"},
            {"name": "x", "format": "generic", "rate_limit_per_minute": 0},
            {"name": "x", "format": "generic", "rate_limit_per_minute": 1_000_001},
            {"name": "", "format": "generic"},
            {"name": "x" * 101, "format": "generic"},
            {"name": "x", "format": "generic", "key": "chosen"},
            {"format": "generic"},
        ],
    )
    async def test_invalid_settings_are_422(self, api: Api, body: dict[str, Any]) -> None:
        assert_problem(await api.post("/api/v1/integrations", "ada", body), 422)


class TestNulCharacters:
    async def test_a_nul_in_a_name_or_rule_is_kept_as_a_replacement_character(
        self, api: Api
    ) -> None:
        routing = {"rules": [{"match": {"labels": {"team\u0000": "db"}}, "set": {}}]}

        created = await create(api, {"name": "db\u0000", "format": "generic", "routing": routing})

        shown = await api.get(f"/api/v1/integrations/{created['integration']['id']}", "ada")
        integration = shown.json()
        assert integration["name"] == "db\ufffd"
        assert integration["routing"]["rules"][0]["match"]["labels"] == {"team\ufffd": "db"}


class TestAdminsOnly:
    @pytest.mark.parametrize("who", ["carol", "vic"])
    async def test_others_are_403(self, api: Api, who: str) -> None:
        integration_id = (await create(api))["integration"]["id"]

        for response in (
            await api.post("/api/v1/integrations", who, {"name": "x", "format": "generic"}),
            await api.get("/api/v1/integrations", who),
            await api.get(f"/api/v1/integrations/{integration_id}", who),
            await patch(api, integration_id, {"enabled": False}, who),
            await api.post(f"/api/v1/integrations/{integration_id}/rotate-key", who),
        ):
            assert_problem(response, 403)
        assert len((await api.get("/api/v1/integrations", "ada")).json()) == 1

    async def test_no_token_is_401(self, api: Api) -> None:
        assert_problem(await api.http.get("/api/v1/integrations"), 401)


class TestUpdate:
    async def test_changes_only_the_fields_sent(self, api: Api) -> None:
        integration = (await create(api))["integration"]

        response = await patch(
            api,
            integration["id"],
            {"enabled": False, "routing": {"rules": []}, "rate_limit_per_minute": 30},
        )

        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated == {
            **integration,
            "enabled": False,
            "routing": EMPTY_ROUTING,
            "rate_limit_per_minute": 30,
            "updated_at": updated["updated_at"],
        }
        assert updated["updated_at"] > integration["updated_at"]
        shown = await api.get(f"/api/v1/integrations/{integration['id']}", "ada")
        assert shown.json() == updated

    async def test_rename_and_resolve_on_recovery(self, api: Api) -> None:
        integration_id = (await create(api))["integration"]["id"]

        response = await patch(
            api, integration_id, {"name": "prometheus-eu", "resolve_on_recovery": True}
        )

        assert response.status_code == 200, response.text
        assert (response.json()["name"], response.json()["resolve_on_recovery"]) == (
            "prometheus-eu",
            True,
        )

    async def test_rename_to_a_taken_name_is_409(self, api: Api) -> None:
        await create(api)
        other = await create(api, {"name": "other", "format": "grafana"})

        response = await patch(api, other["integration"]["id"], {"name": "prometheus"})

        assert_problem(response, 409)
        shown = await api.get(f"/api/v1/integrations/{other['integration']['id']}", "ada")
        assert shown.json()["name"] == "other"

    @pytest.mark.parametrize(
        "body",
        [
            {"format": "grafana"},
            {"rate_limit_per_minute": 0},
            {"enabled": None},
            {"name": ""},
        ],
    )
    async def test_invalid_changes_are_422(self, api: Api, body: dict[str, Any]) -> None:
        integration_id = (await create(api))["integration"]["id"]

        assert_problem(await patch(api, integration_id, body), 422)

    async def test_the_documented_changes_offer_no_null_since_null_is_refused(
        self, api: Api
    ) -> None:
        document = (await api.http.get("/openapi.json")).json()

        fields = document["components"]["schemas"]["IntegrationChanges"]["properties"]
        assert fields and all("null" not in str(field) for field in fields.values())


class TestRotateKey:
    async def test_a_new_key_is_shown_once_and_the_old_one_stops(self, api: Api) -> None:
        created = await create(api)
        integration_id = created["integration"]["id"]

        response = await api.post(f"/api/v1/integrations/{integration_id}/rotate-key", "ada")

        assert response.status_code == 200, response.text
        rotated = response.json()
        key = rotated["key"]
        assert re.fullmatch(r"[0-9a-f]{32}", key) and key != created["key"]
        assert rotated["integration"]["key_hint"] == key[:4]
        assert rotated["send_to"][1]["url"].endswith(f"/alertmanager/{key}")
        async with api.database.session() as session:
            integrations = IntegrationRepository(session)
            assert await integrations.by_key(created["key"]) is None
            found = await integrations.by_key(key)
        assert found is not None and found.id == integration_id


class TestNotFound:
    async def test_unknown_integration_is_404(self, api: Api) -> None:
        for response in (
            await api.get("/api/v1/integrations/404", "ada"),
            await patch(api, 404, {"enabled": False}),
            await api.post("/api/v1/integrations/404/rotate-key", "ada"),
        ):
            assert_problem(response, 404)
            assert "/api/v1/integrations" in response.json()["detail"]
