"""The read model's database: one async engine, sessions, and migrations on start; on
an SQLite file also a synchronous engine, for work done in one go on a thread."""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS = Path(__file__).parent / "migrations"

# Any constant works; every process migrating the same PostgreSQL database takes it.
_MIGRATION_LOCK_KEY = 0x7661677401  # "vagt", 1

_T = TypeVar("_T")

_ASYNC_DRIVERS = {"postgresql": "asyncpg", "postgres": "asyncpg", "sqlite": "aiosqlite"}


def normalise_url(url: str) -> str:
    """The async-driver form of a PostgreSQL or SQLite URL; other URLs are returned unchanged."""
    scheme, separator, rest = url.partition("://")
    dialect = scheme.partition("+")[0]
    if not separator or dialect not in _ASYNC_DRIVERS:
        return url
    if dialect == "postgres":
        dialect = "postgresql"
    return f"{dialect}+{_ASYNC_DRIVERS[dialect]}://{rest}"


class Database:
    """One engine and session factory; repositories get sessions, callers commit."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        self.url = make_url(normalise_url(url))
        self.schema = schema
        connect_args: dict[str, Any] = {}
        if self.is_sqlite:
            _create_parent_dir(self.url.database)
        elif self.is_postgresql and schema is not None:
            connect_args["server_settings"] = {"search_path": schema}
        self.engine = create_async_engine(
            self.url,
            connect_args=connect_args,
            # A PostgreSQL connection can die under the pool (a restart, a failover):
            # each checkout tests it first. An SQLite file's cannot, and the test would
            # cost every transaction an extra statement.
            pool_pre_ping=not self.is_sqlite,
            json_serializer=_json_without_nul,
        )
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _configure_sqlite)
        event.listen(
            self.engine.sync_engine, "before_cursor_execute", _parameters_without_nul, retval=True
        )
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._thread_engine: Engine | None = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    def session(self) -> AsyncSession:
        """A new session, used as `async with db.session() as session:`; uncommitted work is
        rolled back when the block ends."""
        return self._sessions()

    def thread_engine(self) -> Engine | None:
        """A synchronous engine on the same SQLite file, for a transaction run whole on
        a thread of its own; None for PostgreSQL and for SQLite in memory (which another
        engine cannot share).

        Through the async driver every statement of a transaction is a few round trips
        to aiosqlite's thread and back to the event loop; a transaction of a handful of
        statements done in one go on a thread costs a quarter of the CPU (the
        projection's writer, store/projection.py).
        """
        database = self.url.database
        if not self.is_sqlite or not database or database == ":memory:":
            return None
        if database.startswith("file:"):
            return None
        if self._thread_engine is None:
            engine = create_engine(
                self.url.set(drivername="sqlite"),
                json_serializer=_json_without_nul,
                # Its connections are used by whichever thread runs the transaction.
                connect_args={"check_same_thread": False},
            )
            event.listen(engine, "connect", _configure_sqlite)
            event.listen(engine, "before_cursor_execute", _parameters_without_nul, retval=True)
            self._thread_engine = engine
        return self._thread_engine

    async def in_transaction(self, work: Callable[..., _T], *args: Any) -> _T:
        """`work(connection, *args)` in a transaction of its own, committed when it
        returns: on an SQLite file whole on a thread (`thread_engine`), otherwise through
        the async engine's `run_sync`."""
        engine = self.thread_engine()
        if engine is not None:
            return await asyncio.to_thread(_in_transaction_on, engine, work, *args)
        async with self.engine.begin() as connection:
            return await connection.run_sync(work, *args)

    async def migrate(self) -> None:
        """Bring the schema to the newest migration; safe when several processes start at once."""
        for attempt in range(1, _MIGRATION_ATTEMPTS + 1):
            try:
                await self._migrate()
                return
            except OperationalError as error:
                # SQLite may refuse at once ("database is locked") instead of waiting
                # out busy_timeout, when another process is migrating the same file. The
                # whole upgrade is one transaction, so trying again starts clean.
                if not self.is_sqlite or "locked" not in str(error):
                    raise
                if attempt == _MIGRATION_ATTEMPTS:
                    raise
                await asyncio.sleep(0.1 * attempt)

    async def _migrate(self) -> None:
        async with self.engine.connect() as connection:
            # One transaction around the whole upgrade, taken before Alembic reads its
            # version table: a second process waits here, then finds nothing to do.
            if self.is_postgresql:
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            elif self.is_sqlite:
                # The sqlite3 driver would run DDL outside any transaction; IMMEDIATE takes
                # the write lock up front, so concurrent migrations queue on busy_timeout.
                await connection.exec_driver_sql("BEGIN IMMEDIATE")
            await connection.run_sync(_upgrade_to_head)
            await connection.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._thread_engine is not None:
            self._thread_engine.dispose()


_MIGRATION_ATTEMPTS = 10


def _in_transaction_on(engine: Engine, work: Callable[..., _T], *args: Any) -> _T:
    with engine.begin() as connection:
        return work(connection, *args)


def _upgrade_to_head(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _create_parent_dir(database: str | None) -> None:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)


# PostgreSQL refuses the NUL character in text and in JSON, while JSON allows it in any
# string a person or a sender sends. Every database stores U+FFFD in its place, so such a
# write never fails (a projection would retry forever) and reads back alike everywhere.
_NUL, _REPLACEMENT = "\x00", "\ufffd"


def without_nul(value: Any) -> Any:
    """`value` with every NUL in its strings, keys included, replaced."""
    if isinstance(value, str):
        return value.replace(_NUL, _REPLACEMENT)
    if isinstance(value, dict):
        return {without_nul(key): without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    if isinstance(value, tuple):
        return tuple(without_nul(item) for item in value)
    return value


def _holds_nul(value: Any) -> bool:
    """Whether any string in `value`, keys included, holds a NUL."""
    if isinstance(value, str):
        return _NUL in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False


class JsonText(str):
    """A JSON document serialized already (pydantic's `model_dump_json` is several times
    quicker than `model_dump` and `json.dumps`): stored as it is."""


def _json_without_nul(value: Any) -> str:
    if isinstance(value, JsonText):
        if "\\u0000" not in value:
            return str(value)
        value = json.loads(value)
    text = json.dumps(value)
    # Most documents hold no NUL: one scan of the text instead of a walk of the value.
    # (The escape may also be the tail of an escaped backslash; the walk is then exact.)
    return json.dumps(without_nul(value)) if "\\u0000" in text else text


def _parameters_without_nul(
    connection: Any,
    cursor: Any,
    statement: str,
    parameters: Any,
    context: Any,
    executemany: bool,
) -> tuple[str, Any]:
    # A look first, and a copy only of the rare parameters that hold a NUL: a projection
    # sends a few dozen values, and copying each of them cost a tenth of its write.
    if not parameters:
        return statement, parameters
    rows = parameters if executemany else (parameters,)
    for row in rows:
        for value in row.values() if isinstance(row, dict) else row:
            if isinstance(value, str):
                if _NUL in value:
                    return statement, without_nul(parameters)
            elif isinstance(value, list | tuple | dict) and _holds_nul(value):
                return statement, without_nul(parameters)
    return statement, parameters


def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    # WAL lets the API read while a worker writes; busy_timeout makes writers queue
    # instead of failing at once; SQLite leaves foreign keys off unless asked.
    # synchronous=NORMAL syncs the WAL at checkpoints rather than at every commit: a
    # crashed process loses nothing, a power cut may lose the last commits of this read
    # model (never of Temporal's histories, the record). Production runs PostgreSQL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
