"""Reports: each incident's facts, their sums per day, review action items, and reports
sent once.

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
_STATES = ["detected", "triaged", "acknowledged", "on_hold", "resolved", "in_review"]
_CLOCKS = ["acknowledge", "resolve", "review"]


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
        sa.Column("closed_at", _AT, nullable=True),
        sa.Column("closed_day", sa.Date(), nullable=True),
        sa.Column("acknowledge_seconds", sa.Float(), nullable=True),
        sa.Column("resolve_seconds", sa.Float(), nullable=True),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("state_since", sa.Float(), nullable=False),
        *(sa.Column(f"{state}_seconds", sa.Float(), nullable=True) for state in _STATES),
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
    # store.tables says what each serves.
    filtered = ["priority", "service", "category", "integration"]
    op.create_index(
        "ix_incident_facts_declared_day",
        "incident_facts",
        ["declared_day", "declared_at", *filtered],
    )
    op.create_index(
        "ix_incident_facts_closed_day", "incident_facts", ["closed_day", "closed_at", *filtered]
    )
    for measure in ("acknowledge_seconds", "resolve_seconds"):
        op.create_index(
            f"ix_incident_facts_{measure}", "incident_facts", [measure, "declared_at", *filtered]
        )
    open_only = sa.text("state != 'closed'")
    op.create_index(
        "ix_incident_facts_open",
        "incident_facts",
        [
            "state",
            "declared_at",
            "state_since",
            *filtered,
            "detected_seconds",
            "triaged_seconds",
            "acknowledged_seconds",
            "on_hold_seconds",
            "resolved_seconds",
            "in_review_seconds",
        ],
        sqlite_where=open_only,
        postgresql_where=open_only,
    )
    held = sa.text("on_hold_seconds IS NOT NULL OR state = 'on_hold'")
    op.create_index(
        "ix_incident_facts_held",
        "incident_facts",
        ["declared_at", "on_hold_seconds", "state", "state_since", *filtered],
        sqlite_where=held,
        postgresql_where=held,
    )
    op.create_index(
        "ix_incident_facts_dedup_key",
        "incident_facts",
        ["integration", "dedup_key", "declared_at", "incident_id"],
    )
    for group in ("service", "root_cause_category"):
        op.create_index(
            f"ix_incident_facts_{group}", "incident_facts", [group, "declared_at", "incident_id"]
        )

    counters = ["incidents", "closed", "acknowledged", "resolved", "reopened"]
    counters += [f"{state}_stays" for state in _STATES]
    counters += [f"{clock}_{n}" for clock in _CLOCKS for n in ("met", "breached", "clocks")]
    sums = ["acknowledge_seconds", "resolve_seconds", *(f"{s}_seconds" for s in _STATES)]
    op.create_table(
        "report_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in counters),
        *(sa.Column(name, sa.Float(), nullable=False) for name in sums),
        sa.PrimaryKeyConstraint("day", "priority", name="pk_report_days"),
    )

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
    op.drop_table("report_days")
    op.drop_table("incident_facts")  # and its indexes
