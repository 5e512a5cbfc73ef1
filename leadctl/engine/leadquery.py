"""Select leads by the filters people type: stage, owner, source, score range, text, creation window.

    select_leads(LeadFilter(stage="mql", min_score=40, sort="-score", limit=20))

Everything is a SQLAlchemy expression with bound parameters (no SQL text with
user values), so the same statement runs on SQLite and PostgreSQL. Erased leads
(`erased_at` set) are listed like any other: they are anonymous but still count.

Time windows: `since` is inclusive, `until` exclusive. `clock.parse_when` turns a
date-only `--until 2026-01-31` into the exclusive bound 2026-02-01 00:00, so the
whole day is included; a value with a time is used as given.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from sqlalchemy import ColumnElement, Select, and_, func, literal, or_, select

from ..clock import naive_utc
from ..errors import UsageError
from ..fields import SORTABLE
from ..store.db import Store
from ..store.tables import LEADS
from ..words import did_you_mean

# Fields `--sort` accepts; `-field` sorts descending. `id` always breaks ties.
SORT_FIELDS = SORTABLE
SORT_ALIASES = {"created": "created_at", "updated": "updated_at", "name": "last_name"}


@dataclass
class LeadFilter:
    """Which leads, in what order, how many. Empty fields do not filter."""

    stage: str | None = None
    owner: str | None = None
    source: str | None = None
    min_score: int | None = None
    max_score: int | None = None
    search: str | None = None
    since: datetime | None = None      # created_at >= since
    until: datetime | None = None      # created_at < until
    sort: str | None = None            # e.g. "-score"; default id
    limit: int | None = None           # None or 0: all
    flag: str | None = None            # a data-quality flag the lead carries (quality/flags.py)
    segment: str | None = None         # a segment of rules/segments.yaml (engine/segments.py)

    def describe(self) -> str:
        """`stage=mql, source=Google Ads, 2026-01-01 … 2026-02-01` — for report titles."""
        parts = []
        for name in ("stage", "owner", "source", "min_score", "max_score", "search", "flag", "segment"):
            value = getattr(self, name)
            if value not in (None, ""):
                parts.append(f"{name}={value}")
        if self.since or self.until:
            parts.append(f"{_day(self.since) if self.since else '…'} to {_day(self.until) if self.until else 'now'}")
        return ", ".join(parts)


def _day(value: datetime) -> str:
    return value.strftime("%Y-%m-%d") if value.time() == datetime.min.time() else value.strftime("%Y-%m-%d %H:%M")


def sort_column(field: str) -> tuple[ColumnElement[Any], bool]:
    """`-score` → (leads.score, descending); unknown fields are a usage error listing the allowed ones."""
    text = (field or "").strip()
    descending = text.startswith("-")
    name = text.lstrip("+-").strip().lower()
    name = SORT_ALIASES.get(name, name)
    if name not in SORT_FIELDS:
        raise UsageError(f"cannot sort by '{field}': no such field{did_you_mean(name, SORT_FIELDS)}",
                         hint="sort by one of: " + ", ".join(SORT_FIELDS) + " (prefix - for descending)")
    return LEADS.c[name], descending


def lead_conditions(flt: LeadFilter, table=LEADS) -> list[ColumnElement[bool]]:
    """The WHERE clauses of a filter, for any statement over the leads table (or an alias of it)."""
    c = table.c
    where: list[ColumnElement[bool]] = []
    if flt.stage:
        where.append(func.lower(c.stage) == flt.stage.strip().lower())
    if flt.owner:
        where.append(func.lower(c.owner) == flt.owner.strip().lower())
    if flt.source:
        where.append(func.lower(func.trim(c.source)) == flt.source.strip().lower())
    if flt.min_score is not None:
        where.append(c.score >= int(flt.min_score))
    if flt.max_score is not None:
        where.append(c.score <= int(flt.max_score))
    if flt.search and flt.search.strip():
        term = flt.search.strip()
        where.append(or_(*(c[name].icontains(term, autoescape=True)
                           for name in ("email", "first_name", "last_name", "company"))))
    if flt.since is not None:
        where.append(c.created_at >= naive_utc(flt.since))
    if flt.until is not None:
        where.append(c.created_at < naive_utc(flt.until))
    if flt.flag and flt.flag.strip():
        # One word of the space-separated flags (role_account must not match a flag containing it).
        from ..quality.flags import FLAGS

        word = flt.flag.strip().lower().replace("-", "_")
        if word not in FLAGS:
            raise UsageError(f"no data-quality flag '{flt.flag}'{did_you_mean(word, FLAGS)}",
                             hint="flags: " + ", ".join(FLAGS), option="--flag")
        where.append((literal(" ") + c.flags + literal(" ")).like(f"% {word} %"))
    if flt.segment:
        from .segments import segment_clause

        where.append(segment_clause(flt.segment, c.id))
    return where


def select_leads(flt: LeadFilter, columns: Sequence[Any] | None = None) -> Select:
    """A SELECT over the leads table with the filter, order and limit applied (default: every column)."""
    stmt = select(*(columns if columns is not None else [LEADS]))
    where = lead_conditions(flt)
    if where:
        stmt = stmt.where(and_(*where))
    order: list[ColumnElement[Any]] = []
    if flt.sort:
        for part in str(flt.sort).split(","):
            if part.strip():
                col, desc = sort_column(part)
                # NULLs last either way, so "-last_contacted_at" starts with real dates.
                order.append(col.is_(None))
                order.append(col.desc() if desc else col.asc())
    order.append(LEADS.c.id.asc())
    stmt = stmt.order_by(*order)
    if flt.limit is not None and flt.limit < 0:
        raise UsageError(f"limit must be 0 (all) or more, not {flt.limit}")
    if flt.limit:  # 0 means all, as everywhere a limit is given
        stmt = stmt.limit(int(flt.limit))
    return stmt


def count_leads(flt: LeadFilter) -> Select:
    """SELECT count(*) of the leads a filter matches (limit and order ignored)."""
    stmt = select(func.count()).select_from(LEADS)
    where = lead_conditions(flt)
    return stmt.where(and_(*where)) if where else stmt


# What `leads list` shows, in order (`predicted`: the model's chance 0-1, None without one).
LIST_COLUMNS = ("id", "name", "email", "company", "source", "stage", "score", "predicted", "grade", "temperature",
                "owner", "created")


@dataclass
class LeadPage:
    """The leads a filter lists (LIST_COLUMNS, times naive UTC) and, when asked, how many match in all."""

    rows: list[tuple]
    total: int | None = None


def sorts_by(flt: LeadFilter, name: str) -> bool:
    """Whether the filter's `--sort` names field `name` (either direction, aliases resolved)."""
    for part in str(flt.sort or "").split(","):
        field = part.strip().lstrip("+-").strip().lower()
        if field and SORT_ALIASES.get(field, field) == name:
            return True
    return False


def list_leads(store: Store, flt: LeadFilter, *, count: bool = False) -> LeadPage:
    """The page of leads `flt` selects; with `count`, also the number matching when the page is full."""
    c = LEADS.c
    name = func.trim(func.coalesce(c.first_name, "") + " " + func.coalesce(c.last_name, ""))
    cols = [c.id, name, c.email, c.company, c.source, c.stage, c.score, c.predicted, c.grade, c.temperature, c.owner,
            c.created_at]
    with store.connect() as conn:
        rows = [tuple(naive_utc(v) for v in r) for r in conn.execute(select_leads(flt, cols))]
        full = bool(flt.limit) and len(rows) >= (flt.limit or 0)
        total = conn.execute(count_leads(flt)).scalar() if count and full else None
    return LeadPage(rows, total)
