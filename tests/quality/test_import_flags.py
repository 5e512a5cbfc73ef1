"""An import stores the flags of the leads it writes as it writes them: they equal what
`refresh_flags` (the reference, used by `leads verify` and undo) computes from the stored values."""
from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, update

from leadctl.errors import InputError
from leadctl.ingest import fastpath
from leadctl.ingest.importer import ImportOptions, import_leads
from leadctl.quality.flags import lead_flags, refresh_flags
from leadctl.store.tables import LEADS

from conftest import REPO, write_csv

EXPORTS = REPO / "tests" / "data" / "exports"
NOW = datetime(2026, 11, 20, 10, 0)


def _stored(store) -> dict[int, tuple]:
    with store.connect() as conn:
        return {r[0]: tuple(r[1:]) for r in conn.execute(
            select(LEADS.c.id, LEADS.c.email, LEADS.c.phone, LEADS.c.country, LEADS.c.flags))}


def _assert_flags_are_the_references(store) -> None:
    stored = _stored(store)
    assert stored
    for lid, (email, phone, country, flags) in stored.items():
        assert flags == lead_flags({"email": email, "phone": phone, "country": country}), lid
    with store.begin() as conn:
        assert refresh_flags(conn) == 0


@pytest.mark.parametrize("worker", [False, True], ids=["in-process", "worker"])
def test_every_export_imported_one_after_another_has_the_reference_flags(worker, rules, store, tmp_path,
                                                                        monkeypatch):
    """Every corpus file into one store, in turn (later files update and merge into earlier leads)."""
    monkeypatch.setattr(fastpath, "WORKER_MIN_BYTES", 0 if worker else 1 << 40)
    imported = 0
    for i, path in enumerate(sorted(EXPORTS.glob("*.csv"))):
        try:
            import_leads(store, [str(path)], ImportOptions(rejects=str(tmp_path / f"r{i}.csv"), default_region="US"),
                         rules, now=NOW)
        except InputError:  # a file that names no identity column (lead_scoring.csv) imports nothing
            continue
        imported += 1
    assert imported >= 15
    _assert_flags_are_the_references(store)


def test_rows_folded_into_one_lead_give_it_the_flags_of_its_final_values(rules, store, tmp_path):
    path = write_csv(tmp_path / "a.csv", ["Email", "Phone", "External ID", "Country"], [
        ["info@gmail.com", "+18005550100", "A1", "US"],
        ["", "+447911123456", "A1", "GB"],          # the same lead (its id): its phone changes
        ["ann@mailinator.com", "", "A2", ""],
        ["ANN@mailinator.com", "(415) 555-0123", "A2", "US"],  # the same e-mail, a national number
        ["bob@acme.com", "+44 20 7946 0958", "", ""],
        ["sales@acme.com", "", "", ""],
    ])
    r = import_leads(store, [path], ImportOptions(rejects=str(tmp_path / "r.csv")), rules, now=NOW)
    assert (r.created, r.merged) == (4, 2), r.summary()
    _assert_flags_are_the_references(store)
    flags = {email: f for email, _p, _c, f in _stored(store).values()}
    assert flags["info@gmail.com"] == "free_mail phone_mobile role_account"
    assert flags["sales@acme.com"] == "role_account"


def test_an_update_sets_the_flags_of_changed_values_and_leaves_the_others(rules, store, tmp_path):
    first = write_csv(tmp_path / "a.csv", ["Email", "Phone", "External ID", "Title"], [
        ["ann@gmail.com", "", "A1", "CEO"],
        ["bob@acme.com", "", "B1", "CTO"],
    ])
    import_leads(store, [first], ImportOptions(rejects=str(tmp_path / "r1.csv")), rules, now=NOW)
    with store.begin() as conn:  # a stale value the import must not touch (its e-mail and phone stay)
        conn.execute(update(LEADS).where(LEADS.c.email == "bob@acme.com").values(flags="placeholder"))
    second = write_csv(tmp_path / "b.csv", ["Email", "Phone", "External ID", "Title"], [
        ["", "+18005550100", "A1", "CFO"],
        ["", "", "B1", "CIO"],
    ])
    r = import_leads(store, [second], ImportOptions(rejects=str(tmp_path / "r2.csv")), rules, now=NOW)
    assert r.updated == 2, r.summary()
    flags = {email: f for email, _p, _c, f in _stored(store).values()}
    assert flags == {"ann@gmail.com": "free_mail phone_toll_free", "bob@acme.com": "placeholder"}


def test_a_dry_run_writes_no_flags(rules, store, tmp_path):
    path = write_csv(tmp_path / "a.csv", ["Email"], [["info@gmail.com"]])
    import_leads(store, [path], ImportOptions(rejects=str(tmp_path / "r.csv"), dry_run=True), rules, now=NOW)
    assert _stored(store) == {}
