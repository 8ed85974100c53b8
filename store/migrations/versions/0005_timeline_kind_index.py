"""An index on timeline_events.kind, for /metrics' count of failed notifications.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_timeline_events_kind", "timeline_events", ["kind"])


def downgrade() -> None:
    op.drop_index("ix_timeline_events_kind", table_name="timeline_events")
