"""The read model's tables. The migrations create exactly these; a test keeps them in sync.
Beyond them, on SQLite only: migration 0014's full-text table, `SQLITE_TEXT_INDEX`."""

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware timestamp that always reads back as aware UTC.

    SQLite has no timestamp type and drops the offset, so values are stored as
    UTC and marked UTC again on the way out; PostgreSQL's timestamptz keeps it.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the read model stores aware times only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL so reports can index into details later; plain JSON text elsewhere.
JSONDocument = JSON().with_variant(JSONB(), "postgresql")

# Explicit constraint names, so migrations can refer to them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSONDocument,
    }


metadata = Base.metadata


class IncidentIdRow(Base):
    """One row per allocated incident number; the autoincrement is the allocator."""

    __tablename__ = "incident_ids"
    # AUTOINCREMENT on SQLite so a number is never handed out twice, even after deletes.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    allocated_at: Mapped[datetime]
    # The alert group's name for the opening this number is for (a retried allocation
    # gets the same number back); null for numbers the API allocates.
    opening: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)


class IncidentRow(Base):
    """The latest projected state of one incident, with the columns lists filter on."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(32))
    impact: Mapped[int]
    urgency: Mapped[int]
    priority: Mapped[str] = mapped_column(String(8))
    category: Mapped[str | None] = mapped_column(String(200))
    service: Mapped[str | None] = mapped_column(String(200))
    commander: Mapped[str | None] = mapped_column(String(100))
    responders: Mapped[list[str]] = mapped_column(JSONDocument)
    declared_by: Mapped[str] = mapped_column(String(100))
    declared_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    process_name: Mapped[str] = mapped_column(String(200))
    process_version: Mapped[int]
    # Kept by the projection from the incident's clocks, for the "breached" and
    # "at risk" filters: a warning or breach is an event, so they are never stale.
    sla_breached: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    sla_at_risk: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Incident.seq of the stored snapshot, and the length of the workflow's history when
    # it was projected: a projection only wins with a higher pair. The second breaks a
    # tie between two attempts at the same workflow task (the first one's completion
    # lost with a worker or with Temporal): the later attempt, the one that counts, has
    # the longer history.
    version: Mapped[int]
    history_length: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    snapshot: Mapped[dict[str, Any]]


# Lists show the newest first; the index matches that order, ties broken by number.
Index("ix_incidents_declared_at", IncidentRow.declared_at.desc(), IncidentRow.id.desc())
# One per list filter, in the list's order: a filtered page and its count come from the
# index alone instead of fetching and sorting every matching row with its snapshot.
for _column in (
    IncidentRow.state,
    IncidentRow.priority,
    IncidentRow.service,
    IncidentRow.sla_breached,
    IncidentRow.sla_at_risk,
):
    Index(
        f"ix_incidents_{_column.key}_declared_at",
        _column,
        IncidentRow.declared_at.desc(),
        IncidentRow.id.desc(),
    )
# The `q` search. PostgreSQL: trigram GIN (pg_trgm; migration 0006 creates the
# extension and names its schema), which serves ILIKE '%text%'. SQLite: a trigram FTS5
# table (`SQLITE_TEXT_INDEX`), and this plain index, a narrow copy of both columns that
# a search too short for trigrams scans instead of the whole table.
Index(
    "ix_incidents_text",
    IncidentRow.title,
    IncidentRow.description,
    postgresql_using="gin",
    postgresql_ops={"title": "gin_trgm_ops", "description": "gin_trgm_ops"},
)


class TimelineEventRow(Base):
    __tablename__ = "timeline_events"
    __table_args__ = (
        UniqueConstraint("incident_id", "seq", name="uq_timeline_events_incident_id_seq"),
        Index("ix_timeline_events_incident_id_seq", "incident_id", "seq"),
        # /metrics counts failed notifications by kind on every scrape.
        Index("ix_timeline_events_kind", "kind"),
    )

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    seq: Mapped[int]
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(32))
    # As IncidentRow.history_length: a later attempt at the same step rewrites the event.
    history_length: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    details: Mapped[dict[str, Any]]


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    roles: Mapped[list[str]] = mapped_column(JSONDocument)
    # sha256 hex of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # For the web console: scrypt, salted (store.passwords); none until one is set.
    password_hash: Mapped[str | None] = mapped_column(String(200))


class WebSessionRow(Base):
    """A signed-in browser: the cookie's hash, whose it is, and its CSRF token."""

    __tablename__ = "web_sessions"

    # sha256 hex of the cookie's value, as for tokens.
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class IntegrationRow(Base):
    """A monitoring tool allowed to send alerts; its settings and a hash of its key."""

    __tablename__ = "integrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Names the integration's alert groups in Temporal. Unlike `id` it is never
    # reused, even by a read model restored from a backup or made anew.
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    format: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean)
    routing: Mapped[dict[str, Any]]
    resolve_on_recovery: Mapped[bool] = mapped_column(Boolean)
    rate_limit_per_minute: Mapped[int]
    # sha256 hex of the key, as for user tokens; the key itself is shown once.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The key's first characters, so people can tell which key a sender holds.
    key_hint: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ChangeEventRow(Base):
    """A change a sender reported (a deploy, a config push): context for responders, never paged."""

    __tablename__ = "change_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    integration_id: Mapped[int] = mapped_column(ForeignKey("integrations.id", ondelete="CASCADE"))
    service: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    # The sender's timestamp when it gave one, else when Vagt received the event.
    happened_at: Mapped[datetime]
    received_at: Mapped[datetime]
    details: Mapped[dict[str, Any]]
    links: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)


# Lists show the newest first, for one service or all; ties broken by id.
Index(
    "ix_change_events_service_happened_at",
    ChangeEventRow.service,
    ChangeEventRow.happened_at.desc(),
    ChangeEventRow.id.desc(),
)
Index("ix_change_events_happened_at", ChangeEventRow.happened_at.desc(), ChangeEventRow.id.desc())


class ProcessVersionRow(Base):
    """One version of a named incident process: a draft until published, then frozen."""

    __tablename__ = "process_versions"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # "draft" (editable) or "published" (immutable; the newest published is current).
    state: Mapped[str] = mapped_column(String(16))
    # The whole ProcessDefinition, with its name and version.
    definition: Mapped[dict[str, Any]]
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    published_by: Mapped[str | None] = mapped_column(String(100))
    published_at: Mapped[datetime | None]


class WhatIfRunRow(Base):
    """One what-if: a process version walked again over a set of past incidents."""

    __tablename__ = "what_if_runs"
    # Never reused (AUTOINCREMENT on SQLite): the number names the run's workflow.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    process_name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    # The version's definition as it was asked about: a draft may change meanwhile.
    definition: Mapped[dict[str, Any]]
    # Which incidents: the request's period and filter.
    filter: Mapped[dict[str, Any]]
    # "running", "completed" or "failed".
    status: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime]
    # Incidents matching the filter when it was asked, and how many are done so far.
    total: Mapped[int]
    examined: Mapped[int]
    # The highest incident number examined: the next page starts after it. A page's
    # write moves it only from the value the page started at, so a page is counted once.
    cursor: Mapped[int]
    totals: Mapped[dict[str, Any]]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


Index(
    "ix_what_if_runs_process_name_version",
    WhatIfRunRow.process_name,
    WhatIfRunRow.version,
    WhatIfRunRow.id.desc(),
)


class WhatIfOutcomeRow(Base):
    """One incident of a what-if: its breaches and pages, recorded and simulated."""

    __tablename__ = "what_if_outcomes"
    __table_args__ = (
        Index("ix_what_if_outcomes_run_id_changed", "run_id", "changed", "incident_id"),
    )

    run_id: Mapped[int] = mapped_column(
        ForeignKey("what_if_runs.id", ondelete="CASCADE"), primary_key=True
    )
    incident_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(200))
    priority: Mapped[str] = mapped_column(String(8))
    declared_at: Mapped[datetime]
    changed: Mapped[bool] = mapped_column(Boolean)
    recorded: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    simulated: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    skipped: Mapped[list[str]] = mapped_column(JSONDocument)
    error: Mapped[str | None] = mapped_column(Text)


class IncidentFactsRow(Base):
    """One incident's part in the reports (domain.measures.IncidentFacts), kept by the
    projection beside the incident: narrow, so a report over 100,000 incidents reads
    these and never a snapshot."""

    __tablename__ = "incident_facts"

    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # As IncidentRow's: a projection only wins with a higher pair.
    version: Mapped[int]
    history_length: Mapped[int] = mapped_column(BigInteger)
    priority: Mapped[str] = mapped_column(String(8))
    service: Mapped[str | None] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(200))
    integration: Mapped[str | None] = mapped_column(String(100))
    dedup_key: Mapped[str | None] = mapped_column(Text)
    root_cause_category: Mapped[str | None] = mapped_column(String(200))
    declared_at: Mapped[datetime]
    # The UTC day of the declaration and of the closing: counts per day group by these,
    # alike on every database, in the order of their indexes (no sorting).
    declared_day: Mapped[date] = mapped_column(Date)
    closed_at: Mapped[datetime | None]
    closed_day: Mapped[date | None] = mapped_column(Date)
    acknowledge_seconds: Mapped[float | None] = mapped_column(Float)
    resolve_seconds: Mapped[float | None] = mapped_column(Float)
    reopened: Mapped[int]
    reviewed: Mapped[bool] = mapped_column(Boolean)
    # The current stay: its state, and since when as seconds since the epoch, so that
    # "now minus since" is plain arithmetic on every database.
    state: Mapped[str] = mapped_column(String(32))
    state_since: Mapped[float] = mapped_column(Float)
    # Seconds over the ended stays in each state; NULL for a state it never left.
    detected_seconds: Mapped[float | None] = mapped_column(Float)
    triaged_seconds: Mapped[float | None] = mapped_column(Float)
    acknowledged_seconds: Mapped[float | None] = mapped_column(Float)
    on_hold_seconds: Mapped[float | None] = mapped_column(Float)
    resolved_seconds: Mapped[float | None] = mapped_column(Float)
    in_review_seconds: Mapped[float | None] = mapped_column(Float)
    # Each clock's state (running, paused, met, breached); NULL where it does not run.
    acknowledge_clock: Mapped[str | None] = mapped_column(String(16))
    resolve_clock: Mapped[str | None] = mapped_column(String(16))
    review_clock: Mapped[str | None] = mapped_column(String(16))


# Every report filters on the period and on these; each index below ends with them, so
# a report reads the index alone, in the order it needs, and never the table's rows.
_FILTERED = (
    IncidentFactsRow.priority,
    IncidentFactsRow.service,
    IncidentFactsRow.category,
    IncidentFactsRow.integration,
)
# The period's incidents, grouped per day; the closings, likewise.
Index(
    "ix_incident_facts_declared_day",
    IncidentFactsRow.declared_day,
    IncidentFactsRow.declared_at,
    *_FILTERED,
)
Index(
    "ix_incident_facts_closed_day",
    IncidentFactsRow.closed_day,
    IncidentFactsRow.closed_at,
    *_FILTERED,
)
# Medians and 90th percentiles: the values walked in order up to the rank wanted.
for _measure in (IncidentFactsRow.acknowledge_seconds, IncidentFactsRow.resolve_seconds):
    Index(f"ix_incident_facts_{_measure.key}", _measure, IncidentFactsRow.declared_at, *_FILTERED)
# The open incidents (few, where most are closed): their current stays, per state.
Index(
    "ix_incident_facts_open",
    IncidentFactsRow.state,
    IncidentFactsRow.declared_at,
    IncidentFactsRow.state_since,
    *_FILTERED,
    IncidentFactsRow.detected_seconds,
    IncidentFactsRow.triaged_seconds,
    IncidentFactsRow.acknowledged_seconds,
    IncidentFactsRow.on_hold_seconds,
    IncidentFactsRow.resolved_seconds,
    IncidentFactsRow.in_review_seconds,
    sqlite_where=IncidentFactsRow.state != "closed",
    postgresql_where=IncidentFactsRow.state != "closed",
)
# The incidents ever on hold (few): their time on hold, for its median and percentile.
Index(
    "ix_incident_facts_held",
    IncidentFactsRow.declared_at,
    IncidentFactsRow.on_hold_seconds,
    IncidentFactsRow.state,
    IncidentFactsRow.state_since,
    *_FILTERED,
    sqlite_where=text("on_hold_seconds IS NOT NULL OR state = 'on_hold'"),
    postgresql_where=text("on_hold_seconds IS NOT NULL OR state = 'on_hold'"),
)
# Recurrence: each group's count in the period and its latest incidents.
# The number breaks ties in the latest's order, as it does in the query.
Index(
    "ix_incident_facts_dedup_key",
    IncidentFactsRow.integration,
    IncidentFactsRow.dedup_key,
    IncidentFactsRow.declared_at,
    IncidentFactsRow.incident_id,
)
for _group in (IncidentFactsRow.service, IncidentFactsRow.root_cause_category):
    Index(
        f"ix_incident_facts_{_group.key}",
        _group,
        IncidentFactsRow.declared_at,
        IncidentFactsRow.incident_id,
    )


class ReportDayRow(Base):
    """Per UTC day and priority: the counts and sums of the incidents declared that day
    (and how many closed that day), kept by the projection as their facts change. A
    report over whole days without other filters adds these up instead of reading every
    incident's facts."""

    __tablename__ = "report_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    priority: Mapped[str] = mapped_column(String(8), primary_key=True)
    incidents: Mapped[int] = mapped_column(BigInteger)
    closed: Mapped[int] = mapped_column(BigInteger)  # closed that day, whenever declared
    acknowledged: Mapped[int] = mapped_column(BigInteger)
    acknowledge_seconds: Mapped[float] = mapped_column(Float)
    resolved: Mapped[int] = mapped_column(BigInteger)
    resolve_seconds: Mapped[float] = mapped_column(Float)
    reopened: Mapped[int] = mapped_column(BigInteger)
    # Per state: incidents with an ended stay in it, and the seconds of those stays.
    detected_stays: Mapped[int] = mapped_column(BigInteger)
    detected_seconds: Mapped[float] = mapped_column(Float)
    triaged_stays: Mapped[int] = mapped_column(BigInteger)
    triaged_seconds: Mapped[float] = mapped_column(Float)
    acknowledged_stays: Mapped[int] = mapped_column(BigInteger)
    acknowledged_seconds: Mapped[float] = mapped_column(Float)
    on_hold_stays: Mapped[int] = mapped_column(BigInteger)
    on_hold_seconds: Mapped[float] = mapped_column(Float)
    resolved_stays: Mapped[int] = mapped_column(BigInteger)
    resolved_seconds: Mapped[float] = mapped_column(Float)
    in_review_stays: Mapped[int] = mapped_column(BigInteger)
    in_review_seconds: Mapped[float] = mapped_column(Float)
    # Per clock: met, breached, and running (any state).
    acknowledge_met: Mapped[int] = mapped_column(BigInteger)
    acknowledge_breached: Mapped[int] = mapped_column(BigInteger)
    acknowledge_clocks: Mapped[int] = mapped_column(BigInteger)
    resolve_met: Mapped[int] = mapped_column(BigInteger)
    resolve_breached: Mapped[int] = mapped_column(BigInteger)
    resolve_clocks: Mapped[int] = mapped_column(BigInteger)
    review_met: Mapped[int] = mapped_column(BigInteger)
    review_breached: Mapped[int] = mapped_column(BigInteger)
    review_clocks: Mapped[int] = mapped_column(BigInteger)


class ActionItemRow(Base):
    """An action item of an approved review, tracked until done or dropped."""

    __tablename__ = "action_items"
    __table_args__ = (
        # One row per item of one approval: the projection inserts them idempotently.
        UniqueConstraint(
            "incident_id", "review_seq", "position", name="uq_action_items_incident_id"
        ),
        Index("ix_action_items_state_due_date", "state", "due_date"),
        Index("ix_action_items_owner_state", "owner", "state"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    # The approval's event number on the incident's timeline, and the item's place in
    # the review.
    review_seq: Mapped[int]
    position: Mapped[int]
    description: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(100))
    due_date: Mapped[date] = mapped_column(Date)
    # "open", "done" or "dropped" (not to be done, with why in the note).
    state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(100))
    finished_at: Mapped[datetime | None]
    # The due date its overdue reminder was sent for: a new due date earns a new one.
    reminded_for: Mapped[date | None] = mapped_column(Date)
    reminded_at: Mapped[datetime | None]


class ReportDeliveryRow(Base):
    """A report sent once for good, such as one week's digest: its key, and when."""

    __tablename__ = "report_deliveries"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    channel: Mapped[str] = mapped_column(String(100))
    sent_at: Mapped[datetime]
    detail: Mapped[str] = mapped_column(Text)


class SubscriptionRow(Base):
    """A person or channel following a service, a range of priorities or one incident
    (domain/subscriptions.py)."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        # Subscribing twice to the same scope finds the first subscription.
        UniqueConstraint("subscriber", "scope", name="uq_subscriptions_subscriber"),
        Index("ix_subscriptions_service", "service"),
        Index("ix_subscriptions_incident_id", "incident_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # "user:alice" or "channel:status-page", and the scope as text ("service:checkout",
    # "priorities:P1-P2", "incident:12"): together, the subscription's identity.
    subscriber: Mapped[str] = mapped_column(String(120))
    scope: Mapped[str] = mapped_column(String(240))
    user_name: Mapped[str | None] = mapped_column(String(100))
    channel: Mapped[str | None] = mapped_column(String(100))
    service: Mapped[str | None] = mapped_column(String(200))
    # 1 for P1 to 5 for P5, both ends included.
    priority_highest: Mapped[int | None]
    priority_lowest: Mapped[int | None]
    incident_id: Mapped[int | None]
    include_internal: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


# Migration 0014's FTS5 table over the incidents' titles and descriptions, on SQLite
# only, with the tables FTS5 keeps its index in (`incidents_text_data` and so on).
# SQLAlchemy cannot describe a virtual table; store.incidents queries it by name.
SQLITE_TEXT_INDEX = "incidents_text"


def is_modelled(
    item: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's `include_object`: whether a schema object is one these models describe,
    so that comparing the database with them passes over the full-text tables."""
    return not (type_ == "table" and name is not None and name.startswith(SQLITE_TEXT_INDEX))
