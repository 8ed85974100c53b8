"""SQLite: the `q` search reads a trigram full-text index instead of scanning every row.

An FTS5 table with the trigram tokenizer over the incidents' titles and descriptions,
its content kept in `incidents` itself (external content) and kept in step by triggers.
A phrase of three or more characters finds the incidents containing it, ignoring case,
from the index: at 100,000 incidents 6 to 8 ms for a common word or a rare one in the
repository, where scanning the plain text index (migration 0006) took 20 to 47 ms by
the host's speed, and grew with the table. Searches of one or two characters still scan
that index, as does every search on an SQLite built without FTS5's trigram tokenizer
(before 3.34), where this migration creates nothing.
PostgreSQL's trigram GIN index (migration 0006) already serves the search.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# store.tables.SQLITE_TEXT_INDEX: spelled out, as a migration must not change later.
TABLE = "incidents_text"

_STATEMENTS = (
    f"""CREATE VIRTUAL TABLE {TABLE} USING fts5(
        title, description, content='incidents', content_rowid='id', tokenize='trigram'
    )""",
    f"""CREATE TRIGGER {TABLE}_insert AFTER INSERT ON incidents BEGIN
        INSERT INTO {TABLE}(rowid, title, description)
        VALUES (new.id, new.title, new.description);
    END""",
    # The projection's upsert sets every column: only a changed text touches the index.
    f"""CREATE TRIGGER {TABLE}_update AFTER UPDATE OF title, description ON incidents
    WHEN old.title IS NOT new.title OR old.description IS NOT new.description BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, title, description)
        VALUES ('delete', old.id, old.title, old.description);
        INSERT INTO {TABLE}(rowid, title, description)
        VALUES (new.id, new.title, new.description);
    END""",
    f"""CREATE TRIGGER {TABLE}_delete AFTER DELETE ON incidents BEGIN
        INSERT INTO {TABLE}({TABLE}, rowid, title, description)
        VALUES ('delete', old.id, old.title, old.description);
    END""",
    # The incidents already there.
    f"INSERT INTO {TABLE}({TABLE}) VALUES ('rebuild')",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite" or not _has_trigram_tokenizer():
        return
    for statement in _STATEMENTS:
        op.execute(sa.text(statement))


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "update", "delete"):
        op.execute(sa.text(f"DROP TRIGGER IF EXISTS {TABLE}_{trigger}"))
    op.execute(sa.text(f"DROP TABLE IF EXISTS {TABLE}"))


def _has_trigram_tokenizer() -> bool:
    """Whether this SQLite has FTS5 with the trigram tokenizer (3.34 and later, built
    with FTS5, as Python's own builds and the usual distributions' are)."""
    bind = op.get_bind()
    try:
        # A failed statement leaves SQLite's transaction (the whole upgrade) as it was.
        bind.execute(
            sa.text("CREATE VIRTUAL TABLE temp.vagt_probe USING fts5(x, tokenize='trigram')")
        )
    except sa.exc.OperationalError:
        return False
    bind.execute(sa.text("DROP TABLE temp.vagt_probe"))
    return True
