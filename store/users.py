"""Users and their API tokens; only a hash of each token is stored."""

import asyncio
import builtins
import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from domain.roles import Actor, Role
from store.db import Database
from store.passwords import dummy_verify, hash_password, needs_rehash, verify_password
from store.tables import UserRow

ADMIN_NAME = "admin"


class UserRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    roles: frozenset[Role]
    created_at: datetime
    disabled: bool

    def actor(self) -> Actor:
        return Actor(name=self.name, roles=self.roles)


class UserExists(Exception):
    """A user with that name (or that token) is already there."""


def issue_token() -> str:
    return "vagt_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # Tokens are 256 random bits, not passwords: nobody can guess or brute-force
    # one, so a slow password hash would only slow every request. A fast hash
    # still keeps a leaked table from being usable as tokens.
    return hashlib.sha256(token.encode()).hexdigest()


class UserRepository:
    """Users within the caller's session; the caller commits."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, name: str, roles: Iterable[Role], token: str) -> UserRecord:
        """A new user holding `token`; UserExists if the name is taken."""
        if await self.by_name(name) is not None:
            raise UserExists(f"a user named {name!r} already exists")
        values = {
            "name": name,
            "roles": sorted(str(role) for role in roles),
            "token_hash": hash_token(token),
            "created_at": datetime.now(UTC),
            "disabled": False,
        }
        # ON CONFLICT covers a concurrent create of the same name without breaking the
        # caller's transaction; a clash on the token hash is still an IntegrityError.
        statement = (
            self._insert()
            .values(values)
            .on_conflict_do_nothing(index_elements=[UserRow.name])
            .returning(UserRow)
        )
        try:
            row = (await self._session.execute(statement)).scalar_one_or_none()
        except IntegrityError as error:
            raise UserExists(f"a user named {name!r} or holding this token exists") from error
        if row is None:
            raise UserExists(f"a user named {name!r} already exists")
        return UserRecord.model_validate(row)

    async def by_token(self, token: str) -> UserRecord | None:
        """The enabled user holding `token`, if any."""
        row = await self._session.scalar(
            select(UserRow).where(
                UserRow.token_hash == hash_token(token), UserRow.disabled.is_(False)
            )
        )
        return None if row is None else UserRecord.model_validate(row)

    async def by_name(self, name: str) -> UserRecord | None:
        row = await self._session.scalar(select(UserRow).where(UserRow.name == name))
        return None if row is None else UserRecord.model_validate(row)

    async def set_password(self, name: str, password: str) -> bool:
        """Give `name` a new web console password; False if there is no such user."""
        hashed = await asyncio.to_thread(hash_password, password)
        changed = await self._session.execute(
            update(UserRow).where(UserRow.name == name).values(password_hash=hashed)
        )
        return bool(changed.rowcount)  # type: ignore[attr-defined]

    async def authenticate(self, name: str, password: str) -> UserRecord | None:
        """The enabled user `name` if `password` is theirs. As slow for an unknown name,
        a disabled user or one without a password as for a wrong password."""
        row = await self._session.scalar(select(UserRow).where(UserRow.name == name))
        if row is None or row.password_hash is None or row.disabled:
            await asyncio.to_thread(dummy_verify, password)
            return None
        if not await asyncio.to_thread(verify_password, password, row.password_hash):
            return None
        if needs_rehash(row.password_hash):
            row.password_hash = await asyncio.to_thread(hash_password, password)
        return UserRecord.model_validate(row)

    async def list(self) -> builtins.list[UserRecord]:
        rows = await self._session.scalars(select(UserRow).order_by(UserRow.name))
        return [UserRecord.model_validate(row) for row in rows]

    async def count(self) -> int:
        return await self._session.scalar(select(func.count()).select_from(UserRow)) or 0

    async def missing_names(self, names: Iterable[str]) -> set[str]:
        """Which of `names` are not users, e.g. to refuse assigning a stranger."""
        wanted = set(names)
        if not wanted:
            return set()
        found = await self._session.scalars(select(UserRow.name).where(UserRow.name.in_(wanted)))
        return wanted - set(found)

    def _insert(self) -> Any:
        if self._session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(UserRow)
        return sqlite.insert(UserRow)


async def create_user(
    db: Database, name: str, roles: Iterable[Role], password: str | None = None
) -> tuple[UserRecord, str]:
    """Create a user (with a web console password, if given) and commit; the plain
    token is returned here and nowhere else."""
    token = issue_token()
    async with db.session() as session:
        users = UserRepository(session)
        user = await users.create(name, roles, token)
        if password is not None:
            await users.set_password(name, password)
        await session.commit()
    return user, token


async def bootstrap_admin(db: Database, token: str | None, token_file: Path) -> str | None:
    """On an empty users table, create "admin" and save its token to `token_file`.

    Returns the token when this call created the admin, else None: users exist
    already (a given `token` then changes nothing), or another process won the race.
    """
    async with db.session() as session:
        users = UserRepository(session)
        if await users.count() > 0:
            return None
        token = token or issue_token()
        try:
            await users.create(ADMIN_NAME, {Role.ADMIN}, token)
        except UserExists:
            return None
        # Written while the new row is still uncommitted: only the process whose insert
        # succeeded writes the file, and if writing fails, no admin without a token remains.
        await asyncio.to_thread(_write_secret, token_file, token)
        await session.commit()
    return token


def _write_secret(path: Path, secret: str) -> None:
    """Replace `path` atomically with a file only its owner can read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        # mkstemp creates the file with mode 0600 already.
        with os.fdopen(descriptor, "w") as file:
            file.write(secret)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
