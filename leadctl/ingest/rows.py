"""One input row → lead values: the per-file column plan, normalisers, source names.

`Normaliser.row` turns one raw record into the values, attributes, stage and the
warnings of one lead; the importer folds and writes them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable

from . import normalize as N
from .headers import ColumnMap, snake_case
from .reader import EXTRA_KEY

_TEXT = {"first_name", "last_name", "company", "title", "industry", "city", "campaign", "owner", "external_id"}
DATES = {"created_at", "last_activity_at", "last_contacted_at", "stage_at"}


@dataclass
class Row:
    """One normalised input row."""

    number: int
    file: str
    values: dict[str, Any]
    attributes: dict[str, Any]
    stage: str | None
    stage_at: datetime | None
    raw: dict[str, Any]


class Normaliser:
    """Turns raw records into lead values for one file, given its column map.

    The per-column work is planned once (which parser, which translation), because
    this runs for every cell of files with millions of rows.
    """

    def __init__(self, colmap: ColumnMap, opts, rules, sources: "Sources",
                 dayfirst: dict[str, bool | None]):
        self.opts = opts
        self.rules = rules
        self.attr_plan = [(c.header, c.attribute) for c in colmap.attributes if c.attribute]
        self.field_plan = [(c.header, c.field, c.translate if c.values else None) for c in colmap.columns
                           if c.field]
        self.header_of = {c.field: c.header for c in colmap.columns if c.field}
        defaults = dict(opts.mapping.defaults) if opts.mapping and opts.mapping.defaults else {}
        if opts.source and "source" not in defaults:
            defaults["source"] = opts.source
        self.defaults = {k: str(v) for k, v in defaults.items() if v not in (None, "")}
        self.has_full_name = "full_name" in self.header_of or "full_name" in self.defaults
        formats = {c.field: c.format for c in colmap.columns if c.field and c.format}

        def text(v):
            return N.clean_text(v) or None

        def date_parser(name):
            df, fmt = dayfirst.get(name, opts.dayfirst), formats.get(name)
            return lambda v: N.parse_datetime(v, dayfirst=df, fmt=fmt)

        def stage(v):
            if N.is_missing(v):
                return None
            found = rules.stages.resolve(v)
            if found is None:
                raise N.BadValue(f"unknown stage '{v}'")
            return found

        def revenue(v):
            n = N.parse_number(v)
            return None if n is None else float(n)

        self.parsers: dict[str, Callable[[str], Any]] = {
            "email": N.normalize_email, "linkedin": N.normalize_linkedin, "country": N.normalize_country, "employees": N.parse_int,
            "annual_revenue": revenue, "do_not_contact": N.parse_bool, "stage": stage,
            "source": lambda v: sources.canonical(N.clean_text(v)),
            **{name: date_parser(name) for name in DATES},
            **{name: text for name in _TEXT},
        }

    def row(self, number: int, raw: dict[str, Any]) -> tuple[Row | None, str | None, list[tuple[str, str, str]]]:
        """Return (row, reject reason, warnings[(field, value, reason)])."""
        attributes: dict[str, Any] = {}
        for header, key in self.attr_plan:
            value = raw.get(header)
            if value:
                value = N.clean_text(value)
                if value and not N.is_missing(value):
                    attributes[key] = value
        texts: dict[str, str] = {}
        for header, name, translate in self.field_plan:
            value = raw.get(header)
            if translate is not None:
                value = translate(value)
            if value and not value.isspace():
                texts[name] = value
        for name, value in self.defaults.items():
            if name not in texts or N.is_missing(texts[name]):
                texts[name] = value
        values: dict[str, Any] = {}
        warnings: list[tuple[str, str, str]] = []
        extra = raw.get(EXTRA_KEY)
        if extra:  # cells beyond the header (a ragged row): kept and reported, never dropped
            attributes[EXTRA_KEY] = extra
            warnings.append((EXTRA_KEY, extra, "more cells than the header names; kept as attributes._extra"))
        phone = texts.pop("phone", None)
        full_name = texts.pop("full_name", None)
        for name, value in texts.items():
            try:
                parsed = self.parsers[name](value)
            except N.BadValue as exc:
                self._bad(name, value, exc, attributes, warnings)
                continue
            if parsed is not None:
                values[name] = parsed
        if phone is not None:
            try:
                parsed = N.normalize_phone(phone, values.get("country") or self.opts.default_region)
                if parsed is not None:
                    values["phone"] = parsed
            except N.BadValue as exc:
                self._bad("phone", phone, exc, attributes, warnings)
        if full_name is not None:
            first, last = N.split_full_name(full_name)
            if first and "first_name" not in values:
                values["first_name"] = first
            if last and "last_name" not in values:
                values["last_name"] = last
        if not (values.get("email") or values.get("phone") or values.get("external_id")):
            bad_ids = [f"{f} '{v}' is invalid" for f, v, _ in warnings if f in ("email", "phone", "external_id")]
            why = "no valid e-mail, phone or external id"
            if bad_ids:
                why += " (" + "; ".join(bad_ids) + ")"
            return None, why, warnings
        if warnings and self.opts.strict:
            return None, "; ".join(f"{f}: {r}" for f, _, r in warnings), warnings
        stage = values.pop("stage", None)
        stage_at = values.pop("stage_at", None)
        return Row(number, "", values, attributes, stage, stage_at, raw), None, warnings

    def _bad(self, name: str, value: str, exc: Exception, attributes: dict, warnings: list) -> None:
        """An unreadable value: dropped from the lead, kept raw in attributes, reported."""
        header = self.header_of.get(name, name)
        attributes.setdefault(snake_case(header) or name, value)
        warnings.append((name, value, str(exc)))


class Sources:
    """Canonical source names: sources.yaml names and aliases, else first spelling seen."""

    def __init__(self, rules, known: Iterable[str]):
        self._rules_sources = rules.sources
        self._seen: dict[str, str] = {}
        self._memo: dict[str, str] = {}
        for s in known:
            if s:
                self._seen.setdefault(s.strip().casefold(), s)

    def canonical(self, value: str) -> str | None:
        if not value:
            return None
        hit = self._memo.get(value)
        if hit is None:
            hit = self._rules_sources.resolve(value) or self._seen.setdefault(value.strip().casefold(), value.strip())
            if len(self._memo) < 100_000:  # a value's answer never changes once given
                self._memo[value] = hit
        return hit

    def state(self) -> tuple[dict[str, str], dict[str, str]]:
        return self._seen, self._memo

    def restore(self, state: tuple[dict[str, str], dict[str, str]]) -> None:
        """Take over what a worker process learnt (first spellings seen), so later files agree."""
        self._seen, self._memo = state
