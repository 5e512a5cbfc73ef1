"""The catalogue of lead fields: one entry per column of `leads` that anyone names.

The store's column lists, the condition language, the importer, `--sort`, exports,
`leads show`/`explain`, `leads merge` and `leads forget` are all generated from
CATALOGUE, so a new field is added here once (and as a column in store/models.py):

    [f.name for f in CATALOGUE if f.exported]     # the export's columns, in order
    field("employees").type                       # 'int'

The order of CATALOGUE is the export order (and the order of every list below).
Plain data on purpose: the CLI reads it at start-up.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

FieldType = Literal["text", "int", "float", "datetime", "bool", "json"]


@dataclass(frozen=True)
class LeadField:
    """One lead column and what each part of leadctl may do with it."""

    name: str
    type: FieldType = "text"
    imported: bool = False     # a file's column can fill it (`import --map "Column=name"`)
    identity: bool = False     # alone identifies a person: imports match on it, a row needs one
    matchable: bool = False    # may be part of an import's `--match` key
    sortable: bool = False     # `leads list --sort`
    exported: bool = False     # a column of `export` (and of the public field list, docs/rules.md)
    condition: bool = False    # a `when:` can read it
    personal: bool = False     # personal data: erased by `leads forget`
    shown: bool = True         # in the lead's profile (`leads show`, `leads explain`)
    merge: Literal["fill", "earliest", "any", None] = None  # `leads merge`: how OTHER's value reaches KEEP


def _field(name: str, type: FieldType = "text", *, record: bool = False, **kw) -> LeadField:
    """A public lead field (exported, readable by conditions) unless `record` (the store's own columns)."""
    if not record:
        kw = {"exported": True, "condition": True, **kw}
    return LeadField(name, type, **kw)


# In export order. `record=True` marks bookkeeping columns no file or rule names.
CATALOGUE: tuple[LeadField, ...] = (
    _field("id", "int", record=True, sortable=True),
    _field("email", imported=True, identity=True, matchable=True, sortable=True, personal=True, merge="fill"),
    _field("phone", imported=True, identity=True, matchable=True, personal=True, merge="fill"),
    _field("first_name", imported=True, matchable=True, sortable=True, personal=True, merge="fill"),
    _field("last_name", imported=True, matchable=True, sortable=True, personal=True, merge="fill"),
    _field("company", imported=True, matchable=True, sortable=True, merge="fill"),
    _field("title", imported=True, sortable=True, personal=True, merge="fill"),
    _field("industry", imported=True, sortable=True, merge="fill"),
    _field("employees", "int", imported=True, sortable=True, merge="fill"),
    _field("annual_revenue", "float", imported=True, sortable=True, merge="fill"),
    _field("country", imported=True, sortable=True, merge="fill"),
    _field("city", imported=True, sortable=True, personal=True, merge="fill"),
    _field("source", imported=True, sortable=True, merge="fill"),
    _field("campaign", imported=True, sortable=True, merge="fill"),
    _field("stage", imported=True, sortable=True),
    _field("lost_reason", imported=True, sortable=True),  # a name of stages.yaml's lost_reasons, for lost leads
    _field("temperature", sortable=True),
    _field("score", "int", sortable=True),
    _field("fit_score", "int", sortable=True),
    _field("engagement_score", "int", sortable=True),
    _field("grade", sortable=True),
    _field("predicted", "float", sortable=True),  # 0–1: the chance of winning by rules/model.yaml (process)
    _field("owner", imported=True, sortable=True, merge="fill"),
    _field("team", sortable=True, merge="fill"),
    _field("created_at", "datetime", imported=True, sortable=True, merge="earliest"),
    _field("updated_at", "datetime", record=True, sortable=True),
    _field("last_activity_at", "datetime", imported=True, sortable=True, merge="fill"),
    _field("last_contacted_at", "datetime", imported=True, sortable=True, merge="fill"),
    _field("stage_changed_at", "datetime", record=True, sortable=True),
    _field("assigned_at", "datetime", record=True, sortable=True),
    _field("do_not_contact", "bool", imported=True, merge="any"),
    # Per channel: granted | unknown | opted_out | bounced (engine/consent.py); reasons and dates in `consent`.
    _field("consent_email", imported=True, sortable=True),
    _field("consent_phone", imported=True, sortable=True),
    _field("consent_sms", imported=True, sortable=True),
    _field("external_id", imported=True, identity=True, matchable=True, personal=True, merge="fill"),
    _field("linkedin", imported=True, identity=True, matchable=True, personal=True, merge="fill"),
    _field("erased_at", "datetime", record=True),
    # Derived from the e-mail on every write: conditions read it, forget erases it.
    _field("email_domain", record=True, condition=True, personal=True, shown=False, merge="fill"),
    # Data-quality flags (leadctl/quality/flags.py), words separated by spaces: conditions read them
    # with `contains`, `leads list --flag` filters, `leads show` shows them; recomputed, never imported.
    _field("flags", record=True, condition=True, personal=True),
    _field("enriched", "json", record=True, personal=True, shown=False),  # enrichment's values and origins
    _field("consent", "json", record=True, shown=False),  # each channel's consent reason and date
    _field("attributes", "json", record=True, personal=True, shown=False),  # custom fields, a document
    _field("explanation", "json", record=True, personal=True, shown=False),  # the last scoring, naming values
    _field("stages_entered", record=True, shown=False),         # every stage the history shows (store.history)
    _field("assigned_manually", "bool", record=True, shown=False),  # routing leaves such a lead alone
    _field("batch_id", "int", record=True, shown=False),        # the import that created it
    _field("processed", "int", record=True, shown=False),       # the process run that last evaluated it
)
BY_NAME = {f.name: f for f in CATALOGUE}


def _names(**flags: bool) -> tuple[str, ...]:
    return tuple(f.name for f in CATALOGUE if all(getattr(f, k) == v for k, v in flags.items()))


EXPORTED = _names(exported=True)          # store.models.LEAD_FIELDS: the public fields, in export order
IMPORTED = _names(imported=True)          # what a file's column may fill
IDENTITY = _names(identity=True)          # a row needs one of these to be a lead
MATCHABLE = _names(matchable=True)        # parts of an import's `--match` key
SORTABLE = _names(sortable=True)          # `leads list --sort`
CONDITION = _names(condition=True)        # lead columns a `when:` reads
PERSONAL = _names(personal=True)          # erased by `leads forget`
PROFILE = _names(shown=True)              # a lead's profile in `leads show` / `leads explain`
MERGEABLE = tuple(f.name for f in CATALOGUE if f.merge == "fill")  # `leads merge` fills gaps with these

# Derived numbers conditions read: whole days since the column's time (None when it is empty).
DAYS_SINCE = {"days_since_created": "created_at", "days_since_activity": "last_activity_at",
              "days_since_contacted": "last_contacted_at"}


def condition_columns(fields: Iterable[str]) -> tuple[set[str], bool, bool]:
    """The lead columns a condition on `fields` reads, and whether it reads `attributes.*` and `activity.*`."""
    cols, attrs, acts = set(), False, False
    for f in fields:
        if f in DAYS_SINCE:
            cols.add(DAYS_SINCE[f])
        elif f == "email_domain":
            cols.update(("email", "email_domain"))
        elif f.startswith("attributes."):
            attrs = True
        elif f.startswith("activity."):
            acts = True
        elif f in BY_NAME:
            cols.add(f)
    return cols, attrs, acts


def field(name: str) -> LeadField:
    """The catalogue entry of `name` (KeyError when it is not a lead column)."""
    return BY_NAME[name]


def names_of_type(*types: FieldType, among: tuple[str, ...] = CONDITION) -> frozenset[str]:
    """The fields of `among` whose type is one of `types`."""
    return frozenset(n for n in among if BY_NAME[n].type in types)
