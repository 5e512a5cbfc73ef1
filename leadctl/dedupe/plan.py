"""Merge plans: groups of likely duplicates, a proposed survivor, and field-by-field choices with the
rule that picked each, written as CSV or YAML for a person to review, edit and apply.

A group's leads each have an action: `survivor` (exactly one), `merge` (merged into the survivor),
`not_duplicate` (a different person: the pair is remembered and never proposed again) or `skip`
(left alone this time). `field` rows/entries say which value the survivor gets.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import select

from ..errors import InputError
from ..fields import BY_NAME, CATALOGUE, IDENTITY, MERGEABLE
from ..store.db import Store
from ..store.tables import LEADS
from .finder import Pair, group_pairs

ACTIONS = ("survivor", "merge", "not_duplicate", "skip")
# Fields a plan chooses a value for. Identity fields (e-mail, phone, ids) stay the survivor's: the
# others' keep finding it as identifiers. email_domain follows the e-mail.
CHOOSABLE = tuple(f for f in MERGEABLE if f not in IDENTITY and f != "email_domain")
_LATEST = ("last_activity_at", "last_contacted_at")
_FIRST_TOUCH = ("source", "campaign")
_COMPLETE = tuple(f.name for f in CATALOGUE if f.exported and f.name != "id")
CSV_COLUMNS = ("group", "action", "lead", "field", "value", "rule", "score", "evidence", "about")


@dataclass
class Choice:
    """The value a field of the survivor gets, the lead it comes from, and the rule that picked it."""

    value: Any
    lead: int | None
    rule: str


@dataclass
class Group:
    """One group of a plan: who survives, who merges into it, who is someone else."""

    number: int
    survivor: int
    merge: list[int] = field(default_factory=list)
    not_duplicate: list[int] = field(default_factory=list)
    skip: list[int] = field(default_factory=list)
    fields: dict[str, Choice] = field(default_factory=dict)
    why: str = ""
    evidence: dict[int, tuple[int, str]] = field(default_factory=dict)  # lead → (score, words) toward the group
    about: dict[int, str] = field(default_factory=dict)
    where: str = ""  # the plan's file and row/group, for messages


def _empty(v: Any) -> bool:
    return v is None or v == ""


def _about(lead: dict[str, Any]) -> str:
    """What a person needs to tell leads apart: name, e-mail, phone, company, created, stage."""
    name = " ".join(x for x in (lead.get("first_name"), lead.get("last_name")) if x) or "(no name)"
    bits = [name] + [str(lead[k]) for k in ("email", "phone", "company") if lead.get(k)]
    bits.append(f"created {lead['created_at']:%Y-%m-%d}, {lead.get('stage')}")
    return " · ".join(bits)


def _completeness(lead: dict[str, Any]) -> int:
    return sum(1 for f in _COMPLETE if not _empty(lead.get(f)))


def build_plan(store: Store, pairs: list[Pair]) -> list[Group]:
    """A plan for the pairs' groups: the most complete lead survives (then the oldest), and each
    field whose values differ gets the value its rule picks."""
    groups = group_pairs(pairs)
    ids = [i for g in groups for i in g]
    leads: dict[int, dict[str, Any]] = {}
    t = LEADS
    with store.connect() as conn:
        for k in range(0, len(ids), 500):
            for row in conn.execute(select(t).where(t.c.id.in_(ids[k:k + 500]))):
                leads[row.id] = dict(row._mapping)
    best: dict[int, tuple[int, str]] = {}
    for p in pairs:
        for x in (p.a, p.b):
            if x not in best or best[x][0] < p.score:
                other = p.b if x == p.a else p.a
                best[x] = (p.score, f"with lead {other}: " + "; ".join(p.evidence))
    out = []
    for n, members in enumerate(groups, 1):
        rows = [leads[i] for i in members if i in leads]
        rows.sort(key=lambda r: (-_completeness(r), r["created_at"], r["id"]))
        survivor = rows[0]
        g = Group(number=n, survivor=survivor["id"], merge=[r["id"] for r in rows[1:]],
                  why=f"most complete ({_completeness(survivor)} fields), then oldest",
                  evidence={i: best[i] for i in members if i in best},
                  about={r["id"]: _about(r) for r in rows})
        g.fields = _choices(survivor, rows)
        out.append(g)
    return out


def _choices(survivor: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Choice]:
    out: dict[str, Choice] = {}
    for f in CHOOSABLE:
        having = [r for r in rows if not _empty(r.get(f))]
        if not having:
            continue
        if len({str(r[f]) for r in having}) < 2 and not _empty(survivor.get(f)):
            continue  # nothing to choose
        if f in _LATEST:
            pick, rule = max(having, key=lambda r: r[f]), "latest"
        elif f in _FIRST_TOUCH:
            pick, rule = min(having, key=lambda r: (r["created_at"], r["id"])), "first touch (the oldest lead's)"
        elif f in ("owner", "team") and not _empty(survivor.get(f)):
            pick, rule = survivor, "the survivor's (owner kept)"
        else:
            pick, rule = max(having, key=lambda r: (r["updated_at"], r["id"])), "most recent non-empty"
        if len(having) == 1:
            rule = "the only value"
        out[f] = Choice(pick[f], pick["id"], rule)
    return out


# ---------------------------------------------------------------- writing
def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def write_plan(path: str, groups: list[Group]) -> None:
    """Write the plan as CSV or YAML (by the file's suffix)."""
    from ..csvsafe import open_private, safe_row

    if path.lower().endswith((".yaml", ".yml")):
        doc = {"groups": [_group_doc(g) for g in groups]}
        with open_private(path, newline=None) as fh:
            fh.write("# Merge plan: review it, then `leadctl leads duplicates apply` it.\n"
                     "# Per group: change `survivor`, move leads between merge / not_duplicate / skip,\n"
                     "# edit or delete field choices. not_duplicate pairs are never proposed again.\n")
            yaml.safe_dump(doc, fh, sort_keys=False, allow_unicode=True, width=120)
        return
    with open_private(path) as fh:
        w = csv.writer(fh)
        w.writerow(CSV_COLUMNS)
        for g in groups:
            w.writerow(safe_row([g.number, "survivor", g.survivor, "", "", g.why, *_ev(g, g.survivor),
                                 g.about.get(g.survivor, "")]))
            for lid in g.merge:
                w.writerow(safe_row([g.number, "merge", lid, "", "", "", *_ev(g, lid), g.about.get(lid, "")]))
            for f, c in g.fields.items():
                w.writerow(safe_row([g.number, "field", "" if c.lead is None else c.lead, f, _text(c.value), c.rule,
                                     "", "", ""]))


def _ev(g: Group, lid: int) -> list[Any]:
    score, words = g.evidence.get(lid, ("", ""))
    return [score, words]


def _group_doc(g: Group) -> dict[str, Any]:
    return {
        "group": g.number,
        "survivor": g.survivor,
        "why": g.why,
        "merge": list(g.merge),
        "not_duplicate": list(g.not_duplicate),
        "skip": list(g.skip),
        "leads": {lid: {"about": g.about.get(lid, ""), "score": g.evidence.get(lid, ("", ""))[0],
                        "evidence": g.evidence.get(lid, ("", ""))[1]} for lid in [g.survivor, *g.merge]},
        "fields": {f: {"value": _text(c.value), "from": c.lead, "rule": c.rule} for f, c in g.fields.items()},
    }


# ---------------------------------------------------------------- reading
def read_plan(path: str) -> list[Group]:
    """A plan file a person reviewed (CSV or YAML by suffix); InputError naming the row or group."""
    try:
        if path.lower().endswith((".yaml", ".yml")):
            return _read_yaml(path)
        return _read_csv(path)
    except UnicodeDecodeError as exc:
        raise InputError("not UTF-8 text", file=path) from exc


def _int(v: Any, what: str, path: str, row: int | None = None, where: str = "") -> int:
    try:
        return int(str(v).strip())
    except ValueError:
        raise InputError(f"{where}{what} {v!r} is not a lead id", file=path, row=row) from None


def _read_csv(path: str) -> list[Group]:
    groups: dict[int, Group] = {}
    pending: list[tuple[int, int, dict[str, str]]] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("group", "action", "lead", "field", "value") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"not a merge plan: no column {missing[0]!r}", file=path)
        for n, rec in enumerate(reader, 2):
            rec = {k: (v or "").strip() for k, v in rec.items() if k}
            if not any(rec.values()):
                continue
            num = _int(rec["group"], "group", path, n)
            action = rec["action"].casefold().replace("-", "_").replace(" ", "_")
            if action == "field":
                pending.append((n, num, rec))
                continue
            if action not in ACTIONS:
                raise InputError(f"unknown action {rec['action']!r} (one of {', '.join(ACTIONS)}, field)",
                                 file=path, row=n)
            lid = _int(rec["lead"], "lead", path, n)
            g = groups.setdefault(num, Group(number=num, survivor=0, where=f"{path}: group {num}"))
            if action == "survivor":
                if g.survivor:
                    raise InputError(f"group {num} has two survivors ({g.survivor} and {lid})", file=path, row=n)
                g.survivor = lid
            else:
                getattr(g, action).append(lid)
        for n, num, rec in pending:
            if num not in groups:
                raise InputError(f"a field choice for group {num}, which has no leads", file=path, row=n)
            groups[num].fields[_field_name(rec["field"], path, n)] = Choice(
                _coerce(rec["field"], rec["value"], path, n), int(rec["lead"]) if rec["lead"].isdigit() else None,
                rec.get("rule") or "chosen in the plan")
    return _checked(list(groups.values()), path)


def _read_yaml(path: str) -> list[Group]:
    with open(path, encoding="utf-8") as fh:
        try:
            doc = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise InputError("not valid YAML", file=path, line=mark.line + 1 if mark else None) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        raise InputError("not a merge plan: no `groups:` list", file=path)
    out = []
    for i, item in enumerate(doc["groups"], 1):
        where = f"group {item.get('group', i) if isinstance(item, dict) else i}: "
        if not isinstance(item, dict) or "survivor" not in item:
            raise InputError(f"{where}needs a `survivor`", file=path)
        g = Group(number=int(item.get("group", i)), survivor=_int(item["survivor"], "survivor", path, where=where),
                  where=f"{path}: group {item.get('group', i)}")
        for action in ("merge", "not_duplicate", "skip"):
            values = item.get(action) or []
            if not isinstance(values, list):
                raise InputError(f"{where}`{action}` must be a list of lead ids", file=path)
            getattr(g, action).extend(_int(v, action, path, where=where) for v in values)
        fields = item.get("fields") or {}
        if not isinstance(fields, dict):
            raise InputError(f"{where}`fields` must map field names to choices", file=path)
        for name, c in fields.items():
            c = c if isinstance(c, dict) else {"value": c}
            g.fields[_field_name(str(name), path, None, where)] = Choice(
                _coerce(str(name), c.get("value"), path, None, where), c.get("from"),
                str(c.get("rule") or "chosen in the plan"))
        out.append(g)
    return _checked(out, path)


def _field_name(name: str, path: str, row: int | None, where: str = "") -> str:
    if name not in CHOOSABLE:
        raise InputError(f"{where}field {name!r} cannot be chosen in a plan (one of: {', '.join(CHOOSABLE)})",
                         file=path, row=row)
    return name


def _coerce(name: str, value: Any, path: str, row: int | None, where: str = "") -> Any:
    """A plan's text as the field's type (an empty value: the field stays as the merge leaves it)."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    kind = BY_NAME[name].type
    try:
        if kind == "int":
            return int(float(text))
        if kind == "float":
            return float(text)
        if kind == "datetime":
            return value if isinstance(value, datetime) else datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{where}{name} {text!r} is not a {kind}", file=path, row=row) from None
    return text


def _checked(groups: list[Group], path: str) -> list[Group]:
    """Every group has one survivor; no lead is in two places."""
    seen: dict[int, int] = {}
    for g in groups:
        if not g.survivor:
            raise InputError(f"group {g.number} has no survivor", file=path)
        for lid in (g.survivor, *g.merge, *g.not_duplicate, *g.skip):
            if lid in seen:
                raise InputError(f"lead {lid} appears twice (groups {seen[lid]} and {g.number})", file=path)
            seen[lid] = g.number
    return groups
