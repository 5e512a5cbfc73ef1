"""Header mapping: which input column feeds which lead field, and what goes to attributes.

    cmap = build_column_map(["E-mail", "First Name", "Budget"], overrides={"Budget": "annual_revenue"})
    cmap.target("E-mail")   # 'email'
    cmap.target("Budget")   # 'annual_revenue'

Precedence for each column: `--map "Column=field"` overrides, then the mapping file's
`columns:`, then the built-in aliases (Salesforce, HubSpot, Zoho, Pipedrive, form and
ad tools, Olist and Maven exports). A column that maps to no field is kept as
`attributes.<snake_case header>`. When two columns map to the same field the first
wins and the others are kept as attributes; a field named explicitly (override or
mapping file) is taken before any alias can claim it, whatever the column order.
"""
from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field as dc_field

from leadctl.errors import InputError, UsageError

__all__ = [
    "FIELDS", "ALIASES", "MATCH_KEYS", "canonical_key", "snake_case", "ColumnSpec", "MappingSpec",
    "ColumnTarget", "ColumnMap", "build_column_map", "load_mapping", "parse_map_option",
]

FIELDS: tuple[str, ...] = tuple("""
email phone first_name last_name full_name company title industry employees annual_revenue
country city source campaign stage owner created_at last_activity_at last_contacted_at
do_not_contact external_id linkedin stage_at""".split())

ATTRIBUTES_PREFIX = "attributes."


def canonical_key(header: str) -> str:
    """Lower case with every non-alphanumeric removed: `E-mail` → `email`, `Email Address` → `emailaddress`."""
    return "".join(c for c in header.casefold() if c.isalnum())


def _aliases(table: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for names, target in table.items():
        for name in names.split("|"):
            key = canonical_key(name)
            assert key not in out or out[key] == target, name  # a typo in the table, caught at import
            out[key] = target
    return out


# Header spellings (as they appear in exports) → field. Keys are canonicalised, so
# `Phone Number`, `phone_number` and `PhoneNumber` are one entry.
ALIASES: dict[str, str] = _aliases({
    "email|E-mail|Email Address|E-mail Address|Mail|Email ID|Work Email|Business Email|"
    "Primary Email|Contact Email|Email 1|Email1|Courriel|Correo": "email",
    "phone|Phone Number|Telephone|Telephone Number|Tel|Phone No|Phone No.|Mobile|MobilePhone|"
    "Mobile Phone|Mobile Number|Mobile Phone Number|Cell|Cell Phone|Cellphone|Work Phone|"
    "Business Phone|Contact Number|Phone 1|Telefon|Telefone|Téléphone": "phone",
    "first_name|FirstName|First|Given Name|Forename|Fname|Vorname|Prénom": "first_name",
    "last_name|LastName|Last|Surname|Family Name|Lname|Nachname|Nom": "last_name",
    "full_name|Name|Full Name|Contact Name|Lead Name|Your Name": "full_name",
    "company|Company Name|Organisation|Organization|Organisation Name|Organization Name|Org|"
    "Account|Account Name|Business Name|Employer|Firma|Empresa": "company",
    "title|Job Title|JobTitle|Position|Designation|Role|Job Role|Job Position": "title",
    "industry|Sector|Vertical|Industry Type": "industry",
    "employees|NumberOfEmployees|Number of Employees|No. of Employees|No of Employees|"
    "Employee Count|Company Size|Headcount|Num Employees|Employees Count": "employees",
    "annual_revenue|AnnualRevenue|Annual Revenue|Revenue|Company Revenue": "annual_revenue",
    "country|Country/Region|Country Region|Nation|Country Code|Country Name|Land|País|Pays": "country",
    "city|Town|Ville|Stadt|Cidade": "city",
    "source|Lead Source|LeadSource|Original Source|Original Source Type|utm_source|Origin|"
    "Channel|Source Channel|Lead Origin": "source",
    "campaign|utm_campaign|Campaign Name|Ad Campaign|Campaign ID|campaign_name": "campaign",
    "stage|Status|Lead Status|Lifecycle Stage|LifecycleStage|Deal Stage|deal_stage|Lead Stage": "stage",
    "owner|Owner ID|OwnerId|Lead Owner|Contact Owner|Owner Name|Sales Agent|sales_agent|"
    "Assigned To|Sales Rep|Account Owner|HubSpot Owner|Lead Owner Name": "owner",
    "created_at|Created Date|CreatedDate|Created Time|created_time|Create Date|Created|"
    "Created On|Date Created|Date Added|Signup Date|Sign Up Date|Registration Date|"
    "Submitted At|Submission Date|First Contact Date|first_contact_date|Engage Date|"
    "engage_date|Creation Date": "created_at",
    "last_activity_at|Last Activity Date|LastActivityDate|Last Activity Time|"
    "Last Engagement Date|Last Activity At": "last_activity_at",
    "last_contacted_at|Last Contacted|Last Contacted Date|Last Contact Date|"
    "LastContactedDate|Last Contacted At": "last_contacted_at",
    "do_not_contact|Do Not Contact|DoNotCall|Do Not Call|HasOptedOutOfEmail|Email Opt Out|"
    "Opted Out|Opted Out Of Email|Unsubscribed|DNC": "do_not_contact",
    "external_id|Id|Record ID|Lead ID|Contact ID|External ID|Opportunity ID|opportunity_id|mql_id|"
    "Record Id": "external_id",
    "stage_at|Stage Date|Stage Changed At": "stage_at",
    "linkedin|LinkedIn|LinkedIn URL|Linkedin Url|LinkedIn Profile|Person Linkedin Url|LinkedIn Profile URL|"
    "URL": "linkedin",
})

MATCH_KEYS = ("email", "phone", "external_id")


_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def snake_case(header: str) -> str:
    """Attribute key of a header: `Total Time Spent on Website` → `total_time_spent_on_website`,
    `Lead-Score (%)` → `lead_score`; Unicode letters kept (lower-cased); may be ""."""
    t = unicodedata.normalize("NFC", header).lower()
    return _NON_WORD.sub("_", t).strip("_")


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" — did you mean {close[0]!r}?" if close else ""


def _check_target(target: str, *, file: str | None = None, line: int | None = None,
                  what: str = "field") -> str:
    """The field or `attributes.<key>` a user named, or UsageError listing what is allowed."""
    t = target.strip()
    if t in FIELDS:
        return t
    if t.lower() in FIELDS:
        return t.lower()
    if t.lower().startswith(ATTRIBUTES_PREFIX):
        key = snake_case(t[len(ATTRIBUTES_PREFIX):])
        if key:
            return ATTRIBUTES_PREFIX + key
    raise UsageError(f"unknown {what} {target!r}{_did_you_mean(t.lower(), FIELDS)}", file=file, line=line,
                     hint="allowed: " + ", ".join(FIELDS) + ", or attributes.<name>")


def parse_map_option(option: str) -> tuple[str, str]:
    """`"Column=field"` (from `--map`) → (column, field); the last `=` separates them."""
    column, sep, target = option.rpartition("=")
    if not sep or not column.strip() or not target.strip():
        raise UsageError(f"bad --map value {option!r}", hint='write --map "Column=field", e.g. --map "Mail=email"')
    return column.strip(), _check_target(target)


@dataclass(frozen=True)
class ColumnSpec:
    """One `columns:` entry of a mapping file."""

    field: str
    values: dict[str, str] | None = None  # keys trimmed and case-folded
    format: str | None = None


@dataclass(frozen=True)
class MappingSpec:
    """A mapping file (RULES.md "Import mapping file")."""

    columns: dict[str, ColumnSpec] = dc_field(default_factory=dict)
    defaults: dict[str, str] = dc_field(default_factory=dict)
    match: tuple[str, ...] = ()
    path: str | None = None


@dataclass(frozen=True)
class ColumnTarget:
    """Where one input column goes."""

    header: str
    index: int
    field: str | None  # a lead field, or None for an attribute
    attribute: str | None = None  # the attribute key when field is None
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
    """Per column: field or attribute, value translation, date format."""

    columns: list[ColumnTarget]
    ignored: list[str] = dc_field(default_factory=list)  # headers with no usable attribute name
    unused_overrides: list[str] = dc_field(default_factory=list)  # --map/mapping columns not in the file

    def __post_init__(self) -> None:
        self._by_header = {c.header: c for c in self.columns}
        self._by_field = {c.field: c for c in self.columns if c.field}

    def column(self, header: str) -> ColumnTarget | None:
        return self._by_header.get(header)

    def target(self, header: str) -> str | None:
        c = self._by_header.get(header)
        return c.target if c else None

    def for_field(self, field: str) -> ColumnTarget | None:
        return self._by_field.get(field)

    @property
    def fields(self) -> dict[str, ColumnTarget]:
        return dict(self._by_field)

    @property
    def attributes(self) -> list[ColumnTarget]:
        return [c for c in self.columns if c.field is None]


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
    """Decide each header's target: overrides, then the mapping file, then aliases, else attributes."""
    overrides = {k: _check_target(v) for k, v in (overrides or {}).items()}
    spec_columns = mapping.columns if mapping else {}
    used_overrides: set[str] = set()
    used_spec: set[str] = set()
    taken_fields: set[str] = set()
    taken_attrs: set[str] = set()
    columns: list[ColumnTarget] = []
    ignored: list[str] = []
    pending: list[tuple[int, str, str | None, ColumnSpec | None]] = []

    for index, header in enumerate(headers):
        spec: ColumnSpec | None = None
        target: str | None = None
        name = _lookup(overrides, header)
        if name is not None:
            used_overrides.add(name)
            target = overrides[name]
        else:
            name = _lookup(spec_columns, header)
            if name is not None:
                used_spec.add(name)
                spec = spec_columns[name]
                target = spec.field
            else:
                target = ALIASES.get(canonical_key(header))
        pending.append((index, header, target, spec))

    # explicit choices claim their fields before aliases do, whatever the column order
    explicit = {t for _, h, t, s in pending if t and (s is not None or _lookup(overrides, h) is not None)}
    for index, header, target, spec in pending:
        is_explicit = spec is not None or _lookup(overrides, header) is not None
        values = spec.values if spec else None
        fmt = spec.format if spec else None
        if target and not target.startswith(ATTRIBUTES_PREFIX):
            if target not in taken_fields and (is_explicit or target not in explicit):
                taken_fields.add(target)
                columns.append(ColumnTarget(header, index, target, None, values, fmt))
                continue
            target = None  # field already taken: keep the column as an attribute
        key = target[len(ATTRIBUTES_PREFIX):] if target else snake_case(header)
        if not key:
            ignored.append(header)
            continue
        unique, k = key, 1
        while unique in taken_attrs:
            k += 1
            unique = f"{key}_{k}"
        taken_attrs.add(unique)
        columns.append(ColumnTarget(header, index, None, unique, values, fmt))

    unused = [c for c in overrides if c not in used_overrides] + \
             [c for c in spec_columns if c not in used_spec and c not in overrides]
    return ColumnMap(columns, ignored, unused)


# --------------------------------------------------------------------------- mapping file

_TOP_KEYS = ("version", "columns", "defaults", "match")
_COLUMN_KEYS = ("field", "values", "format")


def load_mapping(path: str) -> MappingSpec:
    """Read and validate a mapping file (YAML, loaded safely; every scalar read as text).

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
        return _check_target(scalar(node, what), file=path, line=node.start_mark.line + 1, what=what)

    columns: dict[str, ColumnSpec] = {}
    defaults: dict[str, str] = {}
    match: list[str] = []
    for key_node, value_node in mapping(root, "a mapping file"):
        key = scalar(key_node, "a top-level key")
        if key not in _TOP_KEYS:
            fail(key_node, f"unknown key {key!r}{_did_you_mean(key, _TOP_KEYS)} (allowed: {', '.join(_TOP_KEYS)})")
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
                        fail(k_node, f"column {column!r}: unknown key {k!r}{_did_you_mean(k, _COLUMN_KEYS)}"
                                     f" (allowed: {', '.join(_COLUMN_KEYS)})")
                    if k == "field":
                        entry["field"] = target(v_node, "field")
                    elif k == "format":
                        entry["format"] = scalar(v_node, "format") or None
                    else:
                        entry["values"] = {scalar(a, "a value").casefold(): scalar(b, "a value")
                                           for a, b in mapping(v_node, "values")}
                if "field" not in entry:
                    fail(spec_node, f"column {column!r}: no field given")
                columns[column] = ColumnSpec(**entry)  # type: ignore[arg-type]
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
                            fail(node, f"unknown match key {k!r}{_did_you_mean(k, FIELDS)}"
                                       f" (e.g. {', '.join(MATCH_KEYS)}; join with + for a composite key)")
                    match.append("+".join(keys))
    return MappingSpec(columns, defaults, tuple(match), path)
