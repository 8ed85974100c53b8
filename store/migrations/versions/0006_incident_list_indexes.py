"""Indexes for incident lists at scale: each filter with the list's order, and text search.

Each filter column (state, priority, service, the SLA flags) gets one index that also
holds the list's order (declared_at, id, newest first), replacing its single-column
index: a filtered page and its count are read from the index alone, in order, instead
of fetching and sorting every matching row. Title and description get a text index:
on PostgreSQL a trigram GIN index (pg_trgm), which serves the `q` search's ILIKE; on
SQLite a plain index, a narrow copy of both columns that the search scans instead of
the whole table with its snapshots.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILTERS = ("state", "priority", "service", "sla_breached", "sla_at_risk")
ORDER = (sa.text("declared_at DESC"), sa.text("id DESC"))


def upgrade() -> None:
    for column in FILTERS:
        op.drop_index(f"ix_incidents_{column}", table_name="incidents")
        op.create_index(f"ix_incidents_{column}_declared_at", "incidents", [column, *ORDER])
    if op.get_bind().dialect.name == "postgresql":
        schema = _trigram_schema()
        if schema is None:
            return  # `q` then scans the table: correct, slower at scale
        ops = f"{schema}.gin_trgm_ops"
        op.create_index(
            "ix_incidents_text",
            "incidents",
            ["title", "description"],
            postgresql_using="gin",
            postgresql_ops={"title": ops, "description": ops},
        )
    else:
        op.create_index("ix_incidents_text", "incidents", ["title", "description"])


def downgrade() -> None:
    op.drop_index("ix_incidents_text", table_name="incidents")
    for column in FILTERS:
        op.drop_index(f"ix_incidents_{column}_declared_at", table_name="incidents")
        op.create_index(f"ix_incidents_{column}", "incidents", [column])


def _trigram_schema() -> str | None:
    """The schema of pg_trgm, created if missing: in `public` when the migrating role may
    create there (so it outlives any one schema), else in the current schema. None when
    it cannot be created (a role without the right, or no contrib package): a warning,
    not a failed migration, since the index only speeds the search up."""
    bind = op.get_bind()
    op.execute(
        sa.text(
            """
            DO $$ BEGIN
                IF EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_trgm') THEN
                    RETURN;
                END IF;
                IF to_regnamespace('public') IS NOT NULL THEN
                    IF has_schema_privilege('public', 'CREATE') THEN
                        CREATE EXTENSION pg_trgm SCHEMA public;
                        RETURN;
                    END IF;
                END IF;
                CREATE EXTENSION pg_trgm;
            EXCEPTION WHEN OTHERS THEN
                RAISE WARNING 'pg_trgm could not be created (%): text search runs '
                    'without its index (migration 0006 shows how to add it)', SQLERRM;
            END $$
            """
        )
    )
    schema = bind.scalar(
        sa.text(
            "SELECT quote_ident(nspname) FROM pg_extension "
            "JOIN pg_namespace ON pg_namespace.oid = extnamespace WHERE extname = 'pg_trgm'"
        )
    )
    return None if schema is None else str(schema)
