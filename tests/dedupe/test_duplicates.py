"""`leads duplicates`: evidence, plans (CSV and YAML), apply as one batch, undo losing nothing."""
from __future__ import annotations

import csv
import json
from datetime import datetime

import yaml
from sqlalchemy import func, select

from leadctl.dedupe.finder import find_pairs, group_pairs, mailbox
from leadctl.store.tables import (
    ACTIVITIES,
    FOLLOWUPS,
    IDENTIFIERS,
    IMPORTED_ROWS,
    LEADS,
    POSSIBLE_DUPLICATES,
    STAGE_HISTORY,
)

from conftest import add_lead

T0 = datetime(2026, 11, 1, 9, 0)


def _pair(pairs, a, b):
    for p in pairs:
        if {p.a, p.b} == {a, b}:
            return p
    return None


def test_mailbox_drops_dots_and_plus_tags():
    assert mailbox("J.Doe+news@Acme.com") == "jdoe@acme.com"
    assert mailbox("not an address") == ""


def test_each_kind_of_evidence_is_found_and_explained(store):
    phone_a = add_lead(store, first_name="Ann", last_name="Lee", phone="+4930123456")
    phone_b = add_lead(store, first_name="Anna", last_name="Leeds", phone="+4930123456")
    mail_a = add_lead(store, first_name="Jo", last_name="Doe", email="j.doe+news@acme.com", email_domain="acme.com")
    mail_b = add_lead(store, first_name="Joe", last_name="Brown", email="jdoe@acme.com", email_domain="acme.com")
    co_a = add_lead(store, first_name="Maria", last_name="Silva", company="Globex Inc.")
    co_b = add_lead(store, first_name="maria", last_name="SILVA", company="Globex")
    near_a = add_lead(store, first_name="Jonathan", last_name="Smithers", company="Initech")
    near_b = add_lead(store, first_name="Jonathon", last_name="Smithers", company="Initech")
    li_a = add_lead(store, first_name="Kim", linkedin="https://www.linkedin.com/in/kim-x")
    li_b = add_lead(store, first_name="Kimberly", linkedin="https://www.linkedin.com/in/kim-x")
    # A free-mail domain in common says nothing: only the name counts, weakly.
    free_a = add_lead(store, first_name="Sam", last_name="Green", email="sam1@gmail.com", email_domain="gmail.com")
    free_b = add_lead(store, first_name="Sam", last_name="Green", email="sg@gmail.com", email_domain="gmail.com")
    rec_a = add_lead(store, first_name="Pat", email="pat@x.org", email_domain="x.org")
    rec_b = add_lead(store, first_name="Lou", email="lou@y.org", email_domain="y.org")
    with store.begin() as conn:
        conn.execute(POSSIBLE_DUPLICATES.insert().values(lead_id=rec_b, other_id=rec_a, reason="shared placeholder",
                                                         created_at=T0))

    pairs = find_pairs(store, min_score=1)
    assert "same phone +4930123456" in _pair(pairs, phone_a, phone_b).evidence
    assert _pair(pairs, mail_a, mail_b).evidence == ["e-mail addresses differ only by dots or a plus tag"]
    assert _pair(pairs, co_a, co_b).evidence == ["same name at the same company (globex)"]
    near = _pair(pairs, near_a, near_b)
    assert near.evidence == ["near-identical names (94% alike) at the same company (initech)"]
    assert _pair(pairs, li_a, li_b).score == 90
    assert _pair(pairs, free_a, free_b).evidence == ["same name"]  # not "at the same e-mail domain"
    assert _pair(pairs, rec_a, rec_b).evidence == ["recorded at import: shared placeholder"]
    # The default threshold leaves the weak hints out; groups join pairs.
    strong = find_pairs(store)
    assert _pair(strong, near_a, near_b) is None and _pair(strong, rec_a, rec_b) is None
    assert _pair(strong, free_a, free_b) is None
    assert [phone_a, phone_b] in group_pairs(strong)


def _world(store):
    """Two records of one person, each with its own activities, history, tasks and identifiers."""
    keep = add_lead(store, at=T0, first_name="Ada", last_name="Lovelace", company="Analytical Engines",
                    email="ada@engines.io", email_domain="engines.io", phone="+441234567890", title="CTO",
                    country="GB", campaign="spring")
    other = add_lead(store, at=datetime(2026, 11, 10), first_name="Ada", last_name="Lovelace",
                     company="Analytical Engines Ltd", email="a.lovelace@engines.io", email_domain="engines.io",
                     industry="Computing", employees=12, source="webinar")
    third = add_lead(store, first_name="Ada", last_name="Lovelace", phone="+441234567890", city="London")
    with store.begin() as conn:
        for lid in (keep, other, third):
            conn.execute(ACTIVITIES.insert().values(lead_id=lid, type="email_open", at=T0, note=f"act {lid}"))
            conn.execute(STAGE_HISTORY.insert().values(lead_id=lid, from_stage=None, to_stage="new", at=T0,
                                                       cause="import"))
            conn.execute(FOLLOWUPS.insert().values(lead_id=lid, action="call", due_at=T0, created_at=T0))
            conn.execute(IDENTIFIERS.insert().values(lead_id=lid, kind="external_id", system="crm", value=f"x{lid}"))
            conn.execute(IMPORTED_ROWS.insert().values(hash=1000 + lid, lead_id=lid))
    return keep, other, third


def _snapshot(store):
    """Everything that belongs to a lead, by row id, so a round trip can be compared exactly."""
    skip = {"updated_at", "processed", "stages_entered", "flags"}  # flags: recomputed by the undo
    out = {}
    with store.connect() as conn:
        out["leads"] = sorted(tuple((k, v) for k, v in r._mapping.items() if k not in skip)
                              for r in conn.execute(select(LEADS)))
        for name, t in (("activities", ACTIVITIES), ("history", STAGE_HISTORY), ("tasks", FOLLOWUPS),
                        ("identifiers", IDENTIFIERS), ("duplicates", POSSIBLE_DUPLICATES)):
            cols = [c for c in t.c if c.name != "left_at"]
            out[name] = sorted(tuple(r) for r in conn.execute(select(*cols)))
        out["rows"] = sorted(tuple(r) for r in conn.execute(select(IMPORTED_ROWS)))
    return out


def _lead(store, lid):
    with store.connect() as conn:
        row = conn.execute(select(LEADS).where(LEADS.c.id == lid)).first()
        return dict(row._mapping) if row else None


def _read_csv(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_plan_apply_and_undo_lose_nothing(store, db_url, run_cli, tmp_path):
    keep, other, third = _world(store)
    before = _snapshot(store)
    plan = tmp_path / "plan.csv"
    r = run_cli("--db", db_url, "leads", "duplicates", "--plan", str(plan), "--format", "csv")
    assert r.code == 0, r.err
    rows = _read_csv(plan)
    survivor = [x for x in rows if x["action"] == "survivor"]
    assert [int(x["lead"]) for x in survivor] == [keep]  # the most complete, then the oldest
    assert "most complete" in survivor[0]["rule"]
    assert sorted(int(x["lead"]) for x in rows if x["action"] == "merge") == [other, third]
    fields = {x["field"]: x for x in rows if x["action"] == "field"}
    assert fields["industry"]["value"] == "Computing" and fields["industry"]["rule"] == "the only value"
    assert fields["company"]["rule"] == "most recent non-empty"
    assert all(x["about"] for x in rows if x["action"] in ("survivor", "merge"))

    r = run_cli("--db", db_url, "leads", "duplicates", "apply", str(plan), "--yes")
    assert r.code == 0, r.err
    assert "merged 2 leads into 1 survivors" in r.err
    assert _lead(store, other) is None and _lead(store, third) is None
    merged = _snapshot(store)
    assert {a[1] for a in merged["activities"]} == {keep}
    assert len(merged["activities"]) == 3 and len(merged["tasks"]) == 3
    assert {i[1] for i in merged["identifiers"]} == {keep}
    assert {v for (_i, _l, kind, v, *_rest) in merged["identifiers"] if kind == "external_id"} == \
        {f"x{keep}", f"x{other}", f"x{third}"}
    assert {r[1] for r in merged["rows"]} == {keep}
    lead = _lead(store, keep)
    assert lead["industry"] == "Computing" and lead["city"] == "London" and lead["title"] == "CTO"
    assert lead["company"] == "Analytical Engines Ltd"  # the most recent non-empty
    r = run_cli("--db", db_url, "batches", "show", "1", "--format", "json")
    assert '"kind": "merge"' in r.out

    r = run_cli("--db", db_url, "batches", "undo", "1", "--yes", "--no-process")
    assert r.code == 0, r.err
    assert "split 2 merged leads back out" in r.err
    assert _snapshot(store) == before
    # Undone once is undone.
    assert run_cli("--db", db_url, "batches", "undo", "1", "--yes", "--no-process").code == 1


def test_undo_keeps_a_value_changed_since_the_merge(store, db_url, run_cli, tmp_path):
    keep, other, third = _world(store)
    plan = tmp_path / "plan.csv"
    assert run_cli("--db", db_url, "leads", "duplicates", "--plan", str(plan)).code == 0
    assert run_cli("--db", db_url, "leads", "duplicates", "apply", str(plan), "-y").code == 0
    with store.begin() as conn:
        conn.execute(LEADS.update().where(LEADS.c.id == keep).values(industry="Mathematics"))
    r = run_cli("--db", db_url, "batches", "undo", "1", "--yes", "--no-process")
    assert r.code == 0, r.err
    assert _lead(store, keep)["industry"] == "Mathematics"
    assert _lead(store, other)["industry"] == "Computing"
    assert _lead(store, third)["city"] == "London"


def test_yaml_plan_edited_by_a_person(store, db_url, run_cli, tmp_path):
    keep, other, third = _world(store)
    plan = tmp_path / "plan.yaml"
    assert run_cli("--db", db_url, "leads", "duplicates", "--plan", str(plan)).code == 0
    doc = yaml.safe_load(plan.read_text(encoding="utf-8"))
    (group,) = doc["groups"]
    assert group["survivor"] == keep and sorted(group["merge"]) == [other, third]
    assert group["leads"][other]["evidence"]
    # The person decides: `third` is someone else; the industry is spelled their way.
    group["merge"] = [other]
    group["not_duplicate"] = [third]
    group["fields"]["industry"]["value"] = "Computing hardware"
    plan.write_text(yaml.safe_dump(doc), encoding="utf-8")
    r = run_cli("--db", db_url, "leads", "duplicates", "apply", str(plan), "--yes")
    assert r.code == 0, r.err
    assert "2 pairs remembered as not duplicate" in r.err
    assert _lead(store, keep)["industry"] == "Computing hardware"
    assert _lead(store, third) is not None
    # Never proposed again, even though the phone still matches.
    r = run_cli("--db", db_url, "leads", "duplicates", "--format", "json")
    assert r.code == 0 and json.loads(r.out) == []
    assert find_pairs(store, min_score=1) == []


def test_a_bad_plan_is_refused_naming_the_row_and_nothing_changes(store, db_url, run_cli, tmp_path):
    keep, other, _third = _world(store)
    before = _snapshot(store)
    bad = tmp_path / "bad.csv"
    bad.write_text("group,action,lead,field,value,rule\n1,survivor,%d,,,\n1,absorb,%d,,,\n" % (keep, other),
                   encoding="utf-8")
    r = run_cli("--db", db_url, "leads", "duplicates", "apply", str(bad), "--yes")
    assert r.code == 1
    assert "bad.csv: row 3: unknown action 'absorb'" in r.err
    gone = tmp_path / "gone.csv"
    gone.write_text("group,action,lead,field,value,rule\n1,survivor,%d,,,\n1,merge,99999,,,\n" % keep,
                    encoding="utf-8")
    r = run_cli("--db", db_url, "leads", "duplicates", "apply", str(gone), "--yes")
    assert r.code == 1 and "group 1: no lead 99999" in r.err
    field = tmp_path / "field.csv"
    field.write_text("group,action,lead,field,value,rule\n1,survivor,%d,,,\n1,merge,%d,,,\n1,field,,employees,many,\n"
                     % (keep, other), encoding="utf-8")
    r = run_cli("--db", db_url, "leads", "duplicates", "apply", str(field), "--yes")
    assert r.code == 1 and "row 4: employees 'many' is not a int" in r.err
    assert _snapshot(store) == before


def test_forget_erases_what_a_merge_kept_to_undo_it(store, db_url, run_cli, tmp_path):
    from leadctl.store.tables import DUPLICATE_MERGES

    keep, other, _third = _world(store)
    plan = tmp_path / "plan.csv"
    assert run_cli("--db", db_url, "leads", "duplicates", "--plan", str(plan)).code == 0
    assert run_cli("--db", db_url, "leads", "duplicates", "apply", str(plan), "-y").code == 0
    assert run_cli("--db", db_url, "leads", "forget", str(keep), "-y").code == 0
    with store.connect() as conn:
        kept = conn.execute(select(DUPLICATE_MERGES.c.removed, DUPLICATE_MERGES.c.saved)).all()
    assert kept and all(r == (None, None) for r in kept)
    r = run_cli("--db", db_url, "batches", "undo", "1", "--yes", "--no-process")
    assert r.code == 0, r.err
    assert _lead(store, other) is None  # nothing of the erased person comes back


def test_undo_after_the_survivor_was_merged_again_keeps_it_and_says_so(store, db_url, run_cli, tmp_path):
    keep, other, third = _world(store)
    plan = tmp_path / "plan.csv"
    assert run_cli("--db", db_url, "leads", "duplicates", "--plan", str(plan)).code == 0
    assert run_cli("--db", db_url, "leads", "duplicates", "apply", str(plan), "-y").code == 0
    later = add_lead(store, email="ada.l@engines.io", email_domain="engines.io")
    assert run_cli("--db", db_url, "leads", "merge", str(later), str(keep), "-y").code == 0
    r = run_cli("--db", db_url, "batches", "undo", "1", "--yes", "--no-process", "--format", "json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["recreated"] == [] and len(out["conflicts"]) == 2
    assert all("stays merged" in c["reason"] for c in out["conflicts"])
    assert _lead(store, later)["email"] == "ada.l@engines.io"
    with store.connect() as conn:  # nothing re-created: the three records live on in `later`
        assert conn.execute(select(func.count()).select_from(LEADS)).scalar() == 1
        assert {a for (a,) in conn.execute(select(ACTIVITIES.c.lead_id))} == {later}
