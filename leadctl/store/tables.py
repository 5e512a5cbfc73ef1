"""The store's tables as SQLAlchemy `Table` objects, typed, for Core statements.

SQLModel builds each model's `__table__` at class creation without declaring it, so a
type checker cannot see it; this is the one place that reaches for it. Write
`from leadctl.store.tables import LEADS` rather than `models.Lead.__table__`.
"""
from __future__ import annotations

from sqlalchemy import Table
from sqlmodel import SQLModel

from . import models


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a SQLModel class."""
    return model.__table__  # type: ignore[attr-defined]  # set by SQLModel's metaclass, undeclared


MIGRATIONS = table_of(models.Migration)
META = table_of(models.Meta)
LEADS = table_of(models.Lead)
BATCHES = table_of(models.Batch)
BATCH_CHANGES = table_of(models.BatchChange)
IDENTIFIERS = table_of(models.LeadIdentifier)
POSSIBLE_DUPLICATES = table_of(models.PossibleDuplicate)
IMPORTED_ROWS = table_of(models.ImportedRow)
STAGE_HISTORY = table_of(models.StageChange)
ACTIVITIES = table_of(models.Activity)
OWNERS = table_of(models.Owner)
ASSIGNMENTS = table_of(models.Assignment)
SLA_BREACHES = table_of(models.SlaBreach)
FOLLOWUPS = table_of(models.Followup)
ERASURES = table_of(models.Erasure)
NOT_DUPLICATES = table_of(models.NotDuplicate)
DUPLICATE_MERGES = table_of(models.DuplicateMerge)
LEAD_SEGMENTS = table_of(models.LeadSegment)
