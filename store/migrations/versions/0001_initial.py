"""Incidents, their timeline, incident numbers and users.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

json_document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def timestamp(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "incident_ids",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        timestamp("allocated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_incident_ids"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("impact", sa.Integer(), nullable=False),
        sa.Column("urgency", sa.Integer(), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("category", sa.String(200), nullable=True),
        sa.Column("service", sa.String(200), nullable=True),
        sa.Column("commander", sa.String(100), nullable=True),
        sa.Column("responders", json_document, nullable=False),
        sa.Column("declared_by", sa.String(100), nullable=False),
        timestamp("declared_at"),
        timestamp("updated_at"),
        timestamp("acknowledged_at", nullable=True),
        timestamp("resolved_at", nullable=True),
        timestamp("closed_at", nullable=True),
        sa.Column("process_name", sa.String(200), nullable=False),
        sa.Column("process_version", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("snapshot", json_document, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_state", "incidents", ["state"])
    op.create_index("ix_incidents_priority", "incidents", ["priority"])
    op.create_index("ix_incidents_service", "incidents", ["service"])
    op.create_index(
        "ix_incidents_declared_at", "incidents", [sa.text("declared_at DESC"), sa.text("id DESC")]
    )
    op.create_table(
        "timeline_events",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        timestamp("at"),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("details", json_document, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_timeline_events"),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_timeline_events_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("incident_id", "seq", name="uq_timeline_events_incident_id_seq"),
    )
    op.create_index("ix_timeline_events_incident_id_seq", "timeline_events", ["incident_id", "seq"])
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("roles", json_document, nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        timestamp("created_at"),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
        sa.UniqueConstraint("token_hash", name="uq_users_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_index("ix_timeline_events_incident_id_seq", table_name="timeline_events")
    op.drop_table("timeline_events")
    op.drop_index("ix_incidents_declared_at", table_name="incidents")
    op.drop_index("ix_incidents_service", table_name="incidents")
    op.drop_index("ix_incidents_priority", table_name="incidents")
    op.drop_index("ix_incidents_state", table_name="incidents")
    op.drop_table("incidents")
    op.drop_table("incident_ids")
