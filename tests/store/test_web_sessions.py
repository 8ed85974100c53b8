"""Web console sessions and sign-in, on SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from domain.roles import Role
from store.db import Database
from store.tables import UserRow, WebSessionRow
from store.users import UserRepository, create_user
from store.web_sessions import WebSessionRepository


async def test_sign_in_needs_the_right_password_of_an_enabled_user(database: Database) -> None:
    await create_user(database, "alice", [Role.RESPONDER])
    await create_user(database, "bob", [Role.RESPONDER])  # never given a password
    async with database.session() as session:
        users = UserRepository(session)
        assert await users.set_password("alice", "a long passphrase")
        assert not await users.set_password("nobody", "a long passphrase")
        await session.commit()

        signed_in = await users.authenticate("alice", "a long passphrase")
        assert signed_in is not None and signed_in.name == "alice"
        assert await users.authenticate("alice", "a wrong passphrase") is None
        assert await users.authenticate("bob", "") is None
        assert await users.authenticate("nobody", "a long passphrase") is None

        await session.execute(update(UserRow).values(disabled=True))
        assert await users.authenticate("alice", "a long passphrase") is None


async def test_a_session_is_found_by_its_cookie_until_it_ends(database: Database) -> None:
    alice, _ = await create_user(database, "alice", [Role.RESPONDER])
    async with database.session() as session:
        sessions = WebSessionRepository(session)
        cookie, opened = await sessions.open(alice)
        await session.commit()

        found = await sessions.find(cookie)
        assert found is not None
        assert (found.user.name, found.csrf_token) == ("alice", opened.csrf_token)
        assert await sessions.find(cookie + "x") is None

        await sessions.close(cookie)
        await session.commit()
        assert await sessions.find(cookie) is None


async def test_expired_sessions_and_disabled_users_sign_nobody_in(database: Database) -> None:
    alice, _ = await create_user(database, "alice", [Role.RESPONDER])
    async with database.session() as session:
        sessions = WebSessionRepository(session)
        expiring, _ = await sessions.open(alice)
        past = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(update(WebSessionRow).values(expires_at=past))
        await session.commit()
        assert await sessions.find(expiring) is None

        fresh, _ = await sessions.open(alice)  # and the expired ones are gone
        await session.execute(update(UserRow).values(disabled=True))
        await session.commit()
        assert await sessions.find(fresh) is None
