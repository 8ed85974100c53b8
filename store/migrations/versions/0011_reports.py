"""Reports: each incident's facts, review action items, and reports sent once.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The worker fills it for incidents projected before it existed (store.reports).
    op.create_table(
        "incident_facts",
        sa.Column("incident_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("history_length", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("service", sa.String(200), nullable=True),
        sa.Column("category", sa.String(200), nullable=True),
        sa.Column("integration", sa.String(100), nullable=True),
        sa.Column("dedup_key", sa.Text(), nullable=True),
        sa.Column("root_cause_category", sa.String(200), nullable=True),
        sa.Column("declared_at", _AT, nullable=False),
        sa.Column("declared_day", sa.Date(), nullable=False),
        sa.Column("declared_week", sa.Date(), nullable=False),
        sa.Column("closed_at", _AT, nullable=True),
        sa.Column("closed_day", sa.Date(), nullable=True),
        sa.Column("closed_week", sa.Date(), nullable=True),
        sa.Column("acknowledge_seconds", sa.Float(), nullable=True),
        sa.Column("resolve_seconds", sa.Float(), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("state_since", sa.Float(), nullable=False),
        *(
            sa.Column(f"{state}_seconds", sa.Float(), nullable=True)
            for state in (
                "detected",
                "triaged",
                "acknowledged",
                "on_hold",
                "resolved",
                "in_review",
            )
        ),
        sa.Column("acknowledge_clock", sa.String(16), nullable=True),
        sa.Column("resolve_clock", sa.String(16), nullable=True),
        sa.Column("review_clock", sa.String(16), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_incident_facts_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("incident_id", name="pk_incident_facts"),
    )
    op.create_index("ix_incident_facts_declared_at", "incident_facts", ["declared_at"])
    op.create_index("ix_incident_facts_closed_at", "incident_facts", ["closed_at"])

    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("review_seq", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", _AT, nullable=False),
        sa.Column("updated_at", _AT, nullable=False),
        sa.Column("updated_by", sa.String(100), nullable=False),
        sa.Column("finished_at", _AT, nullable=True),
        sa.Column("reminded_for", sa.Date(), nullable=True),
        sa.Column("reminded_at", _AT, nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incidents.id"],
            name="fk_action_items_incident_id_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_action_items"),
        sa.UniqueConstraint(
            "incident_id", "review_seq", "position", name="uq_action_items_incident_id"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_action_items_state_due_date", "action_items", ["state", "due_date"])
    op.create_index("ix_action_items_owner_state", "action_items", ["owner", "state"])

    op.create_table(
        "report_deliveries",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("sent_at", _AT, nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_report_deliveries"),
    )


def downgrade() -> None:
    op.drop_table("report_deliveries")
    op.drop_index("ix_action_items_owner_state", table_name="action_items")
    op.drop_index("ix_action_items_state_due_date", table_name="action_items")
    op.drop_table("action_items")
    op.drop_index("ix_incident_facts_closed_at", table_name="incident_facts")
    op.drop_index("ix_incident_facts_declared_at", table_name="incident_facts")
    op.drop_table("incident_facts")
