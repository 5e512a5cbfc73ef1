"""Likely duplicates among stored leads, each pair with a score and its evidence in words.

Leads are compared only inside blocks that share a key (a phone, a LinkedIn URL, an e-mail
without dots and plus tags, a name at a company or e-mail domain, a last name with a first
initial), never all pairs, so the work grows with the store, not with its square:

    pairs = find_pairs(store)            # [Pair(a=12, b=40, score=90, evidence=[...]), ...]
    groups = group_pairs(pairs)          # [[12, 40, 41], ...]
"""
from __future__ import annotations

import re
import unicodedata
from array import array
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable

from sqlalchemy import select

from ..store.db import Store
from ..store.tables import LEADS, NOT_DUPLICATES, POSSIBLE_DUPLICATES

# What each kind of evidence adds to a pair's score (capped at 100). A shared LinkedIn profile or
# e-mail mailbox is nearly proof; a shared phone may be a switchboard; a similar name alone is a hint.
WEIGHTS = {"linkedin": 90, "email": 80, "name_org": 60, "phone": 60, "similar_name": 45, "recorded": 40}
# Names at least this similar (rapidfuzz token_sort_ratio, 0–100) count as near-identical.
SIMILAR = 90
# A block larger than this is a shared value (a switchboard, a common name), not one person:
# comparing inside it would be quadratic and say little. Names are commoner than phones.
MAX_BLOCK = 50
MAX_NAME_BLOCK = 10
DEFAULT_MIN_SCORE = 50
# The blocks: the kind of evidence each gives (fuzzy ones compare names inside).
_EXACT = ("phone", "linkedin", "email", "name_org")
_FUZZY = ("near_org", "near_initial")

_COLUMNS = ("id", "first_name", "last_name", "company", "email", "email_domain", "phone", "linkedin")


@dataclass
class Pair:
    """Two leads (a < b) that look like one person: a score 0–100 and why."""

    a: int
    b: int
    score: int = 0
    evidence: list[str] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)

    def add(self, kind: str, words: str) -> None:
        """One more piece of evidence (each kind counts once)."""
        if kind in self.kinds:
            return
        self.kinds.add(kind)
        self.evidence.append(words)
        self.score = min(100, self.score + WEIGHTS[kind])


@lru_cache(maxsize=1)
def free_mail_domains() -> frozenset[str]:
    """The free-mail domains shipped with leadctl (dedupe/freemail.txt)."""
    text = resources.files(__package__).joinpath("freemail.txt").read_text(encoding="utf-8")
    return frozenset(ln.strip().casefold() for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))


def _plain(s: Any) -> str:
    """Case-folded, accents and punctuation gone, spaces single: how names are compared."""
    if not s:
        return ""
    s = unicodedata.normalize("NFKD", str(s).casefold())
    s = "".join(c for c in s if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", " ", s).split())


_COMPANY_SUFFIX = re.compile(r"\b(inc|llc|ltd|gmbh|sa|sas|srl|bv|ag|plc|corp|co|limited|ltda|me|eireli)\b")


def company_key(company: Any) -> str:
    """A company name without its legal form: `Acme, Inc.` and `ACME` meet."""
    return " ".join(_COMPANY_SUFFIX.sub(" ", _plain(company)).split())


def mailbox(email: Any) -> str:
    """The mailbox an address reaches: `j.doe+news@x.com` → `jdoe@x.com` (dots and plus tags dropped)."""
    if not email or "@" not in str(email):
        return ""
    local, _, domain = str(email).casefold().rpartition("@")
    return local.split("+", 1)[0].replace(".", "") + "@" + domain


def _name(lead: dict[str, Any]) -> str:
    return _plain(" ".join(x for x in (lead.get("first_name"), lead.get("last_name")) if x))


_BIT = {k: 1 << i for i, k in enumerate(WEIGHTS)}
_SHIFT = 32  # a pair is one int: a << 32 | b (lead ids are below 2**32)


class Finder:
    """Collects each lead's block keys (hashed, in flat arrays), then scores the pairs inside each
    block. Pairs are kept as ints with a bit per kind of evidence; words come at the end."""

    def __init__(self, rejected: set[tuple[int, int]]):
        self.rejected = {a << _SHIFT | b for a, b in rejected}
        self.pairs: dict[int, int] = {}          # pair → bits of evidence
        self.ratio: dict[int, int] = {}          # pair → name similarity, for near-identical names
        self.keys = {k: (array("q"), array("q")) for k in (*_EXACT, *_FUZZY)}  # kind → (key hashes, ids)
        self.names: dict[int, str] = {}
        self.free = free_mail_domains()

    def _key(self, kind: str, key: str, lid: int) -> None:
        hashes, ids = self.keys[kind]
        hashes.append(hash(key))
        ids.append(lid)

    def add(self, lead: dict[str, Any]) -> None:
        """Put one lead into the blocks its values open."""
        lid = lead["id"]
        if lead.get("phone"):
            self._key("phone", str(lead["phone"]), lid)
        if lead.get("linkedin"):
            self._key("linkedin", str(lead["linkedin"]).casefold(), lid)
        box = mailbox(lead.get("email"))
        if box:
            self._key("email", box, lid)
        name = _name(lead)
        if not name:
            return
        self.names[lid] = name
        domain = (lead.get("email_domain") or "").casefold()
        orgs = [("c", company_key(lead.get("company"))), ("d", domain if domain not in self.free else "")]
        parts = name.split()
        for tag, org in orgs:
            if org:
                self._key("name_org", f"{tag}|{name}|{org}", lid)
                # Near-identical names share the start of the first or the last name.
                self._key("near_org", f"{tag}|{org}|f|{parts[0][:2]}", lid)
                self._key("near_org", f"{tag}|{org}|l|{parts[-1][:2]}", lid)
        if len(parts) > 1:  # `jon smith` and `john smith`: same last name, same initial
            self._key("near_initial", f"{parts[-1]}|{parts[0][0]}", lid)

    def _blocks(self, kind: str):
        """The ids of each block of `kind` (2 ≤ size ≤ the kind's limit), one after the other."""
        hashes, ids = self.keys[kind]
        limit = MAX_NAME_BLOCK if kind in ("name_org", "near_initial") else MAX_BLOCK
        order = sorted(range(len(hashes)), key=hashes.__getitem__)
        start = 0
        for i in range(1, len(order) + 1):
            if i < len(order) and hashes[order[i]] == hashes[order[start]]:
                continue
            if 2 <= i - start <= limit:
                block = sorted({ids[j] for j in order[start:i]})
                if len(block) > 1:
                    yield block
            start = i
        self.keys[kind] = (array("q"), array("q"))  # done with it

    def _mark(self, a: int, b: int, kind: str) -> int | None:
        key = (a << _SHIFT | b) if a < b else (b << _SHIFT | a)
        if a == b or key in self.rejected:
            return None
        self.pairs[key] = self.pairs.get(key, 0) | _BIT[kind]
        return key

    def score(self) -> None:
        """Every pair inside every block, marked with the evidence that block gives."""
        from rapidfuzz import fuzz

        for kind in _EXACT:
            for block in self._blocks(kind):
                for i, a in enumerate(block):
                    for b in block[i + 1:]:
                        self._mark(a, b, kind)
        strong = _BIT["name_org"]
        for kind in _FUZZY:
            for block in self._blocks(kind):
                for i, a in enumerate(block):
                    for b in block[i + 1:]:
                        key = (a << _SHIFT | b) if a < b else (b << _SHIFT | a)
                        if self.pairs.get(key, 0) & strong:
                            continue  # the same name at the same organisation says it already
                        na, nb = self.names[a], self.names[b]
                        ratio = 100 if na == nb else int(fuzz.token_sort_ratio(na, nb))
                        if ratio >= SIMILAR and self._mark(a, b, "similar_name") is not None:
                            self.ratio[key] = max(ratio, self.ratio.get(key, 0))


def _rejected(conn) -> set[tuple[int, int]]:
    nd = NOT_DUPLICATES
    return {(a, b) for a, b in conn.execute(select(nd.c.lead_id, nd.c.other_id))}


def find_pairs(store: Store, *, min_score: int = DEFAULT_MIN_SCORE) -> list[Pair]:
    """Likely duplicate pairs scoring at least `min_score`, highest first; pairs a person
    marked not duplicate are left out. Leads whose data was erased take no part."""
    t = LEADS
    with store.connect() as conn:
        finder = Finder(_rejected(conn))
        query = select(*(t.c[c] for c in _COLUMNS)).where(t.c.erased_at.is_(None))
        for row in conn.execute(query.execution_options(yield_per=10_000)):
            finder.add(dict(zip(_COLUMNS, row)))
        finder.score()
        recorded: dict[int, str] = {}
        pd = POSSIBLE_DUPLICATES
        for a, b, reason in conn.execute(select(pd.c.lead_id, pd.c.other_id, pd.c.reason)):
            key = finder._mark(a, b, "recorded")
            if key is not None:
                recorded.setdefault(key, reason)
        finder.names.clear()
        kept = [(key, bits) for key, bits in finder.pairs.items()
                if min(100, sum(w for k, w in WEIGHTS.items() if bits & _BIT[k])) >= min_score]
        finder.pairs.clear()
        leads = _rows(conn, {x for key, _ in kept for x in (key >> _SHIFT, key & 0xFFFFFFFF)})
    out = []
    for key, bits in kept:
        a, b = key >> _SHIFT, key & 0xFFFFFFFF
        if a not in leads or b not in leads:
            continue  # an erased lead's recorded pair
        p = Pair(a, b)
        for kind in WEIGHTS:
            if bits & _BIT[kind]:
                p.add(kind, _words(kind, leads[a], leads[b], finder.ratio.get(key), recorded.get(key)))
        out.append(p)
    out.sort(key=lambda p: (-p.score, p.a, p.b))
    return out


def _rows(conn, ids: set[int]) -> dict[int, dict[str, Any]]:
    """The compared values of these leads (not erased)."""
    t = LEADS
    out: dict[int, dict[str, Any]] = {}
    todo = sorted(ids)
    for i in range(0, len(todo), 500):
        query = select(*(t.c[c] for c in _COLUMNS)).where(t.c.id.in_(todo[i:i + 500]), t.c.erased_at.is_(None))
        for row in conn.execute(query):
            out[row[0]] = dict(zip(_COLUMNS, row))
    return out


def _words(kind: str, a: dict[str, Any], b: dict[str, Any], ratio: int | None, reason: str | None) -> str:
    """The evidence of one kind for a pair, in words."""
    if kind == "phone":
        return f"same phone {a['phone']}"
    if kind == "linkedin":
        return "same LinkedIn profile"
    if kind == "email":
        return "e-mail addresses differ only by dots or a plus tag"
    if kind == "recorded":
        return f"recorded at import: {reason}"
    company = company_key(a.get("company"))
    domain = (a.get("email_domain") or "").casefold()
    same_company = bool(company) and company == company_key(b.get("company"))
    same_domain = bool(domain) and domain == (b.get("email_domain") or "").casefold() \
        and domain not in free_mail_domains()
    where = " and ".join(filter(None, [f"company ({company})" if same_company else "",
                                       f"e-mail domain ({domain})" if same_domain else ""]))
    if kind == "name_org":
        return f"same name at the same {where}"
    if ratio == 100:
        return "same name" + (f" at the same {where}" if where else "")
    return f"near-identical names ({ratio}% alike)" + (f" at the same {where}" if where else "")


def group_pairs(pairs: Iterable[Pair]) -> list[list[int]]:
    """Leads linked by pairs, as groups (each sorted; groups by their first lead)."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for p in pairs:
        ra, rb = root(p.a), root(p.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for x in list(parent):
        groups[root(x)].append(x)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: g[0])
