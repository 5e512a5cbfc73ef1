"""`import_leads`: stream files into the store, normalised, validated, deduplicated, as one batch.

The data path is set-based: rows are read and normalised one by one (streaming),
then handled in chunks — one query per match key to find existing leads, one
bulk insert, one bulk update — committed a few chunks at a time (store.Batches),
so memory stays flat and a killed import leaves only whole chunks behind.

Counting (docs/json.md): every row read is exactly one of
  created   — it became a new lead;
  updated   — it changed a lead that existed before this import;
  merged    — it matched a lead this same import already created or changed
              (a duplicate inside the file, or across the files of one call);
  unchanged — it matched an existing lead and changed nothing;
  rejected  — it was not imported (no identifier, or --strict and a bad value),
              and is written to the rejects file with its reason.
"""
from __future__ import annotations

import gc
import hashlib
import os
from array import array
from collections import Counter
from contextlib import contextmanager
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from sqlalchemy import func, select

from ..clock import utcnow
from ..errors import InputError, LeadctlError, UsageError
from ..quality.flags import fold_flags, refresh_flags, store_flags
from ..setup import project_region
from ..store import Batches, models
from ..store.db import Store
from ..store.history import stages_text
from ..store.indexes import built_after
from . import normalize as N
from .batches import finish_batch, start_batch, undo_batch
from .deferred import Deferred
from .fastpath import Worker, ahead, use_worker
from .headers import ColumnMap, build_column_map, check_plan, snake_case
from .identity import (
    Ids,
    KeyFilter,
    SharedKeys,
    identity_headers,
    is_filler_email,
    placeholder_key,
    raw_hashes,
    row_identifiers,
    shared_placeholders,
    value_hashes,
)
from .matching import Matcher, fold, has_identity
from .merge import MergePolicy
from .options import (  # noqa: F401 - ImportOptions, ImportResult and parse_match are the import API here too
    MODES,
    ImportOptions,
    ImportResult,
    check_map_columns,
    check_read_options,
    parse_match,
    rejects_path,
)
from .reader import BadRecord, read_records
from .rejects import RejectsWriter
from .rows import DATES, HEAD_ROWS, Normaliser, Row, Sources, plan_values
from .write import _UPDATABLE, write_fold

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

CHUNK = 5000
TXN_CHUNKS = 16  # chunks per transaction at most (1, 2, 4, ... on): each commit writes every index page its
#                  chunks dirtied, and e-mail, phone and row-hash pages are dirtied all over (1M: 201 per-chunk
#                  commits took 11.6 of 84 s; 4 chunks each 6.4 s; 12: 4.1 s)
DEFERRED_SLICE = 1  # rows held for the end fold: CHUNK * this many at a time (300k: 4 peaked at 318 MB)
# The store may hold up to this many times the files' rows for the key filter: filling it costs ~3 µs
# a stored lead, and it saves ~7-10 µs of lookups a row (100k files, CPU of the importing process).
KEY_FILTER_RATIO = 1
WAL_PAGES = 16_000  # 64 MiB of write-ahead log between checkpoints (see _checkpoint_seldom)
Progress = Callable[[int], None]


def import_leads(store: Store, paths: list[str], opts: ImportOptions, rules: RuleSet, *, now: datetime | None = None,
                 progress: Progress | None = None) -> ImportResult:
    """Import lead files into the store as one batch and return what happened.

    >>> import_leads(store, ["leads.csv"], ImportOptions(), load_rules("rules"))  # doctest: +SKIP
    """
    if opts.mode not in MODES:
        raise UsageError(f"'{opts.mode}' is not one of {', '.join(MODES)}", option="--mode")
    match = parse_match(opts.match)
    if opts.default_region and not N.calling_code_of_region(opts.default_region):
        raise UsageError(f"'{opts.default_region}' is not a country code",
                         hint="an ISO 3166 code such as FR, US or DE", option="--default-region")
    check_read_options(opts)
    check_map_columns(paths, opts)
    for p in paths:
        if p != "-" and not os.path.exists(p):
            raise InputError("no such file", file=p)
        if p != "-" and os.path.isdir(p):
            raise InputError("is a folder, not a file", file=p)
    now = now or utcnow()
    result = ImportResult(batch=None, files=list(paths), dry_run=opts.dry_run)
    t0 = _clock()
    importer = _Importer(store, opts, rules, match, now, result, progress)
    with _few_collections():
        importer.run(paths)
    result.seconds = round(_clock() - t0, 3)
    return result


@contextmanager
def _few_collections() -> Iterator[None]:
    """Run with the cyclic garbage collector seldom: an import allocates millions of short-lived
    dicts and tuples that reference counting frees, and each full collection walks every object
    alive (measured at 100k rows: 2 of 17.6 CPU seconds). What exists before is frozen out of it."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


def _checkpoint_seldom(own: int) -> int:
    """A chunk transaction's `wal_autocheckpoint` (SQLite's default: 1000 pages): its commit folds the write-ahead
    log into the database only past WAL_PAGES pages. A chunk dirties index pages all over (e-mails, phones, row
    hashes), and checkpointing after every chunk wrote most of them again and again. 0 (off) stays off."""
    return max(own, WAL_PAGES) if own > 0 else own


_CHUNK_PRAGMAS = {"wal_autocheckpoint": _checkpoint_seldom}


def _clock() -> float:
    import time

    return time.perf_counter()


class _Importer:
    def __init__(self, store: Store, opts: ImportOptions, rules: RuleSet, match, now: datetime, result: ImportResult,
                 progress: Progress | None):
        self.store = store
        self.opts = opts
        self.rules = rules
        self.match = match
        self.matcher = Matcher(match)
        self.now = now
        self.result = result
        self.progress = progress
        self.t = models.Lead.__table__
        self.updated_ids: set[int] = set()
        self.batch_id: int | None = None
        self.project_region = project_region(store)  # read here: a reading worker must not use our connections

    # -- the batch ---------------------------------------------------------
    def run(self, paths: list[str]) -> None:
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
            with built_after(self.store, _estimated_rows(paths)):
                self._import_files(paths)
            status = "complete"
        except KeyboardInterrupt:
            status, message = "interrupted", "stopped by the user; the chunks not yet committed were rolled back"
            raise
        except LeadctlError as exc:
            # A file that cannot be read to the end leaves the store as it was: take back
            # the chunks already committed, so the failed batch has nothing to undo later.
            message = exc.describe()
            self._discard()
            raise
        finally:
            r = self.result
            finish_batch(self.store, self.batch_id, status, read=r.read, created=r.created, updated=r.updated,
                         merged=r.merged, unchanged=r.unchanged, rejected=r.rejected, warnings=r.warnings,
                         message=message, sha256=self._sha or "")

    def _discard(self) -> None:
        try:
            undone = undo_batch(self.store, self.batch_id)
        except LeadctlError:
            pass  # e.g. nothing to undo; the batch is marked failed below either way
        else:
            if undone.affected:  # the leads put back get the flags of their values back
                with self.store.begin() as conn:
                    refresh_flags(conn, lead_ids=undone.affected)
        r = self.result
        r.created = r.updated = r.merged = r.unchanged = 0
        r.lead_ids.clear()

    def _new_batch(self, conn, paths: list[str], options: dict) -> int:
        self._sha = None
        return start_batch(conn, "leads", ", ".join(paths), options)

    # -- reading -------------------------------------------------------------
    def _import_files(self, paths: list[str]) -> None:
        self.policy = MergePolicy(self.rules.stages, self.now, self.batch_id)
        # Into a store no import wrote rows to, a row can only be known from this import, and a
        # row that repeats one of its rows shares its values: they are folded together (see
        # SharedKeys). Standard input is not scanned for those, so it always asks.
        self.rows_recorded = "-" in paths or self._any_imported_rows()
        digest = hashlib.sha256()
        known = self._known_sources()
        self.rejects_by_file: dict[str, RejectsWriter] = {}
        self.sources = Sources(self.rules, known)
        self.deferred = Deferred()
        self.txn = Batches(lambda: self.store.begin(_CHUNK_PRAGMAS), TXN_CHUNKS, growing=True,
                           on_rollback=self._uncount)
        self.keyfilter: KeyFilter | bool | None = self._key_filter(paths)  # True: to be filled at the first chunk
        plans = []
        workers: list[Worker | None] = []
        try:
            for path in paths:
                stream = read_records(path, fmt=self.opts.fmt, delimiter=self.opts.delimiter,
                                      encoding=self.opts.encoding)
                colmap = build_column_map(stream.headers, overrides=self.opts.overrides, mapping=self.opts.mapping)
                check_plan(colmap, stream.headers, file=stream.name)  # before any row is read
                self.result.plans.append({"file": path, "preamble_lines": stream.preamble_lines, **colmap.plan()})
                self.result.preamble_lines += stream.preamble_lines
                rejects = RejectsWriter(rejects_path(self.opts.rejects, path, len(paths)), stream.headers,
                                        enabled=not self.opts.dry_run)
                self.rejects_by_file[path] = rejects
                plans.append((path, stream, colmap))
            # The first large file's worker starts reading now, while this process scans the files.
            workers = [self._worker(*plans[0])] if plans else []
            self._scan_shared_keys(plans)
            for i, (path, stream, colmap) in enumerate(plans):
                if i:
                    workers.append(self._worker(path, stream, colmap))
                sha = self._import_stream(path, stream, colmap, self.rejects_by_file[path], workers[-1])
                digest.update((sha or "").encode())
            # Rows that share a key with another row of these files, folded together and compared
            # with the store once: a lead's result does not depend on where chunks fall.
            # In slices of whole groups (rows sharing a value): memory stays flat.
            for rows in self.deferred.slices(DEFERRED_SLICE * CHUNK):
                self._flush(rows)
        finally:
            for worker in workers:
                if worker is not None:
                    worker.close()
            self.txn.flush()  # the chunks written whole (an error or Ctrl-C between chunks keeps them)
            self.deferred.close()
            for rejects in self.rejects_by_file.values():
                rejects.close()
                if rejects.path_written:
                    self.result.rejects_files.append(rejects.path_written)
        self._sha = digest.hexdigest() if len(paths) > 1 else (sha or "")

    def _scan_shared_keys(self, plans) -> None:
        """First pass over the raw files: which identity values occur more than once (see SharedKeys).

        Standard input cannot be read twice: its rows are folded chunk by chunk (a duplicate that
        falls in another chunk is still merged, but a re-import may count it as updated).
        """
        self.shared = SharedKeys()
        self.identity_headers: dict[str, dict[str, str]] = {}
        self.deferred_rows: dict[str, bytearray] = {}
        scanned: dict[str, tuple[array, array]] = {}
        for path, _stream, colmap in plans:
            headers = identity_headers(colmap)
            self.identity_headers[path] = headers
            if path == "-" or not headers:
                continue
            scan = read_records(path, fmt=self.opts.fmt, delimiter=self.opts.delimiter, encoding=self.opts.encoding)
            # every hash with its row number (compact: 8 bytes a value), to tell the rows that wait below
            hashes, numbers = scanned[path] = array("I"), array("I")
            try:
                add, keep, at = self.shared.add, hashes.append, numbers.append
                kinds = list(headers.values())
                for number, values in scan.cells_of(list(headers)):
                    for h in value_hashes(values, kinds):
                        add(h)
                        keep(h)
                        at(number)
            except LeadctlError:
                pass  # the import itself reads the file again and reports where it breaks
            finally:
                scan.close()
        self.shared.release()
        # Which rows share a value with another row: decided here once, so the import pass hashes only those.
        repeated = self.shared.repeated
        for path, (hashes, numbers) in scanned.items():
            flags = self.deferred_rows[path] = bytearray(numbers[-1] + 1 if numbers else 0)
            if repeated:
                for h, number in zip(hashes, numbers):
                    if h in repeated:
                        flags[number] = 1

    def _any_imported_rows(self) -> bool:
        ir = models.ImportedRow.__table__
        with self.store.connect() as conn:
            return conn.execute(select(ir.c.hash).limit(1)).first() is not None

    def _known_sources(self) -> list[str]:
        t = self.t
        with self.store.connect() as conn:
            return [r[0] for r in conn.execute(select(t.c.source).where(t.c.source.is_not(None)).distinct())]

    def _worker(self, path: str, stream, colmap: ColumnMap) -> Worker | None:
        """A worker process that reads and normalises a large CSV file, started now; None for other files."""
        if not use_worker(stream, path):
            return None
        stream.close()
        need_raw = self.opts.mode != "upsert"  # late rejects (mode create/update) print the row
        system = _system(colmap)
        # The rows that wait for the end-of-import fold stay with the worker, in a file of our Deferred's: only
        # their count and warnings come over (the fold reads them from there).
        spill, spill_file = self.deferred.spill_file()
        held = Deferred(spill_file)
        done: dict[str, Any] = {"spill": spill}

        def events():
            inner = read_records(path, fmt=self.opts.fmt, delimiter=self.opts.delimiter, encoding=self.opts.encoding)
            for number, fields, reason, warnings, raw in self._events(inner, colmap):
                if fields is not None and ahead(_HASH_LEAD):  # else the importer waits: it hashes the row itself
                    fields = (*fields, row_hash(*fields[:4], system))
                yield number, fields, reason, warnings, raw
            done["sha256"] = inner.sha256
            done["sources"] = self.sources.state()
            done["phone_evidence"] = self.result.phone_evidence  # the worker's count (this file included)

        def settle(items, decision):
            for number, fields, reason, warnings, raw, defer in _deferring(items, decision):
                if defer is not None:
                    held.add(_row(number, path, fields, raw, system), defer)
                    yield number, _HELD, reason, warnings, raw if warnings else None, None
                    continue
                keep = need_raw or warnings or not fields or _may_warn_late(fields)
                yield number, fields, reason, warnings, raw if keep else None, None
            done["held"] = held.held()

        # the rows read before the first pass's decision come over as they are, settled here
        return Worker(events, settle, done, settle_read=_deferring)

    def _import_stream(self, path: str, stream, colmap: ColumnMap, rejects: RejectsWriter,
                       worker: Worker | None) -> str:
        """Fold one file into the store; return the checksum of its bytes.

        Reading and normalising a large CSV file runs in a worker process (`_worker`) while this
        one matches and writes; either way the rows arrive here in file order, and rejects,
        warnings, counts and errors are handled here exactly alike. A row that shares an
        identity value with another row of the import waits for the end (`deferred`).
        """
        # which rows wait: as the first pass found them (by row number; past them, by the repeated values)
        decision = (self.identity_headers.get(path, {}), self.deferred_rows.get(path, bytearray()), self.shared)
        if worker is not None:
            done = worker.result
            events = worker.items(decision)
        else:
            done = {}
            events = _deferring(self._events(stream, colmap), decision)
        system = _system(colmap)
        chunk: list[Row] = []
        for number, fields, reason, warnings, raw, defer in events:
            self.result.read += 1
            for fieldname, value, why in warnings:
                self.result.warnings += 1
                if fields is not None:
                    rejects.warn(number, why, fieldname, value, raw)
            if fields is None:
                rejects.write(number, reason, None, None, raw)
                self.result.rejected += 1
                continue
            if fields == _HELD:
                continue
            row = _row(number, path, fields, raw, system)
            if defer is not None:
                self.deferred.add(row, defer)
                continue
            chunk.append(row)
            if len(chunk) >= CHUNK:
                self._flush(chunk)
                chunk = []
        if chunk:
            self._flush(chunk)
        if "held" in done:
            self.deferred.adopt(done["spill"], *done["held"])
        if "sources" in done:
            self.sources.restore(done["sources"])
        if "phone_evidence" in done:
            self.result.phone_evidence = done["phone_evidence"]
        return done.get("sha256", stream.sha256)

    def _events(self, stream, colmap: ColumnMap) -> Iterator[tuple]:
        """(row number, (values, attributes, stage, stage_at, flags) or None, reject reason, warnings, raw record)
        for every record of the stream, in order (in the reading worker when there is one)."""
        records = iter(stream)
        head: list[tuple[int, dict]] = []
        if any(colmap.for_field(f) for f in (*DATES, "phone")):
            # Date order and phone evidence are decided per column from the data (a 13 settles
            # a date column; most numbers' "+33" gives the others' region).
            for item in records:
                head.append(item)
                if len(head) >= HEAD_ROWS:
                    break
        plan = plan_values([r for _, r in head if not isinstance(r, BadRecord)], colmap, self.opts, self.rules,
                           project_region=getattr(self, "project_region", None))
        norm = Normaliser(colmap, self.opts, self.rules, self.sources, plan)
        # A column of only ambiguous dates gets one warning, on the first row imported.
        column_warnings = [(f, sample, why) for f, (_h, sample, why) in plan.date_warnings.items()]
        try:
            for number, raw in _chain(head, records):
                if isinstance(raw, BadRecord):
                    yield number, None, raw.reason, (), {"_raw": raw.raw}
                    continue
                row, reason, warnings = norm.row(number, raw)
                fields = None if row is None else (row.values, row.attributes, row.stage, row.stage_at, row.flags)
                if column_warnings and fields is not None:
                    warnings, column_warnings = [*column_warnings, *warnings], []
                yield number, fields, reason, warnings, raw
        finally:
            evidence = self.result.phone_evidence
            for key, n in norm.phone_evidence.items():
                evidence[key] = evidence.get(key, 0) + n

    # -- writing ---------------------------------------------------------------
    def _flush(self, rows: list[Row]) -> None:
        if self.opts.dry_run:
            self._apply(self.conn, rows)
        else:
            if not self.txn.open:
                self._committed = self._counts()
            with self.txn() as conn:
                self._apply(conn, rows)
        if self.progress:
            self.progress(len(rows))

    def _counts(self) -> tuple[int, int, int, int]:
        r = self.result
        return r.created, r.updated, r.merged, r.unchanged

    def _uncount(self) -> None:
        """The chunks of a rolled-back transaction wrote nothing: their leads are not counted."""
        r = self.result
        r.created, r.updated, r.merged, r.unchanged = self._committed

    def _apply(self, conn, rows: list[Row]) -> None:
        """Fold rows into leads, then count and write the net effect.

        Rows for the same person are folded in file order first and compared with the store
        once, so re-importing a file with duplicates inside changes nothing. A row joins a lead
        only when no identifier conflicts (see ingest.identity); a lead it shares only a phone,
        a composite key or a placeholder e-mail with is recorded as a possible duplicate.

        A row some import already folded into a lead (the same values: `imported_rows`) is
        `unchanged` at once, so importing a file again never changes anything, whatever it holds.
        """
        rows = self._skip_known_rows(conn, rows)
        placeholders = shared_placeholders(row.values for row in rows)
        for row in rows:
            email = row.values.get("email")
            if email and (email.casefold() in placeholders or is_filler_email(email.casefold())):
                self._placeholder(row, "rows with different names carry it" if email.casefold() in placeholders
                                  else "a filler address")
        row_keys = [self.matcher.row_keys(row) for row in rows]
        existing, ids_of = self.matcher.find_existing(conn, self._findable(conn, row_keys))
        keyindex: dict[tuple, list[int]] = {}  # key → lead ids (existing > 0, new < 0), oldest first
        for lid in sorted(existing):
            for key in set(self.matcher.lead_keys(existing[lid], ids_of[lid])):
                keyindex.setdefault(key, []).append(lid)
        state: dict[int, dict[str, Any]] = {}       # lead id → values after the rows seen so far
        rows_of: dict[int, int] = {}                # lead id → rows folded into it
        stage_at: dict[int, datetime | None] = {}   # lead id → when the last stage it took was reached
        new_ids: dict[int, list[dict]] = {}         # lead id → identifiers to record
        possible: dict[tuple[int, int], str] = {}   # (lead, other lead) → why they may be one person
        seen: dict[int, set[tuple[str, str]]] = {}  # lead id → identifiers it held during the fold
        folded: dict[int, int] = {}                 # row hash → lead id
        next_local = -1
        mode = self.opts.mode
        # Rows that carry an identity (e-mail, id, profile) settle who is who first; rows known only by
        # a phone join after them, so which lead a phone row joins does not depend on where it stands.
        order = sorted(range(len(rows)), key=lambda i: not (rows[i].placeholder or has_identity(rows[i].values)))
        alone = self._alone(rows, row_keys, keyindex)
        for i in order:
            row = rows[i]
            if alone[i]:  # nothing to match, and nothing will match it: a new lead of its own (the same steps as below)
                target, next_local = next_local, next_local - 1
                state[target] = self.policy.new_values(row)
                stage_at[target] = row.stage_at
                rows_of[target] = 1
                folded.setdefault(row.hash, target)
                ext = row.values.get("external_id")
                if ext:
                    new_ids[target] = [{"kind": "external_id", "value": ext.casefold(), "system": row.system}]
                continue
            target, resembles = self.matcher.match(row, row_keys[i], keyindex, existing, state, ids_of)
            if target is None and row.values.get("email") and self.matcher.email_taken(row, keyindex, existing, state):
                # The e-mail is another person's (different name): a placeholder for this row.
                self._placeholder(row, "a lead with another name has it")
                row_keys[i] = self.matcher.row_keys(row)
                target, more = self.matcher.match(row, row_keys[i], keyindex, existing, state, ids_of)
                resembles += more
            if target is None:
                if mode == "update":
                    self._reject_late(row, "no existing lead matches (mode update)")
                    continue
                target, next_local = next_local, next_local - 1
                state[target] = self.policy.new_values(row)
                ids_of[target] = Ids.empty()
                stage_at[target] = row.stage_at
            elif target > 0 and target not in state and mode == "create" and not self._touched(existing[target]):
                self._reject_late(row, "a lead with this key already exists (mode create)")
                continue
            else:
                current = state.get(target) or dict(existing[target])
                state[target] = merged = self.policy.merge(current, row)
                if row.stage and merged["stage"] != current.get("stage"):
                    stage_at[target] = row.stage_at
                for kind in _REPLACEABLE:  # a replaced identifier keeps finding the lead (recorded below)
                    if current.get(kind):
                        seen.setdefault(target, set()).add((kind, fold(current[kind])))
            for lid, why in resembles:
                if lid != target:
                    possible.setdefault((target, lid), why)
            rows_of[target] = rows_of.get(target, 0) + 1
            folded.setdefault(row.hash, target)
            known = ids_of[target]
            ext = row.values.get("external_id")
            if ext and ext.casefold() not in known.externals.get(row.system, ()):
                new_ids.setdefault(target, []).append({"kind": "external_id", "value": ext.casefold(),
                                                       "system": row.system})
            if row.placeholder and row.placeholder not in known.placeholders:
                new_ids.setdefault(target, []).append({"kind": "placeholder", "value": row.placeholder,
                                                       "system": ""})
            known.add_row(row.values, row.system, row.placeholder)
            for key in row_keys[i] + self.matcher.lead_keys(state[target], known):
                leads = keyindex.setdefault(key, [])
                if target not in leads:
                    leads.append(target)
        for lid, values in seen.items():  # values a lead held in this fold and no longer holds
            final = {(kind, fold(state[lid].get(kind))) for kind in _REPLACEABLE}
            for kind, value in sorted(values - final):
                if value not in ids_of[lid].recorded:
                    new_ids.setdefault(lid, []).append({"kind": kind, "value": value, "system": ""})
        r = self.result
        new = {lid: v for lid, v in state.items() if lid < 0}
        changed: dict[int, dict[str, Any]] = {}
        before: dict[int, dict[str, Any]] = {}
        stage_moves: list[tuple[int, str | None, str, datetime | None]] = []
        for lid, n in rows_of.items():
            if lid < 0:
                r.created += 1
                r.merged += n - 1
                new[lid]["stage_changed_at"] = stage_at.get(lid) or new[lid]["created_at"]
                new[lid]["stages_entered"] = stages_text([new[lid]["stage"]])  # its one history row, below
                continue
            original, final = existing[lid], state[lid]
            diff = {k: original.get(k) for k in _UPDATABLE if final.get(k) != original.get(k)}
            if not diff and lid not in new_ids:
                r.unchanged += n
                if original.get("_unprocessed") and self.opts.collect_ids:
                    self.result.lead_ids.add(lid)  # an interrupted import left it unprocessed
                continue
            if final["stage"] != original.get("stage"):
                final["stage_changed_at"] = stage_at.get(lid) or self.now
                diff["stage_changed_at"] = original.get("stage_changed_at")
                stage_moves.append((lid, original.get("stage"), final["stage"], stage_at.get(lid)))
            changed[lid], before[lid] = final, diff
            if self._touched(original):
                r.merged += n
            else:
                r.updated += 1
                r.merged += n - 1
            self.updated_ids.add(lid)
        r.possible_duplicates += len(possible)
        store_flags(conn, fold_flags(rows, new, changed, existing))  # new leads' flags are written with them
        written = write_fold(conn, self.batch_id, self.now, new, changed, before, stage_moves, new_ids, possible,
                             folded)
        self._remember(conn, state, new_ids)
        if self.opts.collect_ids:
            self.result.lead_ids.update(written)
            self.result.lead_ids.update(changed)

    def _alone(self, rows: list[Row], row_keys: list[list[tuple]], keyindex: dict[tuple, list[int]]) -> list[bool]:
        """Which rows of a fold become a new lead of their own for sure: no key they are found by, nor any
        key the new lead would be found by (Matcher.lead_keys: the match columns, which a new lead takes from
        its row, and the identifiers it records), is a stored lead's or another row's. Most rows of a large
        file are (the rows that share a value wait for the end-of-import fold): the fold skips matching them.
        None in mode update (it makes no new leads)."""
        if self.opts.mode == "update":
            return [False] * len(rows)
        per_row = [{*keys, *row_identifiers(row.values)} for row, keys in zip(rows, row_keys)]
        uses = Counter(dict.fromkeys(keyindex, 2))  # a stored lead's key: never alone
        uses.update(chain.from_iterable(per_row))
        return [not row.placeholder and (not own or max(map(uses.__getitem__, own)) == 1)
                for row, own in zip(rows, per_row)]

    # -- which keys may find a stored lead -------------------------------------------
    def _key_filter(self, paths: list[str]) -> bool:
        """Whether to use a key filter: for an import into a store no larger than its files (the first
        load of an export, a second export as large) every key a stored lead can be found by is
        kept, so the keys of new people are never looked up (see KeyFilter). Not when the store is large
        against the files (filling it would cost more than the lookups), or a composite key is matched."""
        self.key_columns = [key[0] for key in self.match if key[0] in self.t.c]
        if any(len(key) > 1 for key in self.match):
            return False
        with self.store.connect() as conn:
            held = conn.execute(select(func.max(self.t.c.id))).scalar() or 0
        return not held or held <= KEY_FILTER_RATIO * _estimated_rows(paths)

    def _fill_key_filter(self, conn) -> KeyFilter:
        """The keys of every lead the store holds now. Built at the first chunk, when the reading worker
        has started: the worker does not carry a copy of it."""
        keys = KeyFilter()
        columns = self.key_columns
        rows = conn.execute(select(*[self.t.c[c] for c in columns]))
        keys.add_all(_column_keys((dict(zip(columns, values)) for values in rows), columns))
        li = models.LeadIdentifier.__table__
        keys.add_all((kind, value) for kind, value in conn.execute(select(li.c.kind, li.c.value)))
        self.marks = _marks(conn)
        return keys

    def _findable(self, conn, row_keys: list[list[tuple]]) -> list[list[tuple]]:
        """The row keys worth looking up: all of them, unless the key filter rules some out. Another
        process that wrote leads or identifiers since the last chunk turns the filter off."""
        keys = self.keyfilter
        if keys is None or keys is False:
            return row_keys
        if keys is True:
            if not any(row_keys):  # nothing to look up (e.g. every row was imported before): not yet
                return row_keys
            keys = self.keyfilter = self._fill_key_filter(conn)
        elif _marks(conn) != self.marks:
            self.keyfilter = None
            return row_keys
        return [keys.may_find(k) for k in row_keys]

    def _remember(self, conn, state: dict[int, dict[str, Any]], identifiers: dict[int, list[dict]]) -> None:
        """Add the keys of the leads one fold wrote to the key filter."""
        keys = self.keyfilter
        if not isinstance(keys, KeyFilter):
            return
        keys.add_all(_column_keys(state.values(), self.key_columns))
        keys.add_all((item["kind"], item["value"]) for items in identifiers.values() for item in items)
        self.marks = _marks(conn)

    def _skip_known_rows(self, conn, rows: list[Row]) -> list[Row]:
        """The rows no import folded in yet (by `row.hash`); the others count as unchanged (their lead is
        processed if an interrupted import left it unprocessed)."""
        if not self.rows_recorded:
            return rows
        t, ir = self.t, models.ImportedRow.__table__
        known: dict[int, bool] = {}
        hashes = sorted({row.hash for row in rows})
        for i in range(0, len(hashes), 500):
            query = select(ir.c.hash, ir.c.lead_id, t.c.explanation.is_(None)).join(t, t.c.id == ir.c.lead_id) \
                .where(ir.c.hash.in_(hashes[i:i + 500]), t.c.erased_at.is_(None))
            for h, lid, unprocessed in conn.execute(query):
                known[h] = True
                if unprocessed and self.opts.collect_ids:
                    self.result.lead_ids.add(lid)
        if not known:
            return rows
        self.result.unchanged += sum(1 for row in rows if row.hash in known)
        return [row for row in rows if row.hash not in known]

    def _placeholder(self, row: Row, why: str) -> None:
        """Treat the row's e-mail as a placeholder: kept in attributes, its identity the e-mail with the name."""
        email = row.values.pop("email")
        row.values.pop("email_domain", None)
        row.attributes["placeholder_email"] = email
        row.placeholder = placeholder_key(email.casefold(), row.values)
        self.result.warnings += 1
        self.rejects_by_file[row.file].warn(
            row.number, f"e-mail {email} treated as a placeholder ({why}): kept as attributes.placeholder_email, "
                        "not used to find the lead", "email", email, row.raw or {})

    def _touched(self, lead: dict[str, Any]) -> bool:
        """Created or changed by this import already (an earlier chunk or file)."""
        return lead["id"] in self.updated_ids or lead.get("batch_id") == self.batch_id

    def _reject_late(self, row: Row, reason: str) -> None:
        """A row that only the store can reject (mode create/update) goes to its file's rejects."""
        self.result.rejected += 1
        self.rejects_by_file[row.file].write(row.number, reason, None, None, row.raw)

_REPLACEABLE = ("email", "phone", "linkedin")


def _system(colmap: ColumnMap) -> str:
    """Where a file's external ids come from: the snake_case header of its external id column."""
    column = colmap.for_field("external_id")
    return snake_case(column.header) if column else ""


def row_hash(values: dict[str, Any], attributes: dict[str, Any], stage: str | None, stage_at: datetime | None,
             system: str) -> int:
    """A signed 64-bit hash of what a normalised row says (values, attributes, stage, its id's system)."""
    # A dict's keys are distinct, so sorting its items compares keys only (no key function needed).
    text = repr((sorted(values.items()), sorted(attributes.items()), stage, stage_at, system))
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big", signed=True)


def _marks(conn) -> tuple:
    """The largest lead and identifier ids: they move when any process writes new leads or identifiers."""
    t, li = models.Lead.__table__, models.LeadIdentifier.__table__
    return tuple(conn.execute(select(select(func.max(t.c.id)).scalar_subquery(),
                                     select(func.max(li.c.id)).scalar_subquery())).one())


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _column_keys(leads: Iterable[dict[str, Any]], columns: list[str]) -> Iterator[tuple]:
    """Every key leads with these column values are found by in matching.find_existing (which compares
    a column, or for names and companies its SQL lower(), with case-folded values): each value as
    stored and each way of lowering it."""
    for values in leads:
        for c in columns:
            v = values.get(c)
            if v is None or v == "":
                continue
            yield c, v
            if type(v) is str:
                if v.isascii():  # the three ways of lowering agree on ASCII text
                    w = v.lower()
                    if w != v:
                        yield c, w
                else:
                    for w in {v.casefold(), v.lower(), v.translate(_ASCII_LOWER)}:
                        if w != v:
                            yield c, w


# The reading worker hashes a row (row_hash: 9 µs, a fifth of its work on a row) while it is this many batches
# ahead of the importer; closer, it leaves that to the importer, so neither process waits long for the other.
_HASH_LEAD = 2
_HELD = "held"  # an event's fields when the reading worker holds the row for the end-of-import fold


def _row(number: int, path: str, fields: tuple, raw: dict[str, Any] | None, system: str) -> Row:
    """The Row of an event's fields; its hash taken now unless the reading worker took it (a sixth field)."""
    return Row(number, path, *fields[:4], raw, system=system, flags=fields[4],
               hash=fields[5] if len(fields) > 5 else row_hash(*fields[:4], system))


def _deferring(events: Iterable[tuple], decision: tuple) -> Iterator[tuple]:
    """The events, each with `defer`: the row's value hashes when one of them repeats in the import, else None.
    `decision` is the first pass's: (the file's identity headers, which of its rows wait, the SharedKeys)."""
    headers, waits, shared = decision
    scanned = len(waits)
    for number, fields, reason, warnings, raw in events:
        defer = None
        if fields is not None:
            if number < scanned:
                if waits[number]:
                    defer = raw_hashes(raw, headers)
            else:  # past the rows the first pass saw hashes in (or standard input)
                hashes = raw_hashes(raw, headers)
                if shared.any_repeated(hashes):
                    defer = hashes
        yield number, fields, reason, warnings, raw, defer


def _may_warn_late(fields) -> bool:
    """Whether a row's e-mail may turn out a placeholder in the main process (its raw row is then kept)."""
    email = fields[0].get("email")
    return bool(email) and is_filler_email(email)


def _estimated_rows(paths: list[str]) -> int:
    """About how many rows the files hold (generated and real exports: 150-250 bytes a row)."""
    size = 0
    for path in paths:
        try:
            size += os.path.getsize(path) if path != "-" else 0
        except OSError:
            pass
    return size // 200


def _chain(head, rest):
    yield from head
    yield from rest
