"""Subscriptions: people and channels following a service, priorities or one incident.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("subscriber", sa.String(120), nullable=False),
        sa.Column("scope", sa.String(240), nullable=False),
        sa.Column("user_name", sa.String(100), nullable=True),
        sa.Column("channel", sa.String(100), nullable=True),
        sa.Column("service", sa.String(200), nullable=True),
        sa.Column("priority_highest", sa.Integer(), nullable=True),
        sa.Column("priority_lowest", sa.Integer(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("include_internal", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.UniqueConstraint("subscriber", "scope", name="uq_subscriptions_subscriber"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_subscriptions_service", "subscriptions", ["service"])
    op.create_index("ix_subscriptions_incident_id", "subscriptions", ["incident_id"])


def downgrade() -> None:
    op.drop_table("subscriptions")
