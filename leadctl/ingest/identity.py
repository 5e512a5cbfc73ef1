"""Who a row is: when a row and a lead are the same person, and which rows of a file share a key.

Identity rules (the import's promise that different people never become one lead):
- E-mail, external id (per system) and LinkedIn profile are *strong* identifiers: a row joins a lead
  only when none of them conflicts — two different non-empty e-mails, two different ids of one
  system, or two different profiles are two people, whatever else they share.
- A phone (or a composite key such as first_name+last_name+company) is *weak*: a company switchboard
  is shared by many people. A row found only through it joins the lead when nothing conflicts and
  the names agree; otherwise the two are recorded as possible duplicates, not merged.
- An e-mail that rows with different names carry (`a@a.com`, `info@acme.com`) is a placeholder for
  those rows: kept as `attributes.placeholder_email`, not used as a key; the row's identity is then
  the placeholder with its name and company.
"""
from __future__ import annotations

import unicodedata
import zlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from leadctl.fields import IDENTITY

DEFAULT_MATCH = ("email", "external_id", "linkedin", "phone")  # the keys an import finds leads by, in order

# Addresses that are a form's filler, never a person's: a placeholder whatever the rows say.
_FILLER_LOCALS = frozenset({"noemail", "no-email", "no_email", "nomail", "noreply", "no-reply", "donotreply",
                            "do-not-reply", "notprovided", "not-provided", "none", "unknown", "null"})
_FILLER_DOMAINS = frozenset({"test.com", "email.com", "none.com", "noemail.com", "nomail.com", "na.com",
                             "domain.com", "fake.com", "dummy.com", "asdf.com", "abc.com", "xxx.com", "unknown.com"})


def is_filler_email(email: str) -> bool:
    """`a@a.com`, `noemail@acme.org`, `test@test.com`: a value typed to get past a required field."""
    local, _, domain = email.partition("@")
    if local in _FILLER_LOCALS or domain in _FILLER_DOMAINS:
        return True
    return len(local) <= 3 and domain == f"{local}.com"


@lru_cache(maxsize=1 << 16)  # names repeat (an import compares them for every row that shares a key)
def _plain(s: Any) -> str:
    """Case-folded, accents and punctuation removed: `Zoë O'Neil` → `zoeoneil`."""
    t = unicodedata.normalize("NFKD", str(s)).casefold()
    return "".join(c for c in t if c.isalnum())


def names_agree(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two records can be one person by name: every name part both carry is the same
    (an initial agrees with a name it starts: `J.` and `John`). Missing parts never disagree."""
    for part in ("first_name", "last_name"):
        x, y = a.get(part), b.get(part)
        if not x or not y:
            continue
        px, py = _plain(x), _plain(y)
        if not px or not py or px == py:
            continue
        if (len(px) == 1 and py.startswith(px)) or (len(py) == 1 and px.startswith(py)):
            continue
        return False
    return True


def names_confirm(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two records name the same person: they agree, and share at least one name part.
    (What a shared phone needs before it may join a row to a lead: the phone alone is a switchboard.)"""
    return names_agree(a, b) and any(a.get(p) and b.get(p) for p in ("first_name", "last_name"))


@dataclass
class Ids:
    """The identifiers one lead (stored or being built) is known by."""

    emails: set[str]
    externals: dict[str, set[str]]  # system → ids ("" when the system is not known)
    linkedin: set[str]
    phones: set[str]
    placeholders: set[str]
    recorded: set[str]  # values already in lead_identifiers

    @classmethod
    def empty(cls) -> "Ids":
        return cls(set(), {}, set(), set(), set(), set())

    def add(self, kind: str, value: str, system: str = "") -> None:
        if kind == "email":
            self.emails.add(value)
        elif kind == "linkedin":
            self.linkedin.add(value)
        elif kind == "phone":
            self.phones.add(value)
        elif kind == "placeholder":
            self.placeholders.add(value)
        elif kind == "external_id":
            self.externals.setdefault(system, set()).add(value)

    def add_row(self, values: dict[str, Any], system: str, placeholder: str | None = None) -> None:
        for kind, value in row_identifiers(values):
            self.add(kind, value, system)
        if placeholder:
            self.placeholders.add(placeholder)

    def conflict(self, values: dict[str, Any], system: str, placeholder: str | None = None) -> str | None:
        """Why a row with these values cannot be this lead, or None."""
        if placeholder and self.placeholders and placeholder not in self.placeholders:
            return "a different person behind a shared e-mail"
        email = values.get("email")
        if email and self.emails and email.casefold() not in self.emails:
            return "different e-mail"
        ext = values.get("external_id")
        if ext and system and self.externals.get(system) and ext.casefold() not in self.externals[system]:
            return f"different {system}"
        link = values.get("linkedin")
        if link and self.linkedin and link not in self.linkedin:
            return "different LinkedIn profile"
        return None


def row_identifiers(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(kind, value) of each identifier a row's values give its lead (`Ids.add_row` records them, and
    `Matcher.lead_keys` finds the lead by them): e-mails and external ids case-folded."""
    out = []
    email, linkedin, phone = values.get("email"), values.get("linkedin"), values.get("phone")
    ext = values.get("external_id")
    if email:
        out.append(("email", email.casefold()))
    if linkedin:
        out.append(("linkedin", linkedin))
    if phone:
        out.append(("phone", phone))
    if ext:
        out.append(("external_id", ext.casefold()))
    return out


def placeholder_key(email: str, values: dict[str, Any]) -> str:
    """The identity of a row whose e-mail is a placeholder: the e-mail with its name and company."""
    names = (values.get(k) or "" for k in ("first_name", "last_name", "company"))
    return "|".join([email, *(_plain(n) for n in names)])


def shared_placeholders(rows: Iterable[dict[str, Any]]) -> set[str]:
    """E-mails that rows with different names carry: placeholders for those rows, not identities."""
    first_seen: dict[str, dict[str, Any]] = {}
    out: set[str] = set()
    for values in rows:
        email = values.get("email")
        if not email:
            continue
        key = email.casefold()
        other = first_seen.setdefault(key, values)
        if other is not values and not names_agree(other, values):
            out.add(key)
    return out


class SharedKeys:
    """Which identity values occur more than once across the files of one import, found by a cheap
    pass over the raw files before anything is normalised or written.

    A bit per hash marks what was seen; a value whose bit is already set joins `repeated`. Hash
    collisions only add values (their rows are folded at the end with the others: slower, never
    wrong), so rows whose values are all unrepeated can be compared with the store on their own.
    Memory: 16 MiB for the bits plus the repeated values' hashes.
    """

    BITS = 1 << 27

    def __init__(self) -> None:
        self._seen = bytearray(self.BITS // 8)
        self.repeated: set[int] = set()

    def add(self, h: int) -> None:
        b = h & (self.BITS - 1)
        byte, bit = b >> 3, 1 << (b & 7)
        if self._seen[byte] & bit:
            self.repeated.add(h)
        else:
            self._seen[byte] |= bit

    def any_repeated(self, hashes: Iterable[int]) -> bool:
        rep = self.repeated
        return bool(rep) and not rep.isdisjoint(hashes)

    def release(self) -> None:
        """Drop the bit array once every file was scanned (the repeated set is what is needed)."""
        self._seen = bytearray()


class KeyFilter:
    """The match keys some stored lead may be found by, for an import into a store it (nearly) fills.

    A bit per key's hash, set for every key of every lead the store held when the import began
    and of every lead the import wrote since; a key whose bit is clear finds no lead, so it is
    not looked up. A set bit only means "ask the store" (collisions cost a query, never a match).
    Memory: 8 MiB (at a million leads about 3 % of the keys of new people are still looked up).
    """

    BITS = 1 << 26

    def __init__(self) -> None:
        self._bits = bytearray(self.BITS // 8)

    def add_all(self, keys: Iterable[tuple]) -> None:
        bits, mask = self._bits, self.BITS - 1
        for key in keys:
            b = hash(key) & mask
            bits[b >> 3] |= 1 << (b & 7)

    def may_find(self, keys: list[tuple]) -> list[tuple]:
        """The keys that may find a stored lead."""
        bits, mask = self._bits, self.BITS - 1
        out = []
        for key in keys:
            b = hash(key) & mask
            if bits[b >> 3] & (1 << (b & 7)):
                out.append(key)
        return out


# Every ASCII character but 0-9, deleted by str.translate: in ASCII text those are exactly
# the characters str.isdigit accepts (other text takes the general path, Unicode digits included).
_ASCII_NOT_DIGITS = {i: None for i in range(128) if not 48 <= i <= 57}


def _stable_hash(kind: str, value: str) -> int:
    """A hash that is the same in every process (Python's str hash is salted per process, which made
    which rows wait for the end-of-import fold, and so the new leads' ids, differ from run to run)."""
    return zlib.crc32(f"{kind}\x1f{value}".encode("utf-8", "surrogatepass"))


def raw_hashes(raw: dict[str, Any], headers: dict[str, str]) -> list[int]:
    """Hashes of a raw record's identity values, in forms that normalised equal values share:
    e-mails and ids case-folded, phones by their last nine digits, profiles by their path."""
    get = raw.get
    return value_hashes([get(header) for header in headers], headers.values())


def value_hashes(values: Iterable[Any], kinds: Iterable[str]) -> list[int]:
    """`raw_hashes` of the values of a record's identity columns, in the order of their kinds."""
    out = []
    for v, kind in zip(values, kinds):
        if not v or not isinstance(v, str):
            continue
        if kind == "phone":
            digits = v.translate(_ASCII_NOT_DIGITS) if v.isascii() else "".join(c for c in v if c.isdigit())
            if len(digits) < 6:
                continue
            out.append(_stable_hash("phone", digits[-9:]))
        elif kind == "linkedin":
            t = v.strip().casefold().rstrip("/")
            i = t.find("/in/")
            out.append(_stable_hash("linkedin", t[i:] if i >= 0 else t))
        else:
            t = v.strip().casefold()
            if t.startswith("mailto:"):
                t = t[7:]
            if t:
                out.append(_stable_hash(kind, t))
    return out


IDENTITY_FIELDS = IDENTITY


def identity_headers(colmap) -> dict[str, str]:
    """The columns of a file that can carry an identifier: header → field."""
    out = {}
    for column in colmap.columns:
        for name in (column.field, *getattr(column, "candidate_for", ())):
            if name in IDENTITY_FIELDS:
                out[column.header] = name
                break
    return out
