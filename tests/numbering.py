"""Incident numbers of a test's own.

Tests share Temporal servers, and each has a fresh read model. Numbered from 1, every
test's incidents would be incident-1, incident-2 and so on, and an incident number
names one workflow run for good (a number whose incident closed is never given to a
second): each test would skip past every number the tests before it used. So each
fresh read model numbers from a random point of its own instead.
"""

import random
from datetime import UTC, datetime

from sqlalchemy import Connection, text

from store.db import Database

# Far below the read model's largest id (2**31 - 1), with room for any test's incidents;
# and above the small numbers tests use for incidents that do not exist.
_FIRST = 1_000_000
_LAST = 2**31 - 1_000_000


async def number_incidents_from(database: Database, first: int) -> None:
    """Make `first` the next number `database` hands out (two databases numbered from
    the same point stand for a read model and an older backup of it)."""
    await database.in_transaction(_number_from, first)


async def fresh_numbering(database: Database) -> None:
    """Number `database`'s incidents from a random point."""
    await number_incidents_from(database, random.randrange(_FIRST, _LAST))


def _number_from(connection: Connection, first: int) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence('incident_ids', 'id'), :last)"),
            {"last": first - 1},
        )
        return
    # SQLite's AUTOINCREMENT goes on from the largest number it ever gave, deleted or not.
    connection.execute(
        text("INSERT INTO incident_ids (id, allocated_at) VALUES (:last, :now)"),
        {"last": first - 1, "now": datetime.now(UTC)},
    )
    connection.execute(text("DELETE FROM incident_ids WHERE id = :last"), {"last": first - 1})
