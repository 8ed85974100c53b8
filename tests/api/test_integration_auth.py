import base64

import pytest
from fastapi import Request

from api.errors import Problem
from api.integration_auth import authenticate_sender, key_from_request
from domain.integrations import IntegrationFormat, IntegrationSettings
from store.db import Database
from store.integrations import IntegrationRepository


def request_with(authorization: str | None) -> Request:
    headers = [] if authorization is None else [(b"authorization", authorization.encode())]
    return Request({"type": "http", "headers": headers})


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class TestKeyFromRequest:
    @pytest.mark.parametrize(
        ("authorization", "path_key", "expected"),
        [
            ("Bearer abc", None, "abc"),
            ("bearer  abc ", "from-path", "abc"),
            (None, "from-path", "from-path"),
            ("Bearer ", "from-path", "from-path"),
            ("Token abc", "from-path", "from-path"),
            (basic("alertmanager", "abc"), None, "abc"),
            (basic("alertmanager", ""), "from-path", "from-path"),
            ("Basic not-base64!", None, None),
            (None, None, None),
            (None, "", None),
        ],
    )
    def test_bearer_token_else_basic_password_else_path(
        self, authorization: str | None, path_key: str | None, expected: str | None
    ) -> None:
        assert key_from_request(request_with(authorization), path_key) == expected


class TestAuthenticateSender:
    async def test_the_key_names_its_integration(self, database: Database) -> None:
        async with database.session() as session:
            created, key = await IntegrationRepository(session).create(
                IntegrationSettings(name="prometheus", format=IntegrationFormat.ALERTMANAGER)
            )

            assert await authenticate_sender(IntegrationRepository(session).by_key, key) == created

    @pytest.mark.parametrize("key", [None, "", "0" * 32])
    async def test_no_or_an_unknown_key_is_401_with_a_challenge(
        self, database: Database, key: str | None
    ) -> None:
        async with database.session() as session:
            with pytest.raises(Problem) as raised:
                await authenticate_sender(IntegrationRepository(session).by_key, key)

        assert raised.value.status == 401
        assert raised.value.headers == {"WWW-Authenticate": "Bearer"}

    async def test_a_disabled_integration_is_403_saying_how_to_enable_it(
        self, database: Database
    ) -> None:
        async with database.session() as session:
            created, key = await IntegrationRepository(session).create(
                IntegrationSettings(
                    name="prometheus", format=IntegrationFormat.ALERTMANAGER, enabled=False
                )
            )

            with pytest.raises(Problem) as raised:
                await authenticate_sender(IntegrationRepository(session).by_key, key)

        assert raised.value.status == 403
        assert "'prometheus' is disabled" in raised.value.detail
        assert f"PATCH /api/v1/integrations/{created.id}" in raised.value.detail
