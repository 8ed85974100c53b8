"""The workflow's history length beside each projected snapshot and event.

Two attempts at one workflow task (the first one's completion lost when a worker or
Temporal died after its projection was written) project the same `seq` with different
content; the later attempt is the one in Temporal's history, and has the longer
history, so it now wins the tie instead of being skipped.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("incidents", "timeline_events")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table, sa.Column("history_length", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("history_length")
