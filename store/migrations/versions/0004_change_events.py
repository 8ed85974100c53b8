"""Change events: deploys and other changes senders report, listed next to incidents.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

json_document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def timestamp(name: str) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "change_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("service", sa.String(200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        timestamp("happened_at"),
        timestamp("received_at"),
        sa.Column("details", json_document, nullable=False),
        sa.Column("links", json_document, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_change_events"),
        sa.ForeignKeyConstraint(
            ["integration_id"],
            ["integrations.id"],
            name="fk_change_events_integration_id_integrations",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_change_events_service_happened_at",
        "change_events",
        ["service", sa.text("happened_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "ix_change_events_happened_at",
        "change_events",
        [sa.text("happened_at DESC"), sa.text("id DESC")],
    )


def downgrade() -> None:
    op.drop_index("ix_change_events_happened_at", table_name="change_events")
    op.drop_index("ix_change_events_service_happened_at", table_name="change_events")
    op.drop_table("change_events")
