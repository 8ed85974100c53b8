"""What-if runs: a process version walked again over past incidents, and each outcome.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

json_document = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "what_if_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("process_name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("definition", json_document, nullable=False),
        sa.Column("filter", json_document, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("examined", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("totals", json_document, nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_what_if_runs"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_what_if_runs_process_name_version",
        "what_if_runs",
        ["process_name", "version", sa.text("id DESC")],
    )
    op.create_table(
        "what_if_outcomes",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("declared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed", sa.Boolean(), nullable=False),
        sa.Column("recorded", json_document, nullable=False),
        sa.Column("simulated", json_document, nullable=False),
        sa.Column("skipped", json_document, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["what_if_runs.id"],
            name="fk_what_if_outcomes_run_id_what_if_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "incident_id", name="pk_what_if_outcomes"),
    )
    op.create_index(
        "ix_what_if_outcomes_run_id_changed",
        "what_if_outcomes",
        ["run_id", "changed", "incident_id"],
    )


def downgrade() -> None:
    op.drop_table("what_if_outcomes")
    op.drop_table("what_if_runs")
