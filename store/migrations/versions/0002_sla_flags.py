"""SLA flags on incidents, for the "breached" and "at risk" list filters.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for column in ("sla_breached", "sla_at_risk"):
        op.add_column(
            "incidents",
            sa.Column(column, sa.Boolean(), server_default=sa.false(), nullable=False),
        )
        op.create_index(f"ix_incidents_{column}", "incidents", [column])


def downgrade() -> None:
    for column in ("sla_breached", "sla_at_risk"):
        op.drop_index(f"ix_incidents_{column}", table_name="incidents")
        op.drop_column("incidents", column)
