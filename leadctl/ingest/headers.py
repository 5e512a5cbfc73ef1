"""Header mapping: which input columns feed which lead field, and what goes to attributes.

    cmap = build_column_map(["E-mail", "Work Email", "Budget"], overrides={"Budget": "annual_revenue"})
    [c.header for c in cmap.candidates["email"]]   # ['E-mail', 'Work Email']
    cmap.target("Budget")                          # 'annual_revenue'

Every field has an ordered list of candidate columns. A field named explicitly —
`--map "Column=field"`, then the mapping file's `columns:` — takes its explicit
columns only, in the order they were given; any other field takes the columns the
aliases name (aliases.yaml, then a mapping file's `aliases:`), ranked by their
place in that list, file order breaking ties. A row takes the first candidate that
holds a readable value in that row (see rows.Normaliser); the other candidates keep
their values under `attributes.<snake_case header>`, as does every column that maps
to no field.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field as dc_field
from functools import lru_cache

from leadctl.errors import InputError, UsageError
from leadctl.fields import IDENTITY, IMPORTED
from leadctl.words import close_matches, did_you_mean, snake_case

__all__ = [
    "FIELDS", "ALIASES", "MATCH_KEYS", "IDENTITY_FIELDS", "canonical_key", "snake_case", "ColumnSpec",
    "MappingSpec", "ColumnTarget", "ColumnMap", "build_column_map", "check_plan", "builtin_aliases",
    "is_known_header", "load_mapping", "parse_map_option",
]

# What a column may fill: the catalogue's importable fields, plus two targets only imports know
# (a full name split into first and last, and the time a row entered its stage).
FIELDS: tuple[str, ...] = (
    *IMPORTED[:IMPORTED.index("last_name") + 1], "full_name", *IMPORTED[IMPORTED.index("last_name") + 1:], "stage_at")

ATTRIBUTES_PREFIX = "attributes."
MATCH_KEYS = ("email", "phone", "external_id")
# A row needs one of these to be a lead; a file with no column for any of them cannot be imported.
IDENTITY_FIELDS = IDENTITY
ALIASES_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "aliases.yaml")
_USER_RANK = 10_000  # a mapping file's aliases come after the built-in ones


def canonical_key(header: str) -> str:
    """Lower case with every non-alphanumeric removed: `E-mail` → `email`, `Email Address` → `emailaddress`."""
    return "".join(c for c in header.casefold() if c.isalnum())


@lru_cache(maxsize=1)
def builtin_aliases() -> dict[str, tuple[str, ...]]:
    """field → its candidate headers, best first, as aliases.yaml lists them (read once, when first needed)."""
    import yaml

    with open(ALIASES_FILE, encoding="utf-8") as f:
        data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    out: dict[str, tuple[str, ...]] = {}
    for name, headers in data.items():
        if name not in FIELDS or not isinstance(headers, list):  # a packaging mistake, caught by the tests
            raise ValueError(f"{ALIASES_FILE}: {name!r} is not a field with a list of headers")
        out[name] = tuple(str(h) for h in headers)
    return out


@lru_cache(maxsize=1)
def _builtin_index() -> dict[str, tuple[str, int]]:
    """Canonical header key → (field, rank within the field's candidates)."""
    index: dict[str, tuple[str, int]] = {}
    for name in FIELDS:  # a field's own name always maps to it
        index[canonical_key(name)] = (name, 0)
    for name, headers in builtin_aliases().items():
        for rank, header in enumerate(headers, 1):
            key = canonical_key(header)
            hit = index.setdefault(key, (name, rank))
            if hit[0] != name:
                raise ValueError(f"{ALIASES_FILE}: {header!r} is listed under {hit[0]} and {name}")
    return index


def _alias_index(extra: dict[str, tuple[str, ...]] | None) -> dict[str, tuple[str, int]]:
    """The built-in index, with a mapping file's aliases added after each field's own (and winning a
    header from another field: the user said so)."""
    index = _builtin_index()
    if not extra:
        return index
    index = dict(index)
    for name, headers in extra.items():
        for rank, header in enumerate(headers, _USER_RANK):
            index[canonical_key(header)] = (name, rank)
    return index


def is_known_header(header: str) -> bool:
    """True when the header names a lead field by its name or a built-in alias."""
    return canonical_key(header) in _builtin_index()


def __getattr__(name: str):
    if name == "ALIASES":  # header key → field; built lazily, since reading aliases.yaml costs import time
        return {key: target for key, (target, _) in _builtin_index().items()}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _check_target(target: str, *, file: str | None = None, line: int | None = None,
                  what: str = "field", fields: tuple[str, ...] = FIELDS) -> str:
    """The field or `attributes.<key>` a user named, or UsageError listing what is allowed."""
    t = target.strip()
    if t in fields:
        return t
    if t.lower() in fields:
        return t.lower()
    if t.lower().startswith(ATTRIBUTES_PREFIX):
        key = snake_case(t[len(ATTRIBUTES_PREFIX):])
        if key:
            return ATTRIBUTES_PREFIX + key
    raise UsageError(f"unknown {what} {target!r}{did_you_mean(t.lower(), fields)}", file=file, line=line,
                     hint="allowed: " + ", ".join(fields) + ", or attributes.<name>")


def parse_map_option(option: str) -> tuple[str, str]:
    """`"Column=field"` (from `--map`) → (column, field); the last `=` separates them."""
    column, sep, target = option.rpartition("=")
    if not sep or not column.strip() or not target.strip():
        raise UsageError(f"not a Column=field pair: {option!r}", option="--map",
                         hint='write --map "Column=field", e.g. --map "Mail=email"')
    return column.strip(), _check_target(target)


@dataclass(frozen=True)
class ColumnSpec:
    """One `columns:` entry of a mapping file."""

    field: str
    values: dict[str, str] | None = None  # keys trimmed and case-folded
    format: str | None = None
    after_contact: bool = False  # known only after a salesperson talked to the lead: `model fit` refuses it


@dataclass(frozen=True)
class MappingSpec:
    """A mapping file (docs/mapping.md)."""

    columns: dict[str, ColumnSpec] = dc_field(default_factory=dict)
    defaults: dict[str, str] = dc_field(default_factory=dict)
    match: tuple[str, ...] = ()
    path: str | None = None
    aliases: dict[str, tuple[str, ...]] = dc_field(default_factory=dict)  # field → extra candidate headers


@dataclass(frozen=True)
class ColumnTarget:
    """Where one input column goes: a field (as one of its candidates) or an attribute.

    A field's candidate also has an `attribute` key: where its value is kept in a
    row that takes the field from another candidate (or cannot read this value).
    """

    header: str
    index: int
    field: str | None  # a lead field, or None for an attribute
    attribute: str | None = None  # the attribute key (for a field's candidate: when not chosen)
    values: dict[str, str] | None = None
    format: str | None = None

    @property
    def target(self) -> str:
        return self.field if self.field else ATTRIBUTES_PREFIX + (self.attribute or "")

    def translate(self, value: str | None) -> str | None:
        """The mapping file's value translation (`values: {Y: customer}`), matched
        after trimming and case-insensitively; unlisted values pass unchanged."""
        if self.values is None or value is None:
            return value
        return self.values.get(value.strip().casefold(), value)


@dataclass
class ColumnMap:
    """Per column: field or attribute, value translation, date format; per field: its candidates in order."""

    columns: list[ColumnTarget]
    ignored: list[str] = dc_field(default_factory=list)  # headers with no usable attribute name
    unused_overrides: list[str] = dc_field(default_factory=list)  # --map/mapping columns not in the file
    candidates: dict[str, list[ColumnTarget]] = dc_field(default_factory=dict)  # field → columns, best first
    missing_map: list[str] = dc_field(default_factory=list)  # --map columns not in the file

    def __post_init__(self) -> None:
        if not self.candidates:
            for c in self.columns:
                if c.field:
                    self.candidates.setdefault(c.field, []).append(c)
        self._by_header = {c.header: c for c in self.columns}
        self._by_field = {name: cands[0] for name, cands in self.candidates.items()}

    def column(self, header: str) -> ColumnTarget | None:
        return self._by_header.get(header)

    def target(self, header: str) -> str | None:
        c = self._by_header.get(header)
        return c.target if c else None

    def for_field(self, field: str) -> ColumnTarget | None:
        """The field's first candidate."""
        return self._by_field.get(field)

    @property
    def fields(self) -> dict[str, ColumnTarget]:
        return dict(self._by_field)

    @property
    def attributes(self) -> list[ColumnTarget]:
        return [c for c in self.columns if c.field is None]

    def plan(self) -> dict:
        """The plan as data: each field's columns in the order rows try them, the attribute
        columns (header → key), and headers dropped for having no usable name."""
        order = {name: i for i, name in enumerate(FIELDS)}
        return {
            "fields": {name: [c.header for c in cands]
                       for name, cands in sorted(self.candidates.items(), key=lambda kv: order[kv[0]])},
            "attributes": {c.header: c.attribute for c in self.attributes},
            "ignored": list(self.ignored),
        }


def _lookup(table: dict, header: str):
    """Exact header first, then the same header compared by canonical key."""
    if header in table:
        return header
    key = canonical_key(header)
    for name in table:
        if canonical_key(name) == key:
            return name
    return None


def build_column_map(headers: list[str], *, overrides: dict[str, str] | None = None,
                     mapping: MappingSpec | None = None) -> ColumnMap:
    """Decide each header's target and each field's candidates: overrides, then the mapping
    file, then aliases, else attributes."""
    overrides = {k: _check_target(v) for k, v in (overrides or {}).items()}
    spec_columns = mapping.columns if mapping else {}
    aliases = _alias_index(mapping.aliases if mapping else None)
    override_rank = {name: i for i, name in enumerate(overrides)}
    spec_rank = {name: i for i, name in enumerate(spec_columns)}
    used_overrides: set[str] = set()
    used_spec: set[str] = set()
    # (index, header, target, spec, rank): rank (0 --map | 1 mapping file | 2 alias, position, column)
    entries: list[tuple[int, str, str | None, ColumnSpec | None, tuple]] = []
    for index, header in enumerate(headers):
        spec: ColumnSpec | None = None
        target: str | None = None
        rank: tuple = (3, 0, index)
        name = _lookup(overrides, header)
        if name is not None:
            used_overrides.add(name)
            target, rank = overrides[name], (0, override_rank[name], index)
        else:
            name = _lookup(spec_columns, header)
            if name is not None:
                used_spec.add(name)
                spec = spec_columns[name]
                target, rank = spec.field, (1, spec_rank[name], index)
            else:
                hit = aliases.get(canonical_key(header))
                if hit is not None:
                    target, rank = hit[0], (2, hit[1], index)
        entries.append((index, header, target, spec, rank))

    def is_field(target: str | None) -> bool:
        return bool(target) and not target.startswith(ATTRIBUTES_PREFIX)

    # a field named explicitly takes only its explicit columns, whatever the column order
    explicit = {t for _, _, t, _, rank in entries if is_field(t) and rank[0] < 2}
    candidates: dict[str, list[tuple]] = {}
    for entry in entries:
        _, _, target, _, rank = entry
        if is_field(target) and (rank[0] < 2 or target not in explicit):
            candidates.setdefault(target, []).append(entry)
    chosen = {entry[0]: target for target, group in candidates.items() for entry in group}

    # attribute keys: attribute columns first (in file order, so their keys do not depend on
    # which fields a file has), then the field candidates' keys for values not taken
    taken_attrs: set[str] = set()
    keys: dict[int, str] = {}
    ignored: list[str] = []

    def unique(key: str) -> str:
        out, k = key, 1
        while out in taken_attrs:
            k += 1
            out = f"{key}_{k}"
        taken_attrs.add(out)
        return out

    for index, header, target, _, _ in entries:
        if index in chosen:
            continue
        key = target[len(ATTRIBUTES_PREFIX):] if target and target.startswith(ATTRIBUTES_PREFIX) \
            else snake_case(header)
        if key:
            keys[index] = unique(key)
        else:
            ignored.append(header)
    for index, header, _target, _, _ in entries:
        if index in chosen:
            keys[index] = unique(snake_case(header) or chosen[index])

    columns: list[ColumnTarget] = []
    by_index: dict[int, ColumnTarget] = {}
    for index, header, _target, spec, _ in entries:
        if index not in keys:
            continue
        c = ColumnTarget(header, index, chosen.get(index), keys[index], spec.values if spec else None,
                         spec.format if spec else None)
        columns.append(c)
        by_index[index] = c
    ordered = {target: [by_index[e[0]] for e in sorted(group, key=lambda e: e[4])]
               for target, group in candidates.items()}
    missing = [c for c in overrides if c not in used_overrides]
    unused = missing + [c for c in spec_columns if c not in used_spec and c not in overrides]
    return ColumnMap(columns, ignored, unused, ordered, missing)


def _show_list(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" … ({len(names) - limit} more)" if len(names) > limit else "")


def check_plan(cmap: ColumnMap, headers: list[str], *, file: str) -> None:
    """Refuse a file before any row is read when its plan cannot work: a `--map` column it
    does not have (UsageError), or no column for any identity field (InputError)."""
    if cmap.missing_map:
        column = cmap.missing_map[0]
        folded = {h.casefold(): h for h in headers}
        close = [folded[h] for h in close_matches(column.casefold(), folded, n=3, cutoff=0.5)]
        if close:
            seen = "close matches: " + ", ".join(repr(h) for h in close)
        else:
            seen = "its columns: " + _show_list(headers)
        raise UsageError(f"no column {column!r} ({seen})", file=file, option="--map",
                         hint='write the --map column as the file spells its header, e.g. --map "E-mail=email"')
    if headers and not any(name in cmap.candidates for name in IDENTITY_FIELDS):
        raise InputError(f"no column gives an e-mail, phone, external id or LinkedIn URL "
                         f"(columns: {_show_list(headers)})", file=file,
                         hint='name one with --map "Column=email" (or phone, external_id, linkedin)')


# --------------------------------------------------------------------------- mapping file

_TOP_KEYS = ("version", "columns", "defaults", "match", "aliases")
_COLUMN_KEYS = ("field", "values", "format", "after_contact")


def load_mapping(path: str, *, fields: tuple[str, ...] = FIELDS) -> MappingSpec:
    """Read and validate a mapping file (YAML, loaded safely; every scalar read as text).

    `fields` are the targets a column may name (an activity import passes its own).

    Mistakes raise UsageError with the file and line: unknown keys, unknown fields,
    wrong shapes. An unreadable file raises InputError.
    """
    import yaml

    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except FileNotFoundError:
        raise InputError("no such mapping file", file=path) from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read mapping file: {e}", file=path) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise UsageError(f"invalid YAML: {getattr(e, 'problem', None) or e}", file=path,
                         line=mark.line + 1 if mark else None) from None
    if root is None:
        return MappingSpec(path=path)

    def fail(node, message: str):
        raise UsageError(message, file=path, line=node.start_mark.line + 1 if node is not None else None)

    def mapping(node, what: str) -> list:
        if not isinstance(node, yaml.MappingNode):
            fail(node, f"{what} must be a mapping of key: value")
        return node.value

    def scalar(node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            fail(node, f"{what} must be a single value")
        return node.value.strip()

    def target(node, what: str) -> str:
        return _check_target(scalar(node, what), file=path, line=node.start_mark.line + 1, what=what,
                             fields=fields)

    columns: dict[str, ColumnSpec] = {}
    defaults: dict[str, str] = {}
    match: list[str] = []
    aliases: dict[str, tuple[str, ...]] = {}
    for key_node, value_node in mapping(root, "a mapping file"):
        key = scalar(key_node, "a top-level key")
        if key not in _TOP_KEYS:
            fail(key_node, f"unknown key {key!r}{did_you_mean(key, _TOP_KEYS)} (allowed: {', '.join(_TOP_KEYS)})")
        if key == "version":  # like every rule file, a mapping may say which format it follows
            if scalar(value_node, "version") != "1":
                fail(value_node, "unsupported version (this leadctl reads version: 1)")
            continue
        if key == "columns":
            if isinstance(value_node, yaml.ScalarNode) and not value_node.value:
                continue
            for col_node, spec_node in mapping(value_node, "columns"):
                column = scalar(col_node, "a column name")
                if isinstance(spec_node, yaml.ScalarNode):
                    if not spec_node.value.strip():
                        fail(spec_node, f"column {column!r}: no field given")
                    columns[column] = ColumnSpec(target(spec_node, "field"))
                    continue
                if not isinstance(spec_node, yaml.MappingNode):
                    fail(spec_node, f"column {column!r} must be a field name or a mapping with "
                                    f"{', '.join(_COLUMN_KEYS)}")
                entry: dict[str, object] = {}
                for k_node, v_node in mapping(spec_node, f"column {column!r}"):
                    k = scalar(k_node, "a key")
                    if k not in _COLUMN_KEYS:
                        fail(k_node, f"column {column!r}: unknown key {k!r}{did_you_mean(k, _COLUMN_KEYS)}"
                                     f" (allowed: {', '.join(_COLUMN_KEYS)})")
                    if k == "field":
                        entry["field"] = target(v_node, "field")
                    elif k == "format":
                        entry["format"] = scalar(v_node, "format") or None
                    elif k == "after_contact":
                        flag = scalar(v_node, "after_contact").strip().casefold()
                        if flag not in ("true", "false", "yes", "no"):
                            fail(v_node, f"column {column!r}: after_contact is true or false")
                        entry["after_contact"] = flag in ("true", "yes")
                    else:
                        entry["values"] = {scalar(a, "a value").casefold(): scalar(b, "a value")
                                           for a, b in mapping(v_node, "values")}
                if "field" not in entry:
                    fail(spec_node, f"column {column!r}: no field given")
                columns[column] = ColumnSpec(**entry)  # type: ignore[arg-type]
        elif key == "aliases":  # more candidate headers per field, tried after the built-in ones
            if isinstance(value_node, yaml.ScalarNode) and not value_node.value:
                continue
            for f_node, v_node in mapping(value_node, "aliases"):
                name = target(f_node, "field in aliases")
                if name.startswith(ATTRIBUTES_PREFIX):
                    fail(f_node, f"aliases name lead fields, not {name!r} (map a column to an attribute "
                                 f"under columns:)")
                nodes = v_node.value if isinstance(v_node, yaml.SequenceNode) else [v_node]
                headers = tuple(h for h in (scalar(n, "a header") for n in nodes) if h)
                if not headers:
                    fail(v_node, f"aliases of {name}: no header given")
                aliases[name] = aliases.get(name, ()) + headers
        elif key == "defaults":
            for f_node, v_node in mapping(value_node, "defaults"):
                defaults[target(f_node, "field in defaults")] = scalar(v_node, "a default value")
        else:
            nodes = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for node in nodes:
                for part in scalar(node, "a match key").split(","):
                    keys = [p.strip() for p in part.split("+")]
                    for k in keys:
                        if k not in FIELDS or k == "full_name":
                            fail(node, f"unknown match key {k!r}{did_you_mean(k, FIELDS)}"
                                       f" (e.g. {', '.join(MATCH_KEYS)}; join with + for a composite key)")
                    match.append("+".join(keys))
    return MappingSpec(columns, defaults, tuple(match), path, aliases)
