"""What `leadctl import` can be told and what it answers: options, their checks before a batch is
recorded, the result and its JSON summary, where rejects are written."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from ..errors import UsageError
from ..fields import MATCHABLE
from ..store import IdSet
from .headers import MappingSpec, build_column_map, check_plan
from .identity import DEFAULT_MATCH
from .reader import read_records

MODES = ("upsert", "create", "update")

@dataclass
class ImportOptions:
    """Everything `leadctl import` can be told; defaults are the documented ones."""

    mode: str = "upsert"
    match: tuple[str, ...] = DEFAULT_MATCH
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
    collect_ids: bool = True  # keep the ids of created/changed leads (for `process`); off keeps memory flat


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
    possible_duplicates: int = 0  # leads that share a phone or a placeholder e-mail with another, not merged
    files: list[str] = field(default_factory=list)
    rejects_files: list[str] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False
    lead_ids: IdSet = field(default_factory=IdSet, repr=False)  # created or changed, for `process`
    preamble_lines: int = 0  # note lines above the header rows, skipped (neither rows nor rejects)
    plans: list[dict] = field(default_factory=list)  # per file: ColumnMap.plan() with "file" and "preamble_lines"
    phone_evidence: dict[str, int] = field(default_factory=dict)  # phones read per evidence (rows.PHONE_EVIDENCE)

    def summary(self) -> dict:
        """The JSON object of docs/json.md (read = created + updated + merged + unchanged + rejected),
        plus the warnings, the skipped preamble lines and each file's column plan."""
        return {"batch": self.batch, "read": self.read, "created": self.created, "updated": self.updated,
                "merged": self.merged, "unchanged": self.unchanged, "rejected": self.rejected,
                "warnings": self.warnings, "possible_duplicates": self.possible_duplicates,
                "preamble_lines": self.preamble_lines, "plan": self.plans, "phones": dict(self.phone_evidence)}


def parse_match(text: str | Iterable[str]) -> tuple[tuple[str, ...], ...]:
    """`email,phone,first_name+last_name+company` → (("email",), ("phone",), (...composite...))."""
    items = text.split(",") if isinstance(text, str) else list(text)
    keys = []
    for item in items:
        parts = tuple(p.strip() for p in item.split("+") if p.strip())
        for p in parts:
            if p not in MATCHABLE:
                raise UsageError(f"'{p}' is not a match key", option="--match",
                                 hint="use " + ", ".join(MATCHABLE)
                                 + " or a composite such as first_name+last_name+company")
        if parts:
            keys.append(parts)
    if not keys:
        raise UsageError("a match needs at least one key", option="--match")
    return tuple(keys)


def check_read_options(opts: ImportOptions) -> None:
    """Refuse bad --format, --delimiter, --encoding, --map and --rejects values before a batch is recorded."""
    import codecs

    from .headers import _check_target
    from .reader import _norm_delimiter, _norm_format

    checks: list[tuple[str, Callable[[Any], Any], Any]] = [
        ("--format", _norm_format, opts.fmt), ("--delimiter", _norm_delimiter, opts.delimiter)]
    checks += [("--map", _check_target, target) for target in (opts.overrides or {}).values()]
    for option, check, value in checks:
        try:
            check(value)
        except UsageError as exc:
            raise UsageError(exc.message, hint=exc.hint, option=option) from None
    if opts.encoding:
        try:
            codecs.lookup(opts.encoding)
        except LookupError:
            raise UsageError(f"unknown encoding {opts.encoding!r}",
                             hint="e.g. utf-8, cp1252, latin-1, utf-16", option="--encoding") from None
    folder = os.path.dirname(opts.rejects or "") or "."
    if opts.rejects and not opts.dry_run and not os.path.isdir(folder):
        from ..errors import OutputError

        raise OutputError(f"cannot write {opts.rejects}: folder {folder} does not exist",
                          hint="create the folder or choose another path", option="--rejects")


def check_map_columns(paths: list[str], opts: ImportOptions) -> None:
    """Refuse a --map column a file does not have before a batch is recorded (CSV and JSON Lines,
    whose headers are cheap to read; a JSON file is checked when it is read)."""
    if not opts.overrides:
        return
    for path in paths:
        if path == "-" or not os.path.isfile(path):
            continue  # stdin is read once; a missing file is reported by import_leads
        stream = read_records(path, fmt=opts.fmt, delimiter=opts.delimiter, encoding=opts.encoding)
        try:
            if stream.format != "json":
                colmap = build_column_map(stream.headers, overrides=opts.overrides, mapping=opts.mapping)
                if colmap.missing_map:
                    check_plan(colmap, stream.headers, file=stream.name)
        finally:
            stream.close()


def rejects_path(option: str | None, path: str, files: int) -> str:
    """`<input>.rejects.csv` by default; with --rejects and several inputs, one file per input."""
    name = "stdin" if path == "-" else path
    if not option:
        return name + ".rejects.csv"
    if files == 1:
        return option
    stem, ext = os.path.splitext(option)
    return f"{stem}.{os.path.splitext(os.path.basename(name))[0]}{ext or '.csv'}"
