import asyncio
import hashlib
import stat
from pathlib import Path

import pytest
from sqlalchemy import select, update

from domain.roles import Actor, Role
from store.db import Database
from store.tables import UserRow
from store.users import (
    UserExists,
    UserRepository,
    bootstrap_admin,
    create_user,
    hash_token,
    issue_token,
)


async def authenticate(database: Database, token: str) -> str | None:
    async with database.session() as session:
        user = await UserRepository(session).by_token(token)
    return None if user is None else user.name


class TestTokens:
    def test_issued_tokens_are_long_random_and_prefixed(self) -> None:
        tokens = {issue_token() for _ in range(100)}
        assert len(tokens) == 100
        assert all(token.startswith("vagt_") and len(token) >= 45 for token in tokens)

    def test_hash_is_sha256_hex(self) -> None:
        assert hash_token("vagt_x") == hashlib.sha256(b"vagt_x").hexdigest()


class TestUsers:
    async def test_created_user_is_found_by_token_and_name(self, database: Database) -> None:
        user, token = await create_user(database, "bob", [Role.RESPONDER, Role.COMMANDER])

        async with database.session() as session:
            users = UserRepository(session)
            by_token = await users.by_token(token)
            by_name = await users.by_name("bob")

        assert by_token == by_name == user
        assert user.roles == {Role.RESPONDER, Role.COMMANDER}
        assert user.disabled is False
        assert user.actor() == Actor(name="bob", roles=frozenset({Role.RESPONDER, Role.COMMANDER}))
        assert await authenticate(database, token + "x") is None

    async def test_only_a_hash_of_the_token_is_stored(self, database: Database) -> None:
        _, token = await create_user(database, "bob", [Role.VIEWER])

        async with database.session() as session:
            row = (await session.execute(select(UserRow.__table__))).one()

        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert not any(token in str(value) for value in row)

    async def test_a_taken_name_is_refused(self, database: Database) -> None:
        await create_user(database, "bob", [Role.VIEWER])

        with pytest.raises(UserExists, match="bob"):
            await create_user(database, "bob", [Role.ADMIN])

        async with database.session() as session:
            users = UserRepository(session)
            with pytest.raises(UserExists):
                await users.create("carol", [Role.VIEWER], issue_token())
                await users.create("carol", [Role.VIEWER], issue_token())
            [bob] = [user for user in await users.list() if user.name == "bob"]
        assert bob.roles == {Role.VIEWER}

    async def test_a_disabled_user_cannot_sign_in(self, database: Database) -> None:
        _, token = await create_user(database, "bob", [Role.RESPONDER])
        async with database.session() as session:
            await session.execute(update(UserRow).values(disabled=True))
            await session.commit()

        assert await authenticate(database, token) is None
        async with database.session() as session:
            bob = await UserRepository(session).by_name("bob")
        assert bob is not None and bob.disabled

    async def test_list_count_and_missing_names(self, database: Database) -> None:
        for name in ("carol", "alice", "bob"):
            await create_user(database, name, [Role.RESPONDER])

        async with database.session() as session:
            users = UserRepository(session)
            assert [user.name for user in await users.list()] == ["alice", "bob", "carol"]
            assert await users.count() == 3
            assert await users.missing_names(["alice", "dave", "erin", "bob"]) == {"dave", "erin"}
            assert await users.missing_names([]) == set()


class TestBootstrapAdmin:
    async def test_first_start_creates_admin_and_saves_the_token(
        self, database: Database, tmp_path: Path
    ) -> None:
        token_file = tmp_path / "secrets" / "admin-token"

        token = await bootstrap_admin(database, None, token_file)

        assert token is not None and token.startswith("vagt_")
        assert token_file.read_text() == token
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        async with database.session() as session:
            admin = await UserRepository(session).by_token(token)
        assert admin is not None
        assert (admin.name, admin.roles) == ("admin", frozenset({Role.ADMIN}))

    async def test_later_starts_change_nothing(self, database: Database, tmp_path: Path) -> None:
        token_file = tmp_path / "secrets" / "admin-token"
        first = await bootstrap_admin(database, None, token_file)

        assert await bootstrap_admin(database, None, token_file) is None
        assert await bootstrap_admin(database, "vagt_configured", token_file) is None

        assert token_file.read_text() == first
        assert await authenticate(database, "vagt_configured") is None
        assert list(token_file.parent.iterdir()) == [token_file]

    async def test_a_configured_token_is_honoured(self, database: Database, tmp_path: Path) -> None:
        token = await bootstrap_admin(database, "vagt_configured", tmp_path / "admin-token")

        assert token == "vagt_configured"
        assert (tmp_path / "admin-token").read_text() == "vagt_configured"
        assert await authenticate(database, "vagt_configured") == "admin"

    async def test_no_admin_when_other_users_exist(
        self, database: Database, tmp_path: Path
    ) -> None:
        await create_user(database, "bob", [Role.ADMIN])

        assert await bootstrap_admin(database, None, tmp_path / "admin-token") is None
        assert not (tmp_path / "admin-token").exists()

    async def test_processes_starting_together_create_one_admin(
        self, database: Database, tmp_path: Path
    ) -> None:
        url = database.url.render_as_string(hide_password=False)
        processes = [Database(url, schema=database.schema) for _ in range(4)]
        token_file = tmp_path / "admin-token"
        try:
            tokens = await asyncio.gather(
                *(bootstrap_admin(process, None, token_file) for process in processes)
            )
        finally:
            await asyncio.gather(*(process.dispose() for process in processes))

        [token] = [token for token in tokens if token is not None]
        assert token_file.read_text() == token
        assert await authenticate(database, token) == "admin"
        async with database.session() as session:
            assert await UserRepository(session).count() == 1
