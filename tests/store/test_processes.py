"""Process versions in the read model: numbering, freezing, the current version, and the
process file publishing itself when it changes."""

import pytest

from domain.process import ProcessDefinition, ReviewRequirements
from domain.roles import Role
from store.db import Database
from store.processes import (
    FILE_AUTHOR,
    ProcessCatalog,
    ProcessVersionRepository,
    VersionFrozen,
    VersionMissing,
    VersionState,
    _same,
    adopt_process_file,
)

OPS = ProcessDefinition.model_validate(
    {"name": "ops", "sla": {"targets": {"P1": {"acknowledge": "15m"}}}}
)
FASTER = ProcessDefinition.model_validate(
    {"name": "ops", "sla": {"targets": {"P1": {"acknowledge": "5m"}}}}
)


async def _current(database: Database, name: str = "ops") -> int | None:
    async with database.session() as session:
        current = await ProcessVersionRepository(session).current(name)
    return None if current is None else current.version


class TestVersions:
    async def test_drafts_are_numbered_and_publishing_freezes_them(
        self, database: Database
    ) -> None:
        async with database.session() as session:
            repository = ProcessVersionRepository(session)
            first = await repository.create_draft(OPS, "olive")
            second = await repository.create_draft(OPS, "olive")
            await repository.publish("ops", 1, "olive")
            await session.commit()

            assert (first.version, second.version) == (1, 2)
            with pytest.raises(VersionFrozen):
                await repository.edit_draft("ops", 1, FASTER)
            with pytest.raises(VersionFrozen):
                await repository.publish("ops", 1, "olive")
            with pytest.raises(VersionMissing):
                await repository.edit_draft("ops", 3, FASTER)
            edited = await repository.edit_draft("ops", 2, FASTER)

        assert edited.state is VersionState.DRAFT
        assert edited.definition.sla.targets
        assert edited.definition.version == 2  # the stored definition carries its number
        assert await _current(database) == 1


class TestProcessFile:
    async def test_the_file_publishes_when_it_changes_and_only_then(
        self, database: Database
    ) -> None:
        await adopt_process_file(database, OPS)
        await adopt_process_file(database, OPS)  # a restart with the same file
        assert await _current(database) == 1

        # A version published through the API stays current while the file is unchanged.
        async with database.session() as session:
            repository = ProcessVersionRepository(session)
            await repository.create_draft(FASTER, "olive")
            await repository.publish("ops", 2, "olive")
            await session.commit()
        await adopt_process_file(database, OPS)
        assert await _current(database) == 2

        changed = OPS.model_copy(update={"categories": ["database"]})
        await adopt_process_file(database, changed)

        async with database.session() as session:
            versions = await ProcessVersionRepository(session).versions("ops")
        assert [(v.version, v.created_by) for v in versions] == [
            (1, FILE_AUTHOR),
            (2, "olive"),
            (3, FILE_AUTHOR),
        ]
        assert await _current(database) == 3


class TestCatalog:
    async def test_new_incidents_see_a_published_version_once_remembered_ones_expire(
        self, database: Database
    ) -> None:
        now = [0.0]
        catalog = ProcessCatalog(database, ttl=5, clock=lambda: now[0])
        assert await catalog.by_key("ops") is None
        await adopt_process_file(database, OPS)
        assert await catalog.by_key("ops") is None  # remembered: nothing published

        now[0] = 6
        current = await catalog.by_key("ops")
        assert current is not None and current.version == 1


def test_a_definition_is_the_same_whatever_order_its_sets_were_built_in() -> None:
    roles = [Role.PROCESS_OWNER, Role.ADMIN, Role.COMMANDER, Role.RESPONDER, Role.VIEWER]
    orders = [roles, list(reversed(roles)), roles[2:] + roles[:2]]
    definitions = [
        OPS.model_copy(update={"review": ReviewRequirements(approver_roles=frozenset(order))})
        for order in orders
    ]

    for definition in definitions:
        stored = ProcessDefinition.model_validate(definition.model_dump(mode="json"))
        assert all(_same(stored, other) for other in definitions)
