"""The store's tables. Times are naive UTC (plain DateTime columns); phones, zips and ids are text.

SQLModel classes define the schema once; the data path uses their SQLAlchemy
`__table__` with Core statements so bulk work stays set-based.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, BigInteger, Column, DateTime, ForeignKey, Index, Integer, Text, event, text
from sqlmodel import Field, SQLModel

from ..fields import EXPORTED

# What `meta.schema_version` holds. Changes to the schema are named steps (store/migrations.py,
# recorded in `_migrations`); this number stays above 6 so that releases from before recorded
# migrations (which compare it with their own) refuse a store they cannot read.
SCHEMA_VERSION = 7

# Lead fields that rules, imports and exports know by name (docs/rules.md), in export order: see leadctl/fields.py.
LEAD_FIELDS = EXPORTED


def _lead_ref(table: str, column: str) -> Column:
    """A child row's lead: deleting the lead deletes the row (ON DELETE CASCADE)."""
    return Column(column, Integer, ForeignKey("leads.id", ondelete="CASCADE", name=f"fk_{table}_{column}"),
                  nullable=False)


class Migration(SQLModel, table=True):
    """A schema step (store/migrations.py) applied to this store, and when."""

    __tablename__ = "_migrations"
    name: str = Field(primary_key=True, max_length=200)
    applied_at: datetime = Field(sa_type=DateTime, nullable=False)


class Meta(SQLModel, table=True):
    """Key/value facts about the store: schema version, round-robin cursors."""

    __tablename__ = "meta"
    key: str = Field(primary_key=True, max_length=200)
    value: str = Field(sa_column=Column(Text, nullable=False))


class Lead(SQLModel, table=True):
    __tablename__ = "leads"
    __table_args__ = (
        Index("ix_leads_email", "email"),
        Index("ix_leads_phone", "phone"),
        Index("ix_leads_external_id", "external_id"),
        Index("ix_leads_stage", "stage"),
        # Per owner: what `report owners` counts of every lead (and lookups by owner, as ix_leads_owner did).
        Index("ix_leads_owner_facts", "owner", "stage", "stages_entered"),
        # What the funnel and source reports read of every lead, so they scan this index and
        # not the wide rows (and it serves what ix_leads_source did: lookups by source).
        Index("ix_leads_facts", "source", "stage", "stages_entered", "score", "created_at", "last_contacted_at"),
        Index("ix_leads_created_at", "created_at"),
        Index("ix_leads_assigned_at", "assigned_at"),  # the cron SLA check jumps to recent deadlines
        # The cron sweep's incremental inactivity scan (engine.remind): leads written since the
        # last sweep, and leads whose quiet period crossed a rule's threshold since then.
        Index("ix_leads_processed", "processed"),
        Index("ix_leads_last_activity_at", "last_activity_at"),
        # The contacted leads (first-response times of `report sources|owners`), without a scan of every lead.
        Index("ix_leads_contacted", "last_contacted_at", sqlite_where=text("last_contacted_at IS NOT NULL"),
              postgresql_where=text("last_contacted_at IS NOT NULL")),
    )

    id: Optional[int] = Field(default=None, primary_key=True)
    email: Optional[str] = Field(default=None, max_length=320)
    email_domain: Optional[str] = Field(default=None, max_length=255)
    phone: Optional[str] = Field(default=None, max_length=32)
    first_name: Optional[str] = Field(default=None, sa_column=Column(Text))
    last_name: Optional[str] = Field(default=None, sa_column=Column(Text))
    company: Optional[str] = Field(default=None, sa_column=Column(Text))
    title: Optional[str] = Field(default=None, sa_column=Column(Text))
    industry: Optional[str] = Field(default=None, sa_column=Column(Text))
    employees: Optional[int] = None
    annual_revenue: Optional[float] = None
    country: Optional[str] = Field(default=None, max_length=2)
    city: Optional[str] = Field(default=None, sa_column=Column(Text))
    source: Optional[str] = Field(default=None, sa_column=Column(Text))
    campaign: Optional[str] = Field(default=None, sa_column=Column(Text))
    stage: str = Field(default="new", max_length=100)
    stage_changed_at: Optional[datetime] = Field(default=None, sa_type=DateTime)
    # Every stage the lead's stage history shows, kept by store.history (see `stages_text`).
    stages_entered: Optional[str] = Field(default=None, sa_column=Column(Text))
    temperature: Optional[str] = Field(default=None, max_length=100)
    score: int = 0
    fit_score: int = 0
    engagement_score: int = 0
    grade: Optional[str] = Field(default=None, max_length=10)
    owner: Optional[str] = Field(default=None, max_length=200)
    team: Optional[str] = Field(default=None, max_length=200)
    assigned_at: Optional[datetime] = Field(default=None, sa_type=DateTime)
    assigned_manually: bool = False
    created_at: datetime = Field(sa_type=DateTime, nullable=False)
    updated_at: datetime = Field(sa_type=DateTime, nullable=False)
    last_activity_at: Optional[datetime] = Field(default=None, sa_type=DateTime)
    last_contacted_at: Optional[datetime] = Field(default=None, sa_type=DateTime)
    do_not_contact: bool = False
    # Consent per channel (engine/consent.py): granted | unknown | opted_out | bounced (None: unknown);
    # `consent` holds each channel's reason and date. do_not_contact still means every channel opted out.
    consent_email: Optional[str] = Field(default=None, max_length=20)
    consent_phone: Optional[str] = Field(default=None, max_length=20)
    consent_sms: Optional[str] = Field(default=None, max_length=20)
    consent: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    external_id: Optional[str] = Field(default=None, max_length=255)
    # A LinkedIn profile URL, normalised to https://www.linkedin.com/in/<slug>: an identity of its own.
    linkedin: Optional[str] = Field(default=None, max_length=255)
    attributes: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    # The stored explanation of the last scoring/qualification: every rule that fired.
    explanation: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    batch_id: Optional[int] = Field(default=None, index=True)
    erased_at: Optional[datetime] = Field(default=None, sa_type=DateTime)
    # Why a lost lead was lost: a name from stages.yaml's `lost_reasons` (None: unspecified).
    lost_reason: Optional[str] = Field(default=None, max_length=100)
    # The run of `process` that last evaluated the lead; a trigger clears it on any other write (store/dirty.py).
    processed: Optional[int] = Field(default=None, sa_type=BigInteger)
    # The chance of winning (0–1) by rules/model.yaml, set by `process` (None: no model).
    predicted: Optional[float] = None
    # Data-quality flags (quality/flags.py) as words separated by spaces: `free_mail phone_mobile`.
    flags: Optional[str] = Field(default=None, sa_column=Column(Text))
    # Values enrichment filled (leadctl/enrichment.py), each with where it came from:
    # {"industry": {"value": "Software", "origin": "company-data.csv, row 311"}, "timezone": {...}}.
    enriched: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))


@event.listens_for(Lead.__table__, "after_create")  # type: ignore[attr-defined]
def _lead_triggers(target, connection, **kw) -> None:
    from .dirty import install

    install(connection)


class Batch(SQLModel, table=True):
    """One `leadctl import` (or activity import): what was read and what it did."""

    __tablename__ = "batches"
    id: Optional[int] = Field(default=None, primary_key=True)
    kind: str = Field(default="leads", max_length=20)  # leads | activities
    files: str = Field(sa_column=Column(Text, nullable=False))
    sha256: str = Field(max_length=64, index=True)
    options: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    status: str = Field(default="running", max_length=20)  # running | complete | failed | interrupted | undone
    started_at: datetime = Field(sa_type=DateTime, nullable=False)
    finished_at: Optional[datetime] = Field(default=None, sa_type=DateTime)
    read: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    message: Optional[str] = Field(default=None, sa_column=Column(Text))


class BatchChange(SQLModel, table=True):
    """What a batch did to one lead, so `batches undo` can revert it exactly."""

    __tablename__ = "batch_changes"
    # ix_batch_changes_lead: deleting a lead finds its rows (the cascade) without a scan.
    __table_args__ = (Index("ix_batch_changes_batch", "batch_id", "lead_id"), Index("ix_batch_changes_lead", "lead_id"))
    id: Optional[int] = Field(default=None, primary_key=True)
    batch_id: int
    lead_id: int = Field(sa_column=_lead_ref("batch_changes", "lead_id"))
    action: str = Field(max_length=10)  # created | updated
    # For updates: the previous values of every field the batch changed ...
    before: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    # ... and the values it wrote: undo restores a field only where the lead still holds them.
    after: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))


class LeadIdentifier(SQLModel, table=True):
    """Every identifier a lead was ever imported with, so each one keeps finding it.

    kind: email | external_id | linkedin | phone. `value` is the normalised, case-folded
    value; `system` names where an external id comes from (the snake_case header that
    carried it, e.g. `record_id`, `mql_id`), so two ids of one system never meet on one lead.
    """

    __tablename__ = "lead_identifiers"
    __table_args__ = (
        Index("ix_lead_identifiers_value", "kind", "value"),
        Index("ix_lead_identifiers_lead", "lead_id"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    lead_id: int = Field(sa_column=_lead_ref("lead_identifiers", "lead_id"))
    kind: str = Field(max_length=20)
    value: str = Field(sa_column=Column(Text, nullable=False))
    system: str = Field(default="", max_length=100)
    batch_id: Optional[int] = None


class PossibleDuplicate(SQLModel, table=True):
    """Two leads that share something (a phone, a placeholder e-mail) but were not merged:
    recorded at import for a person's duplicate review."""

    __tablename__ = "possible_duplicates"
    __table_args__ = (Index("ix_possible_duplicates_pair", "lead_id", "other_id"),
                      Index("ix_possible_duplicates_other", "other_id"))
    id: Optional[int] = Field(default=None, primary_key=True)
    lead_id: int = Field(sa_column=_lead_ref("possible_duplicates", "lead_id"))
    other_id: int = Field(sa_column=_lead_ref("possible_duplicates", "other_id"))
    reason: str = Field(sa_column=Column(Text, nullable=False))
    batch_id: Optional[int] = None
    created_at: datetime = Field(sa_type=DateTime, nullable=False)


class ImportedRow(SQLModel, table=True):
    """A normalised input row an import already folded into a lead (by a hash of its values): the
    same row imported again changes nothing, whatever the rows around it, so re-imports are no-ops."""

    __tablename__ = "imported_rows"
    __table_args__ = (Index("ix_imported_rows_lead", "lead_id"), Index("ix_imported_rows_batch", "batch_id"))
    hash: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    lead_id: int = Field(sa_column=_lead_ref("imported_rows", "lead_id"))
    batch_id: Optional[int] = None


class StageChange(SQLModel, table=True):
    """One row per stage change of a lead: the funnel and time-in-stage come from here.

    `left_at` is when the lead's next stage-history row (by at, id) happened: NULL on
    its latest row. Rows are written only through `store.history.record_stage_changes`,
    which keeps it. The reports read time in stage from it and the indexes below
    cover their queries (no table reads on a million leads).
    """

    __tablename__ = "stage_history"
    __table_args__ = (
        # (lead_id, at) is not kept: every per-lead query (a lead's rows, closing its open row,
        # the foreign key's cascade) is served by ix_stage_history_reach, which starts with lead_id.
        Index("ix_stage_history_to", "to_stage", "at", "left_at"),
        Index("ix_stage_history_reach", "lead_id", "to_stage", "at", "left_at"),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    lead_id: int = Field(sa_column=_lead_ref("stage_history", "lead_id"))
    from_stage: Optional[str] = Field(default=None, max_length=100)
    to_stage: str = Field(max_length=100)
    at: datetime = Field(sa_type=DateTime, nullable=False)
    cause: str = Field(max_length=20)  # import | rule | manual | merge
    detail: Optional[str] = Field(default=None, sa_column=Column(Text))
    batch_id: Optional[int] = None
    left_at: Optional[datetime] = Field(default=None, sa_type=DateTime)



@event.listens_for(StageChange.__table__, "after_create")  # type: ignore[attr-defined]
def _stage_history_triggers(target, connection, **kw) -> None:
    from .stays import install  # stage_stays: the funnel's time in stage, counted (SQLite)

    install(connection)


class Activity(SQLModel, table=True):
    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_lead", "lead_id", "type", "at"),)
    id: Optional[int] = Field(default=None, primary_key=True)
    lead_id: int = Field(sa_column=_lead_ref("activities", "lead_id"))
    type: str = Field(max_length=100)
    at: datetime = Field(sa_type=DateTime, nullable=False)
    fields: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    note: Optional[str] = Field(default=None, sa_column=Column(Text))
    source: Optional[str] = Field(default=None, max_length=200)
    batch_id: Optional[int] = None
    # The marketing touch this activity was, for attribution (`source` above says what recorded it):
    # the source (utm_source) and campaign (utm_campaign) that brought the lead here.
    touch_source: Optional[str] = Field(default=None, sa_column=Column(Text))
    campaign: Optional[str] = Field(default=None, sa_column=Column(Text))


@event.listens_for(Activity.__table__, "after_create")  # type: ignore[attr-defined]
def _activity_triggers(target, connection, **kw) -> None:
    from .dirty import install

    install(connection)


class Owner(SQLModel, table=True):
    """Owners synced from routing.yaml; removed owners stay for their history."""

    __tablename__ = "owners"
    id: Optional[int] = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, unique=True)
    email: Optional[str] = Field(default=None, max_length=320)
    team: Optional[str] = Field(default=None, max_length=200)
    timezone: str = Field(default="UTC", max_length=64)
    capacity: Optional[int] = None
    weight: float = 1.0
    active: bool = True
    away: Optional[list[Any]] = Field(default=None, sa_column=Column(JSON))
    removed: bool = False
    last_assigned_at: Optional[datetime] = Field(default=None, sa_type=DateTime)


class Assignment(SQLModel, table=True):
    """Every assignment and its reason: 'rule X → team emea → least_loaded → dana (12/40 open)'."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_lead", "lead_id", "at"), Index("ix_assignments_owner", "owner", "at"))
    id: Optional[int] = Field(default=None, primary_key=True)
    lead_id: int = Field(sa_column=_lead_ref("assignments", "lead_id"))
    owner: Optional[str] = Field(default=None, max_length=200)
    previous_owner: Optional[str] = Field(default=None, max_length=200)
    rule: Optional[str] = Field(default=None, sa_column=Column(Text))
    strategy: Optional[str] = Field(default=None, max_length=20)
    at: datetime = Field(sa_type=DateTime, nullable=False)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    manual: bool = False


class SlaBreach(SQLModel, table=True):
    __tablename__ = "sla_breaches"
    __table_args__ = (Index("ix_sla_breaches_lead", "lead_id"),
                      Index("ix_sla_breaches_notify", "action", "notified_at"))
    id: Optional[int] = Field(default=None, primary_key=True)
    lead_id: int = Field(sa_column=_lead_ref("sla_breaches", "lead_id"))
    rule: str = Field(sa_column=Column(Text, nullable=False))
    owner: Optional[str] = Field(default=None, max_length=200)
    assigned_at: datetime = Field(sa_type=DateTime, nullable=False)
    due_at: datetime = Field(sa_type=DateTime, nullable=False)
    breached_at: datetime = Field(sa_type=DateTime, nullable=False)
    action: str = Field(max_length=20)  # reassign | notify
    notified_at: Optional[datetime] = Field(default=None, sa_type=DateTime)


class Followup(SQLModel, table=True):
    """A follow-up task: a cadence step or an inactivity task."""

    __tablename__ = "followups"
    __table_args__ = (
        Index("ix_followups_due", "status", "due_at"),
        # (lead_id, status) finds a lead's open tasks; the rest lets the sweep's "has this lead
        # a task of this inactivity rule?" check skip the task rows.
        Index("ix_followups_lead_rule", "lead_id", "status", "kind", "cadence", "created_at"),
        Index("ix_followups_remind", "status", "reminded_at", "due_at"),
        # Tasks closed since the last sweep (their lead may have lost its cover): closed ones only.
        Index("ix_followups_closed", "completed_at", sqlite_where=text("status <> 'pending'"),
              postgresql_where=text("status <> 'pending'")),
    )
    id: Optional[int] = Field(default=None, primary_key=True)
    lead_id: int = Field(sa_column=_lead_ref("followups", "lead_id"))
    owner: Optional[str] = Field(default=None, max_length=200)
    kind: str = Field(default="cadence", max_length=20)  # cadence | inactivity
    cadence: Optional[str] = Field(default=None, sa_column=Column(Text))
    step: Optional[int] = None
    action: str = Field(max_length=100)
    due_at: datetime = Field(sa_type=DateTime, nullable=False)
    status: str = Field(default="pending", max_length=20)  # pending | done | skipped | cancelled
    created_at: datetime = Field(sa_type=DateTime, nullable=False)
    reminded_at: Optional[datetime] = Field(default=None, sa_type=DateTime)
    completed_at: Optional[datetime] = Field(default=None, sa_type=DateTime)
    note: Optional[str] = Field(default=None, sa_column=Column(Text))


class LeadSegment(SQLModel, table=True):
    """A lead in a segment of rules/segments.yaml, as the last `process` found it (engine/segments.py)."""

    __tablename__ = "lead_segments"
    __table_args__ = (Index("ix_lead_segments_lead", "lead_id"),)
    segment: str = Field(sa_column=Column(Text, primary_key=True))
    lead_id: int = Field(sa_column=Column(Integer, ForeignKey("leads.id", ondelete="CASCADE",
                                                              name="fk_lead_segments_lead_id"),
                                          primary_key=True, autoincrement=False))


class Erasure(SQLModel, table=True):
    """That an erasure happened (right to be forgotten) — no personal data in here."""

    __tablename__ = "erasures"
    id: Optional[int] = Field(default=None, primary_key=True)
    lead_id: int
    at: datetime = Field(sa_type=DateTime, nullable=False)
    fields_erased: int = 0
    activities_erased: int = 0


class NotDuplicate(SQLModel, table=True):
    """Two leads a person said are not duplicates (a reviewed merge plan): never proposed again.

    The pair is stored with the smaller id first."""

    __tablename__ = "not_duplicates"
    lead_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    other_id: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    at: datetime = Field(sa_type=DateTime, nullable=False)


class DuplicateMerge(SQLModel, table=True):
    """One lead merged into another by `leads duplicates apply`: what `batches undo` needs to split them.

    `removed` is the merged lead's row as it was; `kept_before`/`kept_after` the survivor's fields the
    merge changed; `moved` the ids of the child rows that moved to the survivor, per table; `saved`
    rows that went with the merged lead (its batch_changes, possible duplicates) to put back.
    """

    __tablename__ = "duplicate_merges"
    __table_args__ = (Index("ix_duplicate_merges_batch", "batch_id"),
                      Index("ix_duplicate_merges_kept", "kept_id"),
                      Index("ix_duplicate_merges_removed", "removed_id"))
    id: Optional[int] = Field(default=None, primary_key=True)
    batch_id: int
    kept_id: int
    removed_id: int
    at: datetime = Field(sa_type=DateTime, nullable=False)
    removed: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    kept_before: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    kept_after: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    moved: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    saved: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
