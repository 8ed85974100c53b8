import hashlib
import re

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from domain.integrations import IntegrationFormat, IntegrationSettings
from domain.routing import Routing
from store.db import Database
from store.integrations import IntegrationExists, IntegrationRecord, IntegrationRepository
from store.tables import IntegrationRow

ALERTMANAGER = IntegrationSettings(name="prometheus", format=IntegrationFormat.ALERTMANAGER)


async def create(
    database: Database, settings: IntegrationSettings
) -> tuple[IntegrationRecord, str]:
    async with database.session() as session:
        created = await IntegrationRepository(session).create(settings)
        await session.commit()
    return created


async def by_key(database: Database, key: str) -> IntegrationRecord | None:
    async with database.session() as session:
        return await IntegrationRepository(session).by_key(key)


class TestCreate:
    async def test_created_integration_keeps_its_settings(self, database: Database) -> None:
        settings = IntegrationSettings(
            name="uptime",
            format=IntegrationFormat.PAGERDUTY,
            routing={"defaults": {"service": "web"}},
            resolve_on_recovery=True,
            rate_limit_per_minute=60,
        )

        integration, key = await create(database, settings)

        assert integration.settings() == settings
        assert integration.enabled is True
        assert integration.key_hint == key[:4]
        assert integration.created_at == integration.updated_at
        async with database.session() as session:
            assert await IntegrationRepository(session).get(integration.id) == integration

    async def test_defaults_are_enabled_no_resolve_and_a_generous_limit(
        self, database: Database
    ) -> None:
        integration, _ = await create(database, ALERTMANAGER)

        assert (integration.enabled, integration.resolve_on_recovery) == (True, False)
        assert integration.rate_limit_per_minute == 1200
        assert integration.routing == Routing()

    async def test_key_is_32_lowercase_hex_and_only_its_hash_is_stored(
        self, database: Database
    ) -> None:
        _, key = await create(database, ALERTMANAGER)

        assert re.fullmatch(r"[0-9a-f]{32}", key)
        async with database.session() as session:
            row = (await session.execute(select(IntegrationRow.__table__))).one()
        assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
        assert not any(key in str(value) for value in row)

    async def test_every_integration_gets_its_own_key(self, database: Database) -> None:
        keys = set()
        for name in ("a", "b", "c"):
            _, key = await create(database, ALERTMANAGER.model_copy(update={"name": name}))
            keys.add(key)
        assert len(keys) == 3

    async def test_a_taken_name_is_refused(self, database: Database) -> None:
        await create(database, ALERTMANAGER)

        grafana = ALERTMANAGER.model_copy(update={"format": IntegrationFormat.GRAFANA})
        with pytest.raises(IntegrationExists, match="prometheus"):
            await create(database, grafana)

        async with database.session() as session:
            [stored] = await IntegrationRepository(session).list()
        assert stored.format == IntegrationFormat.ALERTMANAGER


class TestByKey:
    async def test_finds_the_integration_holding_the_key(self, database: Database) -> None:
        first, first_key = await create(database, ALERTMANAGER)
        second, second_key = await create(database, ALERTMANAGER.model_copy(update={"name": "b"}))

        assert await by_key(database, first_key) == first
        assert await by_key(database, second_key) == second
        assert await by_key(database, first_key.upper()) is None
        assert await by_key(database, "") is None

    async def test_a_disabled_integration_is_still_found(self, database: Database) -> None:
        _, key = await create(database, ALERTMANAGER.model_copy(update={"enabled": False}))

        found = await by_key(database, key)

        assert found is not None and found.enabled is False


class TestUpdate:
    async def test_changes_only_the_given_fields(self, database: Database) -> None:
        integration, key = await create(database, ALERTMANAGER)

        async with database.session() as session:
            updated = await IntegrationRepository(session).update(
                integration.id,
                {"enabled": False, "routing": {"rules": []}, "rate_limit_per_minute": 10},
            )
            await session.commit()

        assert updated is not None
        assert updated.settings() == ALERTMANAGER.model_copy(
            update={"enabled": False, "routing": Routing(), "rate_limit_per_minute": 10}
        )
        assert updated.updated_at > integration.updated_at
        assert updated.created_at == integration.created_at
        assert await by_key(database, key) == updated

    async def test_nothing_changed_keeps_updated_at(self, database: Database) -> None:
        integration, _ = await create(database, ALERTMANAGER)

        async with database.session() as session:
            updated = await IntegrationRepository(session).update(
                integration.id, {"name": "prometheus"}
            )

        assert updated == integration

    async def test_rename_to_a_taken_name_is_refused(self, database: Database) -> None:
        await create(database, ALERTMANAGER)
        other, _ = await create(database, ALERTMANAGER.model_copy(update={"name": "other"}))

        async with database.session() as session:
            with pytest.raises(IntegrationExists, match="prometheus"):
                await IntegrationRepository(session).update(other.id, {"name": "prometheus"})

    async def test_invalid_changes_are_refused(self, database: Database) -> None:
        integration, _ = await create(database, ALERTMANAGER)

        async with database.session() as session:
            repository = IntegrationRepository(session)
            with pytest.raises(ValidationError):
                await repository.update(integration.id, {"rate_limit_per_minute": 0})
            with pytest.raises(ValidationError):
                await repository.update(integration.id, {"colour": "red"})
            assert await repository.get(integration.id) == integration

    async def test_unknown_integration(self, database: Database) -> None:
        async with database.session() as session:
            repository = IntegrationRepository(session)
            assert await repository.update(404, {"enabled": False}) is None
            assert await repository.rotate_key(404) is None
            assert await repository.get(404) is None


class TestRotateKey:
    async def test_the_new_key_works_and_the_old_one_stops(self, database: Database) -> None:
        integration, old_key = await create(database, ALERTMANAGER)

        async with database.session() as session:
            new_key = await IntegrationRepository(session).rotate_key(integration.id)
            await session.commit()

        assert new_key is not None and re.fullmatch(r"[0-9a-f]{32}", new_key)
        assert new_key != old_key
        assert await by_key(database, old_key) is None
        rotated = await by_key(database, new_key)
        assert rotated is not None
        assert rotated.settings() == integration.settings()
        assert rotated.key_hint == new_key[:4]


class TestList:
    async def test_lists_by_name(self, database: Database) -> None:
        for name in ("zabbix", "grafana", "prometheus"):
            await create(database, ALERTMANAGER.model_copy(update={"name": name}))

        async with database.session() as session:
            listed = await IntegrationRepository(session).list()

        assert [integration.name for integration in listed] == ["grafana", "prometheus", "zabbix"]
