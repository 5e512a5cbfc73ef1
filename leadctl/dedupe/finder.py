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
WEIGHTS = {"linkedin": 90, "email": 80, "name_company": 70, "name_domain": 70, "phone": 60,
           "similar_name": 45, "recorded": 40}
# Names at least this similar (rapidfuzz token_sort_ratio, 0–100) count as near-identical.
SIMILAR = 90
# A block larger than this is a shared value (a switchboard, a common name), not one person:
# comparing inside it would be quadratic and say little.
MAX_BLOCK = 50
DEFAULT_MIN_SCORE = 50

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


def _pair_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


class Finder:
    """Collects the blocks from the leads, then scores the pairs inside each block."""

    def __init__(self, rejected: set[tuple[int, int]]):
        self.rejected = rejected
        self.pairs: dict[tuple[int, int], Pair] = {}
        self.blocks: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.names: dict[int, str] = {}
        self.free = free_mail_domains()

    def add(self, lead: dict[str, Any]) -> None:
        """Put one lead into the blocks its values open."""
        lid = lead["id"]
        name = _name(lead)
        domain = (lead.get("email_domain") or "").casefold()
        company = company_key(lead.get("company"))
        b = self.blocks
        if lead.get("phone"):
            b["phone"][str(lead["phone"])].append(lid)
        if lead.get("linkedin"):
            b["linkedin"][str(lead["linkedin"]).casefold()].append(lid)
        box = mailbox(lead.get("email"))
        if box:
            b["email"][box].append(lid)
        if name:
            self.names[lid] = name
            if company:
                b["name_company"][f"{name}|{company}"].append(lid)
                b["company"][company].append(lid)
            if domain and domain not in self.free:
                b["name_domain"][f"{name}|{domain}"].append(lid)
                b["domain"][domain].append(lid)
            parts = name.split()
            if len(parts) > 1:  # `jon smith` and `john smith`: same last name, same initial
                b["initial"][f"{parts[-1]}|{parts[0][0]}"].append(lid)

    def pair(self, a: int, b: int) -> Pair | None:
        key = _pair_key(a, b)
        if a == b or key in self.rejected:
            return None
        p = self.pairs.get(key)
        if p is None:
            p = self.pairs[key] = Pair(*key)
        return p

    def score(self, leads: dict[int, dict[str, Any]]) -> None:
        """Every pair inside every block, with the evidence that block gives."""
        from rapidfuzz import fuzz

        exact = {
            "phone": lambda k: f"same phone {k}",
            "linkedin": lambda k: "same LinkedIn profile",
            "email": lambda k: "e-mail addresses differ only by dots or a plus tag",
            "name_company": lambda k: f"same name at the same company ({k.split('|')[1]})",
            "name_domain": lambda k: f"same name at the same e-mail domain ({k.split('|')[1]})",
        }
        for kind, words in exact.items():
            for key, ids in self.blocks[kind].items():
                ids = sorted(set(ids))
                if len(ids) < 2 or len(ids) > MAX_BLOCK:
                    continue
                if kind == "email" and len({str(leads[i].get("email")).casefold() for i in ids}) < 2:
                    continue  # the same address twice is the importer's business, not a variant
                for i, a in enumerate(ids):
                    for b in ids[i + 1:]:
                        p = self.pair(a, b)
                        if p is not None:
                            p.add(kind, words(key))
        for kind in ("company", "domain", "initial"):
            for ids in self.blocks[kind].values():
                ids = sorted(set(ids))
                if len(ids) < 2 or len(ids) > MAX_BLOCK:
                    continue
                for i, a in enumerate(ids):
                    for b in ids[i + 1:]:
                        na, nb = self.names[a], self.names[b]
                        if na == nb and kind != "initial":
                            continue  # said above, more strongly
                        ratio = fuzz.token_sort_ratio(na, nb)
                        if ratio < SIMILAR:
                            continue
                        p = self.pair(a, b)
                        if p is None or p.kinds & {"name_company", "name_domain"}:
                            continue  # the stronger evidence says it already
                        if na == nb:
                            p.add("similar_name", "same name")
                        else:
                            where = {"company": "at the same company", "domain": "at the same e-mail domain",
                                     "initial": "(same last name and initial)"}[kind]
                            p.add("similar_name", f"near-identical names {where}: {int(ratio)}% alike")


def _rejected(conn) -> set[tuple[int, int]]:
    nd = NOT_DUPLICATES
    return {(a, b) for a, b in conn.execute(select(nd.c.lead_id, nd.c.other_id))}


def find_pairs(store: Store, *, min_score: int = DEFAULT_MIN_SCORE) -> list[Pair]:
    """Likely duplicate pairs scoring at least `min_score`, highest first; pairs a person
    marked not duplicate are left out. Leads whose data was erased take no part."""
    t = LEADS
    leads: dict[int, dict[str, Any]] = {}
    with store.connect() as conn:
        finder = Finder(_rejected(conn))
        query = select(*(t.c[c] for c in _COLUMNS)).where(t.c.erased_at.is_(None))
        for row in conn.execute(query.execution_options(yield_per=10_000)):
            lead = dict(zip(_COLUMNS, row))
            finder.add(lead)
            leads[lead["id"]] = {"email": lead["email"]} if lead["email"] else {}
        finder.score(leads)
        pd = POSSIBLE_DUPLICATES
        for a, b, reason in conn.execute(select(pd.c.lead_id, pd.c.other_id, pd.c.reason)):
            if a in leads and b in leads:
                p = finder.pair(a, b)
                if p is not None:
                    p.add("recorded", f"recorded at import: {reason}")
    out = [p for p in finder.pairs.values() if p.score >= min_score]
    out.sort(key=lambda p: (-p.score, p.a, p.b))
    return out


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
