"""`import_leads`: stream files into the store, normalised, validated, deduplicated, as one batch.

The data path is set-based: rows are read and normalised one by one (streaming),
then handled in chunks — one query per match key to find existing leads, one
bulk insert, one bulk update — each chunk in its own transaction, so memory
stays flat and a killed import leaves only whole chunks behind.

Counting (DESIGN.md): every row read is exactly one of
  created   — it became a new lead;
  updated   — it changed a lead that existed before this import;
  merged    — it matched a lead this same import already created or changed
              (a duplicate inside the file, or across the files of one call);
  unchanged — it matched an existing lead and changed nothing;
  rejected  — it was not imported (no identifier, or --strict and a bad value),
              and is written to the rejects file with its reason.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable, Iterator

from sqlalchemy import bindparam, func, select

from ..clock import utcnow
from ..errors import InputError, LeadctlError, UsageError
from ..store import models
from ..store.db import Store
from . import normalize as N
from .headers import ColumnMap, MappingSpec, build_column_map, snake_case
from .reader import read_records
from .rejects import RejectsWriter

CHUNK = 5000
MODES = ("upsert", "create", "update")
MATCH_KEYS = ("email", "phone", "external_id", "first_name", "last_name", "company")
# Lead columns an import writes (besides the ones it derives).
IMPORTED = (
    "email", "phone", "first_name", "last_name", "company", "title", "industry", "employees",
    "annual_revenue", "country", "city", "source", "campaign", "owner", "created_at",
    "last_activity_at", "last_contacted_at", "do_not_contact", "external_id",
)
_TEXT = {"first_name", "last_name", "company", "title", "industry", "city", "campaign", "owner", "external_id"}
_DATES = {"created_at", "last_activity_at", "last_contacted_at", "stage_at"}

Progress = Callable[[int], None]


@dataclass
class ImportOptions:
    """Everything `leadctl import` can be told; defaults are the documented ones."""

    mode: str = "upsert"
    match: tuple[str, ...] = ("email", "phone", "external_id")
    source: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    mapping: MappingSpec | None = None
    fmt: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    default_region: str | None = None
    dayfirst: bool | None = None
    strict: bool = False
    dry_run: bool = False
    rejects: str | None = None  # path; default <input>.rejects.csv when anything is rejected


@dataclass
class ImportResult:
    batch: int | None
    read: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    unchanged: int = 0
    rejected: int = 0
    warnings: int = 0
    files: list[str] = field(default_factory=list)
    rejects_files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False
    lead_ids: set[int] = field(default_factory=set, repr=False)  # created or changed, for `process`

    def summary(self) -> dict[str, int | None]:
        """The JSON object of DESIGN.md; read = created + updated + merged + unchanged + rejected."""
        return {"batch": self.batch, "read": self.read, "created": self.created, "updated": self.updated,
                "merged": self.merged, "unchanged": self.unchanged, "rejected": self.rejected}


def parse_match(text: str | Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """`email,phone,first_name+last_name+company` → (("email",), ("phone",), (...composite...))."""
    items = text.split(",") if isinstance(text, str) else list(text)
    keys = []
    for item in items:
        parts = tuple(p.strip() for p in item.split("+") if p.strip())
        for p in parts:
            if p not in MATCH_KEYS:
                raise UsageError(f"--match: '{p}' is not a match key",
                                 hint="use " + ", ".join(MATCH_KEYS) + " or a composite such as first_name+last_name+company")
        if parts:
            keys.append(parts)
    if not keys:
        raise UsageError("--match needs at least one key")
    return tuple(keys)


@dataclass
class _Row:
    """One normalised input row."""

    number: int
    file: str
    values: dict[str, Any]
    attributes: dict[str, Any]
    stage: str | None
    stage_at: datetime | None
    raw: dict[str, Any]


class _Normaliser:
    """Turns raw records into lead values for one file, given its column map."""

    def __init__(self, colmap: ColumnMap, opts: ImportOptions, rules, sources: "_Sources", dayfirst: dict[str, bool | None]):
        self.colmap = colmap
        self.opts = opts
        self.rules = rules
        self.sources = sources
        self.dayfirst = dayfirst
        defaults = dict(opts.mapping.defaults) if opts.mapping and opts.mapping.defaults else {}
        if opts.source and "source" not in defaults:
            defaults["source"] = opts.source
        self.defaults = defaults

    def row(self, number: int, raw: dict[str, Any]) -> tuple[_Row | None, str | None, list[tuple[str, str, str]]]:
        """Return (row, reject reason, warnings[(field, value, reason)])."""
        values: dict[str, Any] = {}
        attributes: dict[str, Any] = {}
        warnings: list[tuple[str, str, str]] = []
        texts: dict[str, str] = {}
        for header, value in raw.items():
            if value is None:
                continue
            target = self.colmap.target(header)
            if target is None:
                continue
            if target.field is None:  # an attribute
                if not N.is_missing(value):
                    attributes[target.attribute] = N.clean_text(value)
                continue
            if target.values:
                value = target.translate(value)
            if N.is_missing(value):
                continue
            if target.field not in texts:
                texts[target.field] = value
            if target.fmt:
                texts[target.field + "\0fmt"] = target.fmt
        for name, value in self.defaults.items():
            if name not in texts and value not in (None, ""):
                texts[name] = str(value)
        bad_ids: list[str] = []
        for name, value in texts.items():
            if "\0" in name:
                continue
            try:
                self._set(name, value, texts, values)
            except N.BadValue as exc:
                header = self.colmap.header_of(name) or name
                attributes.setdefault(snake_case(header) or name, value)
                warnings.append((name, value, str(exc)))
                if name in ("email", "phone", "external_id"):
                    bad_ids.append(f"{name} '{value}' is invalid")
        if not (values.get("email") or values.get("phone") or values.get("external_id")):
            why = "no valid e-mail, phone or external id"
            if bad_ids:
                why += " (" + "; ".join(bad_ids) + ")"
            return None, why, warnings
        if warnings and self.opts.strict:
            return None, "; ".join(f"{f}: {r}" for f, _, r in warnings), warnings
        stage = values.pop("stage", None)
        stage_at = values.pop("stage_at", None)
        return _Row(number, "", values, attributes, stage, stage_at, raw), None, warnings

    def _set(self, name: str, value: str, texts: dict[str, str], values: dict[str, Any]) -> None:
        if name == "email":
            values["email"] = N.normalize_email(value)
        elif name == "phone":
            region = self.opts.default_region
            if "country" in texts:
                try:
                    region = N.normalize_country(texts["country"])
                except N.BadValue:
                    pass
            values["phone"] = N.normalize_phone(value, region)
        elif name == "country":
            values["country"] = N.normalize_country(value)
        elif name == "full_name":
            first, last = N.split_full_name(value)
            if first and "first_name" not in texts:
                values["first_name"] = first
            if last and "last_name" not in texts:
                values["last_name"] = last
        elif name in _DATES:
            values[name] = N.parse_datetime(value, dayfirst=self.dayfirst.get(name, self.opts.dayfirst),
                                            fmt=texts.get(name + "\0fmt"))
        elif name == "employees":
            values["employees"] = N.parse_int(value)
        elif name == "annual_revenue":
            values["annual_revenue"] = float(N.parse_number(value))
        elif name == "do_not_contact":
            values["do_not_contact"] = N.parse_bool(value)
        elif name == "source":
            values["source"] = self.sources.canonical(N.clean_text(value))
        elif name == "stage":
            stage = self.rules.stages.resolve(value)
            if stage is None:
                raise N.BadValue(f"unknown stage '{value}'")
            values["stage"] = stage
        elif name in _TEXT:
            text = N.clean_text(value)
            if text:
                values[name] = text
        else:  # pragma: no cover - FIELDS and this function are kept in step
            raise N.BadValue(f"field {name} cannot be imported")


class _Sources:
    """Canonical source names: sources.yaml names and aliases, else first spelling seen."""

    def __init__(self, rules, known: Iterable[str]):
        self._rules_sources = rules.sources
        self._seen: dict[str, str] = {}
        for s in known:
            if s:
                self._seen.setdefault(s.strip().casefold(), s)

    def canonical(self, value: str) -> str | None:
        if not value:
            return None
        hit = self._rules_sources.resolve(value)
        if hit:
            return hit
        return self._seen.setdefault(value.strip().casefold(), value.strip())


def file_sha256(path: str) -> str | None:
    if path == "-":
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def import_leads(store: Store, paths: list[str], opts: ImportOptions, rules, *, now: datetime | None = None,
                 progress: Progress | None = None) -> ImportResult:
    """Import lead files into the store as one batch and return what happened.

    >>> import_leads(store, ["leads.csv"], ImportOptions(), load_rules("rules"))  # doctest: +SKIP
    """
    if opts.mode not in MODES:
        raise UsageError(f"--mode: '{opts.mode}' is not one of {', '.join(MODES)}")
    match = parse_match(opts.match)
    for p in paths:
        if p != "-" and not os.path.exists(p):
            raise InputError("no such file", file=p)
        if p != "-" and os.path.isdir(p):
            raise InputError("is a folder, not a file", file=p)
    now = now or utcnow()
    result = ImportResult(batch=None, files=list(paths), dry_run=opts.dry_run)
    t0 = _clock()
    importer = _Importer(store, opts, rules, match, now, result, progress)
    importer.run(paths)
    result.seconds = round(_clock() - t0, 3)
    return result


def _clock() -> float:
    import time

    return time.perf_counter()


class _Importer:
    def __init__(self, store: Store, opts: ImportOptions, rules, match, now: datetime, result: ImportResult,
                 progress: Progress | None):
        self.store = store
        self.opts = opts
        self.rules = rules
        self.match = match
        self.now = now
        self.result = result
        self.progress = progress
        self.t = models.Lead.__table__
        self.updated_ids: set[int] = set()
        self.batch_id: int | None = None

    # -- the batch ---------------------------------------------------------
    def run(self, paths: list[str]) -> None:
        b = models.Batch.__table__
        options = {k: v for k, v in {
            "mode": self.opts.mode, "match": ["+".join(m) for m in self.match],
            "source": self.opts.source, "map": self.opts.overrides or None, "strict": self.opts.strict or None,
            "default_region": self.opts.default_region, "dayfirst": self.opts.dayfirst,
        }.items() if v is not None}
        if self.opts.dry_run:
            conn = self.store.engine.connect()
            tx = conn.begin()
            self.conn = conn
            try:
                self.batch_id = self._new_batch(conn, paths, options)
                self._import_files(paths)
            finally:
                tx.rollback()
                conn.close()
            self.result.batch = None
            return
        with self.store.begin() as conn:
            self.batch_id = self._new_batch(conn, paths, options)
        self.result.batch = self.batch_id
        self.conn = None
        status, message = "failed", None
        try:
            self._import_files(paths)
            status = "complete"
        except KeyboardInterrupt:
            status, message = "interrupted", "stopped by the user; the unfinished chunk was rolled back"
            raise
        except LeadctlError as exc:
            message = exc.describe()
            raise
        finally:
            r = self.result
            with self.store.begin() as conn:
                conn.execute(b.update().where(b.c.id == self.batch_id).values(
                    status=status, finished_at=utcnow(), read=r.read, created=r.created, updated=r.updated,
                    merged=r.merged, unchanged=r.unchanged, rejected=r.rejected, warnings=r.warnings,
                    message=message, sha256=self._sha or "",
                ))

    def _new_batch(self, conn, paths: list[str], options: dict) -> int:
        b = models.Batch.__table__
        self._sha = None
        return conn.execute(b.insert().values(
            kind="leads", files=", ".join(paths), sha256="", options=options, status="running",
            started_at=utcnow(),
        )).inserted_primary_key[0]

    # -- reading -------------------------------------------------------------
    def _import_files(self, paths: list[str]) -> None:
        digest = hashlib.sha256()
        known = self._known_sources()
        self.rejects_by_file: dict[str, RejectsWriter] = {}
        self.sources = _Sources(self.rules, known)
        for path in paths:
            stream = read_records(path, fmt=self.opts.fmt, delimiter=self.opts.delimiter, encoding=self.opts.encoding)
            colmap = build_column_map(stream.headers, overrides=self.opts.overrides, mapping=self.opts.mapping)
            rejects = RejectsWriter(self.opts.rejects or _default_rejects(path), stream.headers,
                                    enabled=not self.opts.dry_run)
            self.rejects_by_file[path] = rejects
            try:
                self._import_stream(path, stream, colmap, rejects)
            finally:
                rejects.close()
            if rejects.path_written:
                self.result.rejects_files.append(rejects.path_written)
            digest.update((stream.sha256 or "").encode())
        self._sha = digest.hexdigest() if len(paths) > 1 else (stream.sha256 or "")

    def _known_sources(self) -> list[str]:
        t = self.t
        with self.store.connect() as conn:
            return [r[0] for r in conn.execute(select(t.c.source).where(t.c.source.is_not(None)).distinct())]

    def _import_stream(self, path: str, stream, colmap: ColumnMap, rejects: RejectsWriter) -> None:
        records = iter(stream)
        head: list[tuple[int, dict]] = []
        date_headers = colmap.headers_for(_DATES)
        if date_headers:
            # Day-first or month-first is decided per column from the data (a 13 settles it).
            for item in records:
                head.append(item)
                if len(head) >= 2000:
                    break
        dayfirst: dict[str, bool | None] = {}
        for fieldname, header in date_headers.items():
            if self.opts.dayfirst is not None:
                dayfirst[fieldname] = self.opts.dayfirst
            else:
                dayfirst[fieldname] = N.detect_dayfirst([r.get(header) or "" for _, r in head])
        norm = _Normaliser(colmap, self.opts, self.rules, self.sources, dayfirst)
        chunk: list[_Row] = []
        for number, raw in _chain(head, records):
            self.result.read += 1
            if "_error" in raw:
                rejects.write(number, raw.get("_error"), None, None, raw)
                self.result.rejected += 1
                continue
            row, reason, warnings = norm.row(number, raw)
            for fieldname, value, why in warnings:
                self.result.warnings += 1
                if row is not None:
                    rejects.warn(number, why, fieldname, value, raw)
            if row is None:
                rejects.write(number, reason, None, None, raw)
                self.result.rejected += 1
                continue
            row.file = path
            chunk.append(row)
            if len(chunk) >= CHUNK:
                self._flush(chunk)
                chunk = []
        if chunk:
            self._flush(chunk)

    # -- writing ---------------------------------------------------------------
    def _flush(self, rows: list[_Row]) -> None:
        if self.opts.dry_run:
            self._apply(self.conn, rows)
        else:
            with self.store.begin() as conn:
                self._apply(conn, rows)
        if self.progress:
            self.progress(len(rows))

    def _apply(self, conn, rows: list[_Row]) -> None:
        t = self.t
        existing = self._find_existing(conn, rows)
        new: dict[int, dict[str, Any]] = {}   # local id (negative) → values for insert
        keyindex: dict[tuple, int] = {}       # match key values → lead id (existing > 0, new < 0)
        changed: dict[int, dict[str, Any]] = {}  # existing id → new values
        before: dict[int, dict[str, Any]] = {}
        stage_moves: list[tuple[int, str | None, str, datetime | None]] = []
        for lead in existing.values():
            for key in self._keys(lead):
                keyindex.setdefault(key, lead["id"])
        next_local = -1
        mode = self.opts.mode
        r = self.result
        for row in rows:
            target = None
            for key in self._row_keys(row.values):
                target = keyindex.get(key)
                if target is not None:
                    break
            if target is None:
                if mode == "update":
                    r.rejected += 1  # counted; written below with its reason
                    self._reject_late(row, "no existing lead matches (mode update)")
                    continue
                values = self._new_values(row)
                lid = next_local
                next_local -= 1
                new[lid] = values
                for key in self._keys(values):
                    keyindex.setdefault(key, lid)
                if row.stage:
                    stage_moves.append((lid, None, row.stage, row.stage_at))
                r.created += 1
                continue
            if mode == "create" and target > 0 and target not in self.updated_ids \
                    and existing[target].get("batch_id") != self.batch_id:
                r.rejected += 1
                self._reject_late(row, "a lead with this key already exists (mode create)")
                continue
            if target < 0:
                current = new[target]
            else:
                current = changed.get(target) or dict(existing[target])
            merged_values, diff = self._merge(current, row)
            stage_change = None
            if row.stage and row.stage != current.get("stage") and self._may_move(current.get("stage"), row.stage):
                stage_change = row.stage
                merged_values["stage"] = row.stage
                merged_values["stage_changed_at"] = row.stage_at or self.now
                diff.setdefault("stage", current.get("stage"))
            if target < 0:
                new[target] = merged_values
                if stage_change:
                    stage_moves.append((target, current.get("stage"), stage_change, row.stage_at))
                r.merged += 1
            else:
                seen_before = target in self.updated_ids or existing[target].get("batch_id") == self.batch_id \
                    or target in changed
                if diff:
                    changed[target] = merged_values
                    b = before.setdefault(target, {})
                    for k, v in diff.items():
                        b.setdefault(k, v)
                    if stage_change:
                        stage_moves.append((target, current.get("stage"), stage_change, row.stage_at))
                if seen_before:
                    r.merged += 1
                elif diff:
                    r.updated += 1
                else:
                    r.unchanged += 1
                if diff:
                    self.updated_ids.add(target)
            for key in self._keys(merged_values):
                keyindex.setdefault(key, target)
        self._write(conn, new, changed, before, stage_moves)

    def _reject_late(self, row: _Row, reason: str) -> None:
        """A row that only the store can reject (mode create/update) goes to its file's rejects."""
        self.rejects_by_file[row.file].write(row.number, reason, None, None, row.raw)

    def _may_move(self, current: str | None, target: str) -> bool:
        """Imports move a lead forward, or into a terminal stage; never backward."""
        stages = self.rules.stages
        if current is None or stages.allow_backward:
            return True
        ci, ti = stages.index(current), stages.index(target)
        if ci is None or ti is None:
            return True
        return ti > ci or stages.is_terminal(target) and not stages.is_terminal(current)

    def _new_values(self, row: _Row) -> dict[str, Any]:
        v = dict(row.values)
        v.setdefault("created_at", self.now)
        v["updated_at"] = self.now
        v["stage"] = row.stage or self.rules.stages.first
        v["stage_changed_at"] = (row.stage_at or v["created_at"]) if row.stage else v["created_at"]
        v["attributes"] = row.attributes or None
        v["email_domain"] = N.email_domain(v["email"]) if v.get("email") else None
        v["batch_id"] = self.batch_id
        return v

    def _merge(self, current: dict[str, Any], row: _Row) -> tuple[dict[str, Any], dict[str, Any]]:
        """New non-empty values win; empty values never overwrite. Returns (values, previous of changed)."""
        merged = dict(current)
        diff: dict[str, Any] = {}
        for k, v in row.values.items():
            if v is None or v == "":
                continue
            if k == "created_at":
                # The earliest creation time is the truth; a later export does not make a lead younger.
                if current.get(k) is None or v < current[k]:
                    pass
                else:
                    continue
            if current.get(k) != v:
                diff[k] = current.get(k)
                merged[k] = v
        if row.attributes:
            attrs = dict(current.get("attributes") or {})
            changed = False
            for k, v in row.attributes.items():
                if attrs.get(k) != v:
                    attrs[k] = v
                    changed = True
            if changed:
                diff["attributes"] = current.get("attributes")
                merged["attributes"] = attrs
        if "email" in diff:
            merged["email_domain"] = N.email_domain(merged["email"])
        return merged, diff

    def _row_keys(self, values: dict[str, Any]) -> Iterator[tuple]:
        for key in self.match:
            vals = tuple(_fold(values.get(k)) for k in key)
            if all(v is not None for v in vals):
                yield key + vals

    def _keys(self, values: dict[str, Any]) -> list[tuple]:
        return list(self._row_keys(values))

    def _find_existing(self, conn, rows: list[_Row]) -> dict[int, dict[str, Any]]:
        t = self.t
        wanted: dict[tuple[str, ...], set[tuple]] = {}
        for row in rows:
            for key in self._row_keys(row.values):
                wanted.setdefault(key[: len(key) // 2], set()).add(key[len(key) // 2:])
        cols = [t.c.id, t.c.batch_id, t.c.stage, t.c.attributes, t.c.email_domain] + [t.c[c] for c in IMPORTED]
        found: dict[int, dict[str, Any]] = {}
        for key, values in wanted.items():
            if len(key) == 1:
                col = t.c[key[0]]
                vals = [v[0] for v in values]
                for i in range(0, len(vals), 500):
                    part = vals[i:i + 500]
                    cond = col.in_(part) if key[0] not in _CI_KEYS else _lower(col).in_(part)
                    for rec in conn.execute(select(*cols).where(cond, t.c.erased_at.is_(None))):
                        found.setdefault(rec.id, dict(rec._mapping))
            else:
                for i, combo in enumerate(values):
                    cond = [(_lower(t.c[k]) if k in _CI_KEYS else t.c[k]) == v for k, v in zip(key, combo)]
                    for rec in conn.execute(select(*cols).where(*cond, t.c.erased_at.is_(None))):
                        found.setdefault(rec.id, dict(rec._mapping))
        return found

    def _write(self, conn, new, changed, before, stage_moves) -> None:
        t = self.t
        ids: dict[int, int] = {}
        if new:
            locals_ = list(new.keys())
            rows = [_insert_row(new[k]) for k in locals_]
            res = conn.execute(t.insert().returning(t.c.id, sort_by_parameter_order=True), rows)
            for local, (lid,) in zip(locals_, res.all()):
                ids[local] = lid
                self.result.lead_ids.add(lid)
        if changed:
            cols = [c for c in _UPDATABLE]
            params = []
            for lid, values in changed.items():
                p = {"_id": lid, **{c: values.get(c) for c in cols}, "updated_at": self.now}
                params.append(p)
                self.result.lead_ids.add(lid)
            stmt = t.update().where(t.c.id == bindparam("_id")).values(
                **{c: bindparam(c) for c in cols}, updated_at=bindparam("updated_at"))
            conn.execute(stmt, params)
            bc = models.BatchChange.__table__
            conn.execute(bc.insert(), [
                {"batch_id": self.batch_id, "lead_id": lid, "action": "updated", "before": _jsonable(b)}
                for lid, b in before.items()
            ])
        detail = f"batch {self.batch_id}"
        entered = {m[0] for m in stage_moves if m[1] is None}
        # A new lead enters the funnel at the first stage unless its row named a stage.
        hist = [{"lead_id": ids[k], "from_stage": None, "to_stage": self.rules.stages.first,
                 "at": new[k]["created_at"], "cause": "import", "detail": detail, "batch_id": self.batch_id}
                for k in new if k not in entered]
        hist += [{"lead_id": ids.get(lid, lid), "from_stage": frm, "to_stage": to, "at": at or self.now,
                  "cause": "import", "detail": detail, "batch_id": self.batch_id}
                 for lid, frm, to, at in stage_moves]
        if hist:
            conn.execute(models.StageChange.__table__.insert(), hist)


_CI_KEYS = {"first_name", "last_name", "company"}
_UPDATABLE = tuple(IMPORTED) + ("email_domain", "stage", "stage_changed_at", "attributes")


def _lower(col):
    return func.lower(col)


def _fold(v: Any) -> Any:
    if v is None or v == "":
        return None
    return v.casefold() if isinstance(v, str) else v


def _insert_row(values: dict[str, Any]) -> dict[str, Any]:
    row = {c: values.get(c) for c in _INSERT_COLUMNS}
    row["do_not_contact"] = bool(values.get("do_not_contact") or False)
    return row


_INSERT_COLUMNS = tuple(IMPORTED) + ("email_domain", "stage", "stage_changed_at", "attributes", "updated_at",
                                     "batch_id")


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items()}


def _chain(head, rest):
    yield from head
    yield from rest


def _default_rejects(path: str) -> str:
    if path == "-":
        return "stdin.rejects.csv"
    return path + ".rejects.csv"

