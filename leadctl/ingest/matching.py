"""Finding the lead a row is: its keys, the stored leads they reach, and the identity rules that
decide between them (ingest.identity has the rules; this module applies them to keys).

    matcher = Matcher((("email",), ("phone",)))
    existing, ids_of = matcher.find_existing(conn, [matcher.row_keys(row) for row in rows])
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, tuple_

from ..fields import IMPORTED as IMPORTABLE
from ..store import models
from .identity import Ids, names_agree, names_confirm
from .rows import Row

LEADS = models.Lead.__table__
IMPORTED = tuple(f for f in IMPORTABLE if f != "stage")  # the lead columns an import writes
_CI_KEYS = {"first_name", "last_name", "company"}
IDENTIFIER_KINDS = ("email", "phone", "external_id", "linkedin", "placeholder")


class Matcher:
    """The match keys of one import (--match), applied to rows and leads."""

    def __init__(self, match: tuple[tuple[str, ...], ...]):
        self.match_keys = match

    def row_keys(self, row: Row) -> list[tuple]:
        """The keys a row can be found by, in --match order: (field…, folded value…)."""
        keys = [("placeholder", row.placeholder)] if row.placeholder else []
        return keys + self.value_keys(row.values)

    def lead_keys(self, lead: dict[str, Any], ids: Ids) -> list[tuple]:
        """The keys a lead is found by: its columns' and every identifier it was imported with."""
        keys = self.value_keys(lead)
        keys += [("email", v) for v in ids.emails] + [("phone", v) for v in ids.phones]
        keys += [("linkedin", v) for v in ids.linkedin] + [("placeholder", v) for v in ids.placeholders]
        keys += [("external_id", v) for vals in ids.externals.values() for v in vals]
        return keys

    def value_keys(self, values: dict[str, Any]) -> list[tuple]:
        keys = []
        for key in self.match_keys:
            if len(key) == 1:
                v = values.get(key[0])
                if v is not None and v != "":
                    keys.append((key[0], v.casefold() if isinstance(v, str) else v))
                continue
            vals = tuple(fold(values.get(k)) for k in key)
            if all(v is not None for v in vals):
                keys.append(key + vals)
        return keys

    def find_existing(self, conn, row_keys: list[list[tuple]]) -> tuple[dict[int, dict[str, Any]], dict[int, Ids]]:
        """The stored leads any of these keys finds (by column or by a recorded identifier), with
        every identifier each of them is known by."""
        t, li = LEADS, models.LeadIdentifier.__table__
        wanted: dict[tuple[str, ...], set[tuple]] = {}
        for keys in row_keys:
            for key in keys:
                wanted.setdefault(key[: len(key) // 2], set()).add(key[len(key) // 2:])
        cols = [t.c.id, t.c.batch_id, t.c.stage, t.c.stage_changed_at, t.c.attributes, t.c.email_domain,
                t.c.explanation.is_(None).label("_unprocessed")] + [t.c[c] for c in IMPORTED]
        live = t.c.erased_at.is_(None)
        found: dict[int, dict[str, Any]] = {}

        def load(cond) -> None:
            for rec in conn.execute(select(*cols).where(cond, live)):
                found.setdefault(rec.id, dict(rec._mapping))

        by_identifier: set[int] = set()
        for key, values in wanted.items():
            if len(key) == 1:
                vals = [v[0] for v in values]
                for i in range(0, len(vals), 500):
                    part = vals[i:i + 500]
                    if key[0] in IDENTIFIER_KINDS:
                        by_identifier.update(lid for (lid,) in conn.execute(
                            select(li.c.lead_id).where(li.c.kind == key[0], li.c.value.in_(part))))
                    if key[0] != "placeholder":
                        col = t.c[key[0]]
                        load(col.in_(part) if key[0] not in _CI_KEYS else func.lower(col).in_(part))
            else:
                # A composite key: a few hundred value combinations per query (a row-value IN),
                # not one query (and, unindexed, one table scan) per combination.
                exprs = tuple_(*[(func.lower(t.c[k]) if k in _CI_KEYS else t.c[k]) for k in key])
                combos = list(values)
                step = max(1, 900 // len(key))
                for i in range(0, len(combos), step):
                    load(exprs.in_(combos[i:i + step]))
        missing = sorted(by_identifier - found.keys())
        for i in range(0, len(missing), 500):
            load(t.c.id.in_(missing[i:i + 500]))
        ids_of: dict[int, Ids] = {}
        for lid, lead in found.items():
            ids = ids_of[lid] = Ids.empty()
            for kind in ("email", "linkedin"):  # (phones: only those recorded beside the column)
                if lead.get(kind):
                    ids.add(kind, fold(lead[kind]))
        lids = sorted(found)
        for i in range(0, len(lids), 500):
            for lid, kind, value, system in conn.execute(select(li.c.lead_id, li.c.kind, li.c.value, li.c.system)
                                                         .where(li.c.lead_id.in_(lids[i:i + 500]))):
                ids_of[lid].add(kind, value, system)
                ids_of[lid].recorded.add(value)
        return found, ids_of

    def match(self, row: Row, keys: list[tuple], keyindex, existing, state, ids_of
               ) -> tuple[int | None, list[tuple[int, str]]]:
        """(the lead this row is or None, [(lead it only resembles, why)]).

        Each lead the row's keys reach is judged once, by every key that reaches it: an identifier
        only that lead carries (its e-mail, profile, or id in this system) makes it the same person
        unless another identifier conflicts; a phone, a composite key, or a value several leads
        carry needs the names to agree too.
        """
        reached: dict[int, list[tuple]] = {}
        for key in keys:
            for lid in keyindex.get(key, ()):
                reached.setdefault(lid, []).append(key)
        resembles: list[tuple[int, str]] = []
        for lid, via in reached.items():
            lead = state.get(lid) or existing[lid]
            ids = ids_of[lid]
            why = ids.conflict(row.values, row.system, row.placeholder)
            if why is None:
                strong = [k for k in via if _strong(k, ids, row.system, keyindex)]
                if any(k[0] != "email" for k in strong):
                    return lid, resembles  # a renamed record is still the record its id names
                if strong and names_agree(lead, row.values):
                    return lid, resembles
                if strong:  # its e-mail, under another name: the caller decides (a placeholder e-mail)
                    return None, resembles
                if names_confirm(lead, row.values):
                    return lid, resembles  # a phone, another system's id or a shared value, and the same name
                why = "different name" if not names_agree(lead, row.values) else "no name to tell them apart"
            first = via[0]
            what = "+".join(first[: len(first) // 2]) if len(first) > 2 else first[0]
            resembles.append((lid, f"same {what.replace('_', ' ')}, {why}"))
        return None, resembles

    def email_taken(self, row: Row, keyindex, existing, state) -> bool:
        """Whether the row's e-mail belongs to a lead whose name differs from the row's."""
        for lid in keyindex.get(("email", row.values["email"].casefold()), ()):
            if not names_agree(state.get(lid) or existing[lid], row.values):
                return True
        return False


def fold(v: Any) -> Any:
    """A key's value: text case-folded, empty as None."""
    if v is None or v == "":
        return None
    return v.casefold() if isinstance(v, str) else v


def _strong(key: tuple, ids: Ids, system: str, keyindex) -> bool:
    """Whether a key names one person: an e-mail, profile or placeholder identity, or an id of the
    row's own system, that no other lead carries."""
    if key[0] == "placeholder":
        return True
    if len(keyindex[key]) > 1:
        return False
    return key[0] in ("email", "linkedin") or (key[0] == "external_id" and key[1] in ids.externals.get(system, ()))


def has_identity(values: dict[str, Any]) -> bool:
    return bool(values.get("email") or values.get("external_id") or values.get("linkedin"))
