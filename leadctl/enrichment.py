"""Enrichment, offline and explained: fill a lead's empty fields from what it already has and from
the team's own lookup tables (rules/enrichment.yaml), recording where every value came from.

From the lead itself: its company domain (the e-mail's, unless free-mail, else
`attributes.website`), a company name from that domain, the country from the phone's country
code or the domain's country TLD, the time zone from the country (or the phone). From
enrichment.yaml: CSV tables keyed by domain that fill company, industry, employees, revenue,
country, city. An imported (non-empty) value is never overwritten; `leads.enriched` holds each
filled value and its origin, which `leads show` prints: `industry: Software (from
company-data.csv, row 311)`.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select

from .errors import RuleProblem, RulesError
from .store.db import Store
from .store.tables import LEADS

FILE = "enrichment.yaml"
# What a lookup table may fill (lead field → type), all only where the lead has nothing.
FILLABLE = {"company": "text", "industry": "text", "employees": "int", "annual_revenue": "float",
            "country": "country", "city": "text"}
# Top-level domains that name no country (a .com company can be anywhere); .uk is GB.
_TLD_COUNTRY = {"uk": "GB", "el": "GR"}
_COLUMNS = ("id", "email", "email_domain", "phone", "company", "industry", "employees", "annual_revenue",
            "country", "city", "attributes", "enriched")


@dataclass
class Lookup:
    """One table of enrichment.yaml: a CSV keyed by domain, and which column fills which field."""

    file: str
    key: str
    fields: dict[str, str]
    rows: dict[str, tuple[int, dict[str, str]]] = field(default_factory=dict)  # domain → (row, values)


def load_lookups(rules_dir: str) -> list[Lookup]:
    """The lookups of `rules_dir/enrichment.yaml` with their tables read (none without the file);
    RulesError naming the file and line for a mistake."""
    from .rules.yamlload import YamlProblems, load_yaml

    path = os.path.join(rules_dir, FILE)
    if not os.path.exists(path):
        return []
    try:
        doc, lines = load_yaml(path, display=path)
    except YamlProblems as exc:
        raise RulesError(exc.problems) from None

    def problem(where: tuple, message: str) -> RulesError:
        return RulesError([RuleProblem(path, lines.line(where), message)])

    if not isinstance(doc, dict) or not isinstance(doc.get("lookups", []), list):
        raise problem((), "expected `lookups:` a list of tables")
    unknown = set(doc) - {"version", "lookups"}
    if unknown:
        key = sorted(unknown)[0]
        raise problem((key,), f"unknown top-level key '{key}' (allowed: version, lookups)")
    out = []
    for i, item in enumerate(doc.get("lookups") or []):
        if not isinstance(item, dict) or not item.get("file") or not isinstance(item.get("fields"), dict):
            raise problem(("lookups", i), "a lookup needs `file` (a CSV beside the rules) and `fields` "
                                          "(lead field: CSV column)")
        for name in item["fields"]:
            if name not in FILLABLE:
                raise problem(("lookups", i, "fields", name),
                              f"'{name}' cannot be filled by a lookup (one of: {', '.join(FILLABLE)})")
        lk = Lookup(file=str(item["file"]), key=str(item.get("key") or "domain"),
                    fields={str(k): str(v) for k, v in item["fields"].items()})
        _read_table(lk, os.path.join(rules_dir, lk.file), path, lines.line(("lookups", i, "file")))
        out.append(lk)
    return out


def _read_table(lk: Lookup, path: str, shown: str, line: int | None) -> None:
    def bad(message: str) -> RulesError:
        return RulesError([RuleProblem(shown, line, f"{lk.file}: {message}")])

    try:
        fh = open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise bad(f"cannot read it ({exc.strerror or exc})") from None
    with fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for col in (lk.key, *lk.fields.values()):
            if col not in header:
                raise bad(f"no column '{col}' (columns: {', '.join(header)})")
        for rec in reader:
            domain = _domain_of(rec.get(lk.key))
            if domain and domain not in lk.rows:  # the first row for a domain wins
                lk.rows[domain] = (reader.line_num, rec)


def _domain_of(value: Any) -> str:
    """`https://www.Acme.com/about` or `acme.com` → `acme.com`."""
    text = str(value or "").strip().casefold()
    if not text:
        return ""
    if "://" not in text:
        text = "//" + text
    host = urlsplit(text).hostname or ""
    return host[4:] if host.startswith("www.") else host


def company_domain(lead: dict[str, Any]) -> tuple[str, str] | None:
    """The lead's company domain and where it comes from (the e-mail unless free-mail, else the website)."""
    from .dedupe.finder import free_mail_domains

    domain = (lead.get("email_domain") or "").casefold()
    if domain and domain not in free_mail_domains():
        return domain, "e-mail"
    website = (lead.get("attributes") or {}).get("website")
    site = _domain_of(website)
    if site and site not in free_mail_domains():
        return site, "website"
    return None


def _company_from_domain(domain: str) -> str:
    """`acme-robotics.co.uk` → `Acme Robotics`."""
    label = domain.split(".")[0]
    return " ".join(w.capitalize() for w in label.replace("_", "-").split("-") if w)


def _country_from_phone(phone: str | None) -> str | None:
    import phonenumbers

    if not phone:
        return None
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(str(phone), None))
    except phonenumbers.NumberParseException:
        return None
    return region if region and region != "ZZ" else None


def _country_from_tld(domain: str) -> str | None:
    tld = domain.rsplit(".", 1)[-1]
    if len(tld) != 2:
        return None
    code = _TLD_COUNTRY.get(tld, tld.upper())
    return code if code in _zones_by_country() else None


@lru_cache(maxsize=1)
def _zones_by_country() -> dict[str, list[str]]:
    """Country code → its IANA time zones (tzdata's zone1970.tab, which lists every inhabited country)."""
    from importlib import resources

    text = resources.files("tzdata").joinpath("zoneinfo").joinpath("iso3166.tab").read_text(encoding="utf-8")
    out: dict[str, list[str]] = {ln.split("\t")[0]: [] for ln in text.splitlines() if ln and not ln.startswith("#")}
    zones = resources.files("tzdata").joinpath("zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    for ln in zones.splitlines():
        if ln and not ln.startswith("#"):
            parts = ln.split("\t")
            out.setdefault(parts[0], []).append(parts[2])
    return out


def _timezone(country: str | None, phone: str | None) -> tuple[str, str] | None:
    """The lead's time zone: its country's only zone, else the phone's only zone."""
    zones = _zones_by_country().get(country or "", [])
    if len(zones) == 1:
        return zones[0], f"the country {country}"
    if phone:
        import phonenumbers
        from phonenumbers import timezone as pn_tz

        try:
            found = [z for z in pn_tz.time_zones_for_number(phonenumbers.parse(str(phone), None)) if "/" in z]
        except phonenumbers.NumberParseException:
            found = []
        if len(found) == 1:
            return found[0], "the phone's number"
    return None


def _typed(kind: str, text: str) -> Any:
    from .ingest.normalize import normalize_country, parse_number

    text = (text or "").strip()
    if not text:
        return None
    if kind == "country":
        return normalize_country(text)
    if kind in ("int", "float"):
        try:
            n = parse_number(text)
        except ValueError:
            return None
        return None if n is None else (int(n) if kind == "int" else float(n))
    return text


def enrich_lead(lead: dict[str, Any], lookups: list[Lookup]) -> dict[str, dict[str, Any]]:
    """The values enrichment would fill on one lead: {field: {"value", "origin"}}; only empty fields."""
    have = {k: v for k, v in lead.items() if v not in (None, "")}
    filled: dict[str, dict[str, Any]] = {}

    def fill(name: str, value: Any, origin: str) -> None:
        if value not in (None, "") and name not in have and name not in filled:
            filled[name] = {"value": value, "origin": origin}

    found = company_domain(lead)
    if found:
        domain, how = found
        fill("company_domain", domain, f"the {how}")
        for lk in lookups:
            hit = lk.rows.get(domain)
            if hit:
                row, rec = hit
                for name, col in lk.fields.items():
                    fill(name, _typed(FILLABLE[name], rec.get(col, "")), f"{lk.file}, row {row}")
        fill("company", _company_from_domain(domain), f"the {how} {domain}")
    country = _country_from_phone(lead.get("phone"))
    fill("country", country, "the phone's country code")
    if found:
        fill("country", _country_from_tld(found[0]), f"the domain {found[0]}")
    tz = _timezone(have.get("country") or (filled.get("country") or {}).get("value"), lead.get("phone"))
    if tz:
        fill("timezone", tz[0], tz[1])
    return filled


@dataclass
class EnrichResult:
    """How many leads got values, and how many of each field."""

    leads: int = 0
    fields: dict[str, int] = field(default_factory=dict)


# Values enrichment keeps only in `leads.enriched` (no column of their own).
EXTRA = ("company_domain", "timezone")


def enrich_store(store: Store, rules_dir: str, *, now: datetime, dry_run: bool = False) -> EnrichResult:
    """Enrich every lead not erased; one read, one executemany of the leads that change."""
    lookups = load_lookups(rules_dir)
    t = LEADS
    result = EnrichResult()
    updates = []
    with store.connect() as conn:
        query = select(*(t.c[c] for c in _COLUMNS)).where(t.c.erased_at.is_(None))
        for row in conn.execute(query.execution_options(yield_per=10_000)):
            lead = dict(zip(_COLUMNS, row))
            before = lead.pop("enriched") or {}
            # A value enrichment filled before is not the lead's own: it may be refreshed.
            own = {k: (None if k in before and before[k].get("value") == v else v) for k, v in lead.items()}
            new = enrich_lead(own, lookups)
            merged = {**{k: v for k, v in before.items() if k not in new and _still(lead, k, v)}, **new}
            if merged == before:
                continue
            values = {k: v["value"] for k, v in new.items() if k not in EXTRA and lead.get(k) != v["value"]}
            updates.append({"b_id": lead["id"], "b_enriched": merged, **{f"b_{k}": v for k, v in values.items()}})
            result.leads += 1
            for k in new:
                if before.get(k) != new[k]:
                    result.fields[k] = result.fields.get(k, 0) + 1
    if dry_run or not updates:
        return result
    with store.begin() as conn:
        by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for u in updates:
            by_shape.setdefault(tuple(sorted(u)), []).append(u)
        for shape, rows in by_shape.items():
            cols: dict[str, Any] = {k[2:]: bindparam(k) for k in shape if k != "b_id"}
            conn.execute(t.update().where(t.c.id == bindparam("b_id")).values(**cols, updated_at=now), rows)
    return result


def _still(lead: dict[str, Any], name: str, entry: dict[str, Any]) -> bool:
    """An earlier enriched value still stands (the field was not changed since by an import or a person)."""
    return name in EXTRA or lead.get(name) == entry.get("value")


def origins(lead: dict[str, Any]) -> dict[str, str]:
    """Field → its origin, for the enriched values the lead still holds (`leads show`)."""
    out = {}
    for name, entry in (lead.get("enriched") or {}).items():
        if name in EXTRA or lead.get(name) == entry.get("value"):
            out[name] = str(entry.get("origin"))
    return out
