"""Incident numbers remember the alert group's opening they were allocated for.

The alert group starts its incidents from a local activity; a retried workflow task
allocates again, and gets its first number back instead of opening a second incident.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("incident_ids", sa.Column("opening", sa.String(64), nullable=True))
    op.create_index("ix_incident_ids_opening", "incident_ids", ["opening"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_incident_ids_opening", table_name="incident_ids")
    op.drop_column("incident_ids", "opening")
