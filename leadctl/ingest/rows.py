"""One input row → lead values: the per-file column plan, normalisers, source names.

`Normaliser.row` turns one raw record into the values, attributes, stage and the
warnings of one lead; the importer folds and writes them.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..quality.flags import RowFlags, row_flags
from . import normalize as N
from .headers import ColumnMap
from .reader import EXTRA_KEY

if TYPE_CHECKING:
    from ..rules.loader import RuleSet

_TEXT = {"first_name", "last_name", "company", "title", "industry", "city", "campaign", "owner", "external_id",
         "lost_reason"}
DATES = {"created_at", "last_activity_at", "last_contacted_at", "stage_at"}
# Fields whose candidate columns must parse in a row to be chosen for it.
_PARSED = {"email", "linkedin", "country", "employees", "annual_revenue", "do_not_contact", "stage", *DATES}
_FIVE_DIGITS = re.compile(r"(?:\D*\d){5}")


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
    system: str = ""                 # where its external id comes from (the snake_case header)
    placeholder: str | None = None   # its identity when its e-mail is a placeholder (ingest.identity)
    hash: int = 0                    # of its values: the same row imported again is unchanged (importer)
    flags: RowFlags | None = None    # its e-mail's and phone's quality flags (quality.flags.row_flags)


# Fields whose values are (nearly) unique per row: remembering them would only cost memory.
_UNIQUE = {"email", "linkedin", "external_id"}
_MEMO_SIZE = 50_000  # distinct values remembered per column; past that, the rest are parsed each time


def _memo(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """`parse`, remembering its answer (or its BadValue reason) per distinct value."""
    seen: dict[str, tuple[bool, Any]] = {}
    get = seen.get

    def parse_once(value: str) -> Any:
        hit = get(value)
        if hit is None:
            try:
                hit = (True, parse(value))
            except N.BadValue as exc:
                hit = (False, exc.reason)
            if len(seen) < _MEMO_SIZE:
                seen[value] = hit
        if hit[0]:
            return hit[1]
        raise N.BadValue(hit[1])

    return parse_once


def _attribute_text(value: str) -> str | None:
    """An attribute cell as kept: clean text, or None for a placeholder."""
    text = N.clean_text(value)
    return text if text and not N.is_missing(text) else None


# A cell holding several values of one field, as Google Contacts writes them: the first is the
# lead's, the others are kept as attributes.other_<field>s.
_MULTI_SEP = " ::: "
_MULTI_VALUE_FIELDS = ("email", "phone", "linkedin")


_CONSENT = {"consent_email", "consent_phone", "consent_sms"}


def _consent(value: str) -> str | None:
    """A consent column's cell → granted | unknown | opted_out | bounced (yes = opted out)."""
    from ..engine.consent import parse_status

    try:
        return parse_status(value)
    except ValueError as exc:
        raise N.BadValue(str(exc)) from None


def _bounce_columns(field_plan: list, choice_plan: list) -> None:
    """An `Email Bounced: yes` column says bounced, not opted out: its yes is read as `bounced`."""
    from ..engine.consent import parse_status

    def bounced(value):
        try:
            return "bounced" if parse_status(value, bounced_column=True) == "bounced" else value
        except ValueError:
            return value

    for plan in [field_plan, *(cands for name, cands in choice_plan if name == "consent_email")]:
        for i, (header, name, translate) in enumerate(plan):
            if (plan is not field_plan or name == "consent_email") and "bounce" in header.casefold() \
                    and translate is None:
                plan[i] = (header, name, bounced)


class Normaliser:
    """Turns raw records into lead values for one file, given its column map.

    The per-column work is planned once (which parser, which translation), because
    this runs for every cell of files with millions of rows.
    """

    def __init__(self, colmap: ColumnMap, opts, rules: RuleSet, sources: "Sources",
                 plan: "ValuePlan | dict[str, bool | None] | None" = None, *, memo: bool = True):
        self.opts = opts
        self.rules = rules
        if not isinstance(plan, ValuePlan):
            plan = ValuePlan(dayfirst=dict(plan or {}))
        self.plan = plan
        dayfirst = plan.dayfirst
        # phones read per evidence (see `_read_phone`); the importer adds them to its result
        self.phone_evidence: Counter[str] = Counter()
        self.site_keys = [c.attribute for c in colmap.attributes if c.attribute in _WEBSITE_KEYS]
        self.attr_plan = [(c.header, c.attribute) for c in colmap.attributes if c.attribute]
        # A field fed by one column is read straight; a field with several candidate columns
        # is chosen per row (`_choose`), so only those few fields cost a loop per row.
        self.field_plan = [(cands[0].header, name, cands[0].translate if cands[0].values else None)
                           for name, cands in colmap.candidates.items() if len(cands) == 1]
        self.choice_plan = [(name, [(c.header, c.attribute, c.translate if c.values else None) for c in cands])
                            for name, cands in colmap.candidates.items() if len(cands) > 1]
        _bounce_columns(self.field_plan, self.choice_plan)
        self.header_of = {name: cands[0].header for name, cands in colmap.candidates.items()}
        # where an unreadable value is kept: the attribute key of the column it came from in this row
        self.key_of = {name: cands[0].attribute for name, cands in colmap.candidates.items()}
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

        loose_stages = _loose_stage_lookup(rules.stages)

        def stage(v):
            if N.is_missing(v):
                return None
            found = rules.stages.resolve(v)
            if found is None:  # `Pre Qualified`, `Closed-Won`: the alias with other punctuation
                found = loose_stages.get(_loose(v))
            if found is None:
                raise N.BadValue(f"unknown stage '{v}'")
            return found

        def revenue(v):
            n = N.parse_number(v)
            return None if n is None else float(n)

        self.parsers: dict[str, Callable[[str], Any]] = {
            "email": N.normalize_email, "linkedin": N.normalize_linkedin, "country": N.normalize_country,
            "employees": N.parse_int,
            "annual_revenue": revenue, "do_not_contact": N.parse_bool, "stage": stage,
            "source": lambda v: sources.canonical(N.clean_text(v)),
            **{name: date_parser(name) for name in DATES},
            **{name: text for name in _TEXT},
            **{name: _consent for name in _CONSENT},
        }
        # Most columns hold few distinct values (countries, sources, dates, sizes, companies, names):
        # each is parsed once per file. E-mails, phones and ids are nearly unique per row.
        # Without `memo` every cell is parsed (the reference the memoised path is tested against).
        self._attribute_text: Callable[[str], Any] = _attribute_text
        self._name_seen: dict[tuple[str, str], tuple] | None = None
        if memo:
            for name in self.parsers.keys() - _UNIQUE:
                self.parsers[name] = _memo(self.parsers[name])
            self._attribute_text = _memo(_attribute_text)
            self._name_seen = {}

    def row(self, number: int, raw: dict[str, Any]) -> tuple[Row | None, str | None, list[tuple[str, str, str]]]:
        """Return (row, reject reason, warnings[(field, value, reason)])."""
        for cell in raw.values():  # Facebook's "<test lead: dummy data for …>" rows are no one
            if type(cell) is str and "<" in cell and N.is_vendor_test(cell):
                return None, "vendor test lead", []
        attributes: dict[str, Any] = {}
        attribute_text = self._attribute_text
        for header, key in self.attr_plan:
            value = raw.get(header)
            if value:
                value = attribute_text(value)
                if value:
                    attributes[key] = value
        texts: dict[str, str] = {}
        for header, name, translate in self.field_plan:
            value = raw.get(header)
            if translate is not None:
                value = translate(value)
            if value and not value.isspace():
                texts[name] = value
        for name, candidates in self.choice_plan:
            self._choose(name, candidates, raw, texts, attributes)
        for name, value in self.defaults.items():
            if name not in texts or N.is_missing(texts[name]):
                texts[name] = value
        values: dict[str, Any] = {}
        warnings: list[tuple[str, str, str]] = []
        extra = raw.get(EXTRA_KEY)
        if extra:  # cells beyond the header (a ragged row): kept and reported, never dropped
            attributes[EXTRA_KEY] = extra
            warnings.append((EXTRA_KEY, extra, "more cells than the header names; kept as attributes._extra"))
        for name in _MULTI_VALUE_FIELDS:
            value = texts.get(name)
            if value and _MULTI_SEP in value:  # Google Contacts: "a@x.org ::: b@y.org" in one cell
                first, *others = [v.strip() for v in value.split(_MULTI_SEP) if v.strip()]
                texts[name] = first
                if others:
                    attributes[f"other_{name}s"] = ", ".join(others)
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
                parsed, evidence = self._read_phone(phone, values, attributes)
            except N.BadValue as exc:
                self.phone_evidence["kept_raw"] += 1
                self._bad("phone", phone, exc, attributes, warnings)
            else:
                if parsed is not None:
                    values["phone"] = parsed
                    self.phone_evidence[evidence] += 1
        if "first_name" in values or "last_name" in values:
            self._name_columns(values, attributes, warnings)
        if full_name is not None:
            self._full_name(full_name, values, attributes, warnings)
        if not (values.get("email") or values.get("phone") or values.get("external_id") or values.get("linkedin")):
            # the phone's own reason: a readable number is never called invalid
            bad_ids = [r if f == "phone" else f"{f} '{v}' is invalid"
                       for f, v, r in warnings if f in ("email", "phone", "external_id", "linkedin")]
            why = "no valid e-mail, phone, external id or LinkedIn profile"
            if bad_ids:
                why += " (" + "; ".join(bad_ids) + ")"
            return None, why, warnings
        if warnings and self.opts.strict:
            return None, "; ".join(f"{f}: {r}" for f, _, r in warnings), warnings
        stage = values.pop("stage", None)
        stage_at = values.pop("stage_at", None)
        return Row(number, "", values, attributes, stage, stage_at, raw,
                   flags=row_flags(values.get("email"), values.get("phone"))), None, warnings

    def _choose(self, name: str, candidates: list, raw: dict[str, Any], texts: dict[str, str],
                attributes: dict[str, Any]) -> None:
        """Take a field from the first of its candidate columns that is readable in this row;
        the other candidates' values are kept as their attributes."""
        chosen = None
        others = []
        for header, key, translate in candidates:
            value = raw.get(header)
            text = translate(value) if translate is not None else value
            if not text or text.isspace():
                continue
            if chosen is None and self._readable(name, text):
                chosen = (text, key, value)
            else:
                others.append((text, key, value))
        if chosen is None and name != "title":  # readable nowhere: the first real value is the one reported
            chosen = next((o for o in others if not N.is_missing(o[0])), None)
        if chosen is not None:
            texts[name] = chosen[0]
            self.key_of[name] = chosen[1]
        for item in others:
            if item is chosen or (chosen is not None and item[2] == chosen[2]):
                continue
            value = N.clean_text(item[2])
            if value and not N.is_missing(value):
                attributes[item[1]] = value

    def _readable(self, name: str, text: str) -> bool:
        """Whether a candidate's value can be the field's value: present, not a placeholder,
        and, for a field that is parsed, parsed."""
        if N.is_missing(text):
            return False
        if name == "title" and text.strip().replace(".", "").casefold() in N._TITLES:  # Outlook's `Title` is "Mr."
            return False
        if name == "phone":  # read later, with the row's country; a number has digits
            return _FIVE_DIGITS.match(text) is not None
        if name not in _PARSED:
            return True
        try:
            return self.parsers[name](text) is not None
        except N.BadValue:
            return False

    def _bad(self, name: str, value: str, exc: Exception, attributes: dict, warnings: list) -> None:
        """An unreadable value: dropped from the lead, kept raw in attributes, reported."""
        attributes.setdefault(self.key_of.get(name) or name, value)
        warnings.append((name, value, str(exc)))

    # -- phones --------------------------------------------------------------
    def _read_phone(self, text: str, values: dict[str, Any], attributes: dict[str, Any]) -> tuple[str | None, str]:
        """(E.164, the evidence that gave its region): the number's own country code, else the
        first of the row's country, its column's evidence, the e-mail's or website's country
        domain, --default-region and the project's region that reads it (see PHONE_EVIDENCE)."""
        if N.is_missing(text):
            return None, ""
        if N.is_international(text):
            return N.normalize_phone(text, None), "international"
        plan = self.plan
        country = values.get("country")
        if plan.bare_code and (not country or N.calling_code_of_region(country) == plan.bare_code):
            e164 = N.bare_international(text, plan.bare_code)  # "33169914213": the column writes codes without "+"
            if e164:
                return e164, "column"
        first_error: N.BadValue | None = None
        tried: set[str] = set()
        for evidence in PHONE_EVIDENCE[1:-1]:
            region = self._region(evidence, country, values, attributes)
            if not region or region in tried:
                continue
            tried.add(region)
            try:
                return N.normalize_phone(text, region), evidence
            except N.BadValue as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error
        if sum(c.isdigit() for c in text) < 5:  # no region would read it: not a number, not a missing region
            raise N.BadValue(f"phone {text.strip()[:40]!r} is not a phone number")
        raise N.BadValue(N.no_region_reason(text, plan.suggested_region))

    def _region(self, evidence: str, country: str | None, values: dict[str, Any],
                attributes: dict[str, Any]) -> str | None:
        if evidence == "country":
            return country
        if evidence == "column":
            return self.plan.phone_region
        if evidence == "domain":
            email = values.get("email")
            region = N.region_of_domain(N.email_domain(email)) if email else None
            for key in self.site_keys:
                if region:
                    break
                region = N.region_of_domain(attributes.get(key))
            return region
        if evidence == "default_region":
            return self.opts.default_region
        return self.plan.project_region

    # -- names ---------------------------------------------------------------
    def _name_columns(self, values: dict[str, Any], attributes: dict[str, Any], warnings: list) -> None:
        """First- and last-name cells: a salutation or suffix goes to its attribute, and a cell
        that holds no name (an e-mail, a handle, a test placeholder) is kept aside and reported."""
        seen = self._name_seen
        for name in ("first_name", "last_name"):
            value = values.get(name)
            if value is None:
                continue
            parts = seen.get((name, value)) if seen is not None else None
            if parts is None:
                parts = _name_parts(name, value)
                if seen is not None and len(seen) < _MEMO_SIZE:  # names repeat: each read once
                    seen[(name, value)] = parts
            why, salutation, rest, suffix = parts
            if why:
                del values[name]
                self._bad(name, value, N.BadValue(why), attributes, warnings)
                continue
            if salutation:
                attributes.setdefault("salutation", salutation)
            if suffix:
                attributes.setdefault("name_suffix", suffix)
            if name == "first_name" and salutation and rest and " " not in rest and not values.get("last_name"):
                values.pop(name)
                values["last_name"] = rest  # "Mr HAIDER" in a first-name column: a family name
            elif rest:
                values[name] = rest
            else:
                values.pop(name)

    def _full_name(self, full_name: str, values: dict[str, Any], attributes: dict[str, Any], warnings: list) -> None:
        """A full name split with nameparser: given names (with middle names, `Jean Pierre`), family
        name, and `attributes.salutation`, `attributes.middle_name` (initials), `attributes.name_suffix`."""
        why = N.not_a_name(full_name)
        if why:
            self._bad("full_name", full_name, N.BadValue(why), attributes, warnings)
            return
        name = N.parse_name(full_name)
        if name.first and "first_name" not in values:
            values["first_name"] = name.first
        if name.last and "last_name" not in values:
            values["last_name"] = name.last
        for key, part in (("salutation", name.salutation), ("middle_name", name.middle),
                          ("name_suffix", name.suffix)):
            if part:
                attributes.setdefault(key, part)


def _name_parts(name: str, value: str) -> tuple[str | None, str | None, str | None, str | None]:
    """A first- or last-name cell read: (why it is no name, salutation, the name, suffix)."""
    why = N.not_a_name(value)
    if why:
        return why, None, None, None
    salutation, rest = N.strip_salutation(value, alone=name == "first_name")
    suffix = None
    if name == "last_name" and rest:
        rest, suffix = N.strip_suffix(rest)
    return None, salutation, rest, suffix


class Sources:
    """Canonical source names: sources.yaml names and aliases, else first spelling seen."""

    def __init__(self, rules: RuleSet, known: Iterable[str]):
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


# -- values planned from the first rows of a file ------------------------------------------

# How a phone's region was found, strongest first (the import summary counts each):
# its own country code, the row's country, the evidence of its column (the calling code most of
# its international numbers carry, or numbers written with that code but without "+"), the
# e-mail's or website's country domain, --default-region, the project's region (`init --region`);
# "kept_raw": no region read it (kept in attributes, with a warning that names the fix).
PHONE_EVIDENCE = ("international", "country", "column", "domain", "default_region", "project_region", "kept_raw")
_WEBSITE_KEYS = frozenset({"website", "web_site", "website_url", "company_website", "company_domain", "domain",
                           "site_web", "site_internet", "webseite", "sitio_web", "url_website"})
HEAD_ROWS = 2000  # rows read ahead to plan a file's values
# Where a slash date is written month first; elsewhere day first. Canada, China, Japan, Korea,
# Hungary, Lithuania, Iran, South Africa and Mongolia write both orders (or year first): no verdict.
_MONTH_FIRST = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM", "PH", "FM", "MH", "PW"})
_EITHER_ORDER = frozenset({"CA", "CN", "JP", "KR", "KP", "TW", "HU", "LT", "IR", "ZA", "MN"})
_SUGGEST = ("US", "GB", "FR", "DE", "ES", "IT", "NL", "BE", "CH", "AT", "PT", "IE", "BR", "MX", "CA", "AU", "IN")


@dataclass
class ValuePlan:
    """What the first rows of a file decide for all its rows: date order, phone evidence, regions."""

    dayfirst: dict[str, bool | None] = field(default_factory=dict)
    # field → (header, a sample, reason): the one warning of a column of only ambiguous dates
    date_warnings: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    phone_region: str | None = None    # the region of the calling code most of the column's numbers carry
    bare_code: int | None = None       # the column writes numbers with this calling code but without "+"
    project_region: str | None = None  # `leadctl init --region`
    suggested_region: str | None = None  # the region that reads most unread national numbers (for the warning)


def _headers(colmap: ColumnMap, name: str) -> list[str]:
    """Every column that may feed a field (its candidates, best first)."""
    candidates = getattr(colmap, "candidates", None)
    if candidates is not None:
        return [c.header for c in candidates.get(name, [])]
    return [c.header for c in colmap.columns if c.field == name]


def plan_values(head_rows: list[dict[str, Any]], colmap: ColumnMap, opts, rules: RuleSet, *,
                project_region: str | None = None) -> ValuePlan:
    """Plan a file's values from its first rows (`HEAD_ROWS`): day-first or month-first per date
    column, and the evidence its phone column gives for national numbers."""
    plan = ValuePlan(project_region=project_region)
    countries = _row_countries(head_rows, _headers(colmap, "country"))
    formats = {c.field for c in colmap.columns if c.field and c.format}
    for name in sorted(DATES):
        headers = _headers(colmap, name)
        if not headers:
            continue
        if opts.dayfirst is not None or name in formats:
            plan.dayfirst[name] = opts.dayfirst
            continue
        samples = [r.get(h) or "" for r in head_rows for h in headers]
        dayfirst = N.detect_dayfirst(samples)
        if dayfirst is None:
            sample = N.ambiguous_date(samples)
            if sample is not None:
                dayfirst = _dayfirst_of_countries(countries)
                if dayfirst is None:
                    plan.date_warnings[name] = (headers[0], sample, (
                        f"dates in column '{headers[0]}' are ambiguous (such as '{sample}') and the rows' "
                        f"countries do not settle it: read month first (MM/DD); pass --dayfirst if "
                        f"this file writes the day first"))
        plan.dayfirst[name] = dayfirst
    _plan_phones(plan, head_rows, _headers(colmap, "phone"), opts, countries)
    return plan


def _row_countries(head_rows: list[dict[str, Any]], headers: list[str]) -> list[str]:
    out = []
    for r in head_rows:
        for h in headers:
            try:
                code = N.normalize_country(r.get(h))
            except N.BadValue:
                code = None
            if code:
                out.append(code)
                break
    return out


def _dayfirst_of_countries(countries: list[str]) -> bool | None:
    """Day first when most rows that name a country are from day-first countries, month first
    when most are from month-first ones (US), else None."""
    month = sum(1 for c in countries if c in _MONTH_FIRST)
    day = sum(1 for c in countries if c not in _MONTH_FIRST and c not in _EITHER_ORDER)
    if day > month and day * 2 > len(countries):
        return True
    if month > day and month * 2 > len(countries):
        return False
    return None


def _plan_phones(plan: ValuePlan, head_rows: list[dict[str, Any]], headers: list[str], opts,
                 countries: list[str]) -> None:
    """The phone column's evidence: the calling code most of its international numbers carry
    (kept only when its national numbers read as that country's), numbers written with a code
    but without "+", and a region to suggest when nothing else reads its national numbers."""
    if not headers:
        return
    numbers = [v for r in head_rows for h in headers
               if isinstance(v := r.get(h), str) and not N.is_missing(v) and sum(c.isdigit() for c in v) >= 5]
    if not numbers:
        return
    codes: Counter[int] = Counter()
    national = []
    for v in numbers:
        if N.is_international(v):
            code = N.calling_code(v)
            if code:
                codes[code] += 1
        else:
            national.append(v)
    bare: Counter[int] = Counter()
    for v in national:
        e164 = N.bare_international(v)
        if e164:
            code = N.calling_code(e164)
            if code:
                bare[code] += 1
    if bare:
        code, n = bare.most_common(1)[0]
        if n * 2 > len(national):
            plan.bare_code = code
    if plan.bare_code:
        national = [v for v in national if not N.bare_international(v, plan.bare_code)]
    total = codes + bare
    if total:
        code, n = total.most_common(1)[0]
        region = N.region_of_calling_code(code)
        if region and n * 2 > sum(total.values()):
            sample = national[:300]
            # a stray "+44" among US numbers says nothing: the national numbers must read as its own
            if not sample or sum(N.phone_valid_in(v, region) for v in sample) * 2 >= len(sample):
                plan.phone_region = region
    if national and not (plan.phone_region or opts.default_region or plan.project_region):
        # The country most rows name, else the one whose numbers most of the sample clearly are.
        if countries:
            plan.suggested_region = Counter(countries).most_common(1)[0][0]
            return
        sample = national[:100]
        scores = [(sum(N.phone_valid_in(v, r) for v in sample), r) for r in _SUGGEST]
        best = max(scores, key=lambda s: s[0])
        if best[0] * 2 > len(sample):
            plan.suggested_region = best[1]


def _loose(value: str) -> str:
    """A stage spelling without case, accents, punctuation or spaces: `Pre-Qualified` = `pre qualified`,
    `Qualifié` = `qualifie`."""
    text = unicodedata.normalize("NFKD", str(value).casefold())
    return "".join(ch for ch in text if ch.isalnum())


def _loose_stage_lookup(stages) -> dict[str, str]:
    """Stage names and aliases by `_loose` spelling; a spelling two stages share is left out."""
    out: dict[str, str] = {}
    clash: set[str] = set()
    for stage in stages.stages:
        for word in (stage.name, stage.label or "", *stage.aliases):
            key = _loose(word)
            if not key:
                continue
            if out.get(key, stage.name) != stage.name:
                clash.add(key)
            out.setdefault(key, stage.name)
    for key in clash:
        out.pop(key, None)
    return out


_EVIDENCE_WORDS = {
    "international": "with their country code", "country": "by the row's country",
    "column": "by their column's other numbers", "domain": "by the e-mail's or website's country domain",
    "default_region": "by --default-region", "project_region": "by the project's region (init --region)",
    "kept_raw": "kept raw, unread (see the warnings)",
}


def phone_summary(counts: dict[str, int]) -> str | None:
    """One line for the import summary: how many phones were read by which evidence."""
    parts = [f"{counts[k]:,} {_EVIDENCE_WORDS[k]}" for k in PHONE_EVIDENCE if counts.get(k)]
    return "phones: " + ", ".join(parts) if parts else None
