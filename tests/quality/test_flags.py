"""Data-quality flags: computed offline at import and by `leads verify`, read by rules, filtered by `leads list`."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from leadctl.quality.flags import FLAGS, email_flags, lead_flags, phone_flags
from leadctl.store.tables import LEADS

from conftest import add_lead, write_csv, write_rules


@pytest.mark.parametrize("email,flags", [
    ("ada@engines.io", []),
    ("info@acme.com", ["role_account"]),
    ("sales+eu@acme.com", ["role_account"]),
    ("bob@gmail.com", ["free_mail"]),
    ("x9@mailinator.com", ["disposable"]),
    ("a@a.com", ["placeholder"]),
    ("noemail@acme.com", ["placeholder"]),
    ("test@acme.com", ["placeholder"]),
    ("no-at-sign", ["email_invalid"]),
    ("a..b@acme.com", ["email_invalid"]),
    ("ana@-acme.com", ["email_invalid"]),
    (None, []),
])
def test_email_flags(email, flags):
    assert sorted(email_flags(email)) == sorted(flags)


@pytest.mark.parametrize("phone,region,flag", [
    ("+18005550100", None, "phone_toll_free"),
    ("+447911123456", None, "phone_mobile"),
    ("+4930123456", None, "phone_fixed_line"),
    ("+12025550123", None, "phone_fixed_or_mobile"),
    ("+1555", None, "phone_invalid"),
    ("030 123456", "DE", "phone_fixed_line"),
    ("not a phone", None, "phone_invalid"),
])
def test_phone_flags(phone, region, flag):
    assert phone_flags(phone, region) == [flag]


def test_every_flag_it_can_give_is_documented():
    from conftest import REPO

    text = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    assert all(f"`{f}`" in text for f in FLAGS)
    assert lead_flags({"email": "info@gmail.com", "phone": "+447911123456"}) == "free_mail phone_mobile role_account"


def _flags(store):
    with store.connect() as conn:
        return dict(conn.execute(select(LEADS.c.email, LEADS.c.flags)).all())


def test_import_flags_the_leads_it_writes_and_rules_read_them(tmp_path, db_url, run_cli, store):
    rules = write_rules(tmp_path / "rules", scoring="""\
        version: 1
        fit:
          max: 60
          rules:
            - name: A person's mailbox
              when: {flags: {not_contains: role_account}}
              points: 10
            - name: Mobile
              when: {flags: {contains: phone_mobile}}
              points: 5
        """)
    path = write_csv(tmp_path / "leads.csv", ["Email", "Phone", "First Name"], [
        ["info@acme.com", "", "Front desk"],
        ["ada@engines.io", "+447911123456", "Ada"],
        ["bob@gmail.com", "", "Bob"],
    ])
    r = run_cli("--db", db_url, "--rules", str(rules), "import", path)
    assert r.code == 0, r.err
    assert _flags(store) == {"info@acme.com": "role_account", "ada@engines.io": "phone_mobile",
                             "bob@gmail.com": "free_mail"}
    with store.connect() as conn:
        scores = dict(conn.execute(select(LEADS.c.email, LEADS.c.score)).all())
    assert scores["info@acme.com"] < scores["bob@gmail.com"] < scores["ada@engines.io"]

    r = run_cli("--db", db_url, "leads", "list", "--flag", "free_mail", "--format", "json")
    assert r.code == 0, r.err
    assert [x["email"] for x in json.loads(r.out)] == ["bob@gmail.com"]
    r = run_cli("--db", db_url, "leads", "list", "--flag", "free-mail", "--format", "json")
    assert [x["email"] for x in json.loads(r.out)] == ["bob@gmail.com"]
    r = run_cli("--db", db_url, "leads", "list", "--flag", "freemail")
    assert r.code == 2 and "no data-quality flag 'freemail' (did you mean 'free_mail'?)" in r.err


def test_verify_recomputes_and_counts(db_url, run_cli, store):
    add_lead(store, email="info@mailinator.com", email_domain="mailinator.com")
    add_lead(store, email="jo@acme.com", email_domain="acme.com", phone="+18005550100")
    add_lead(store, email="sam@acme.com", email_domain="acme.com", flags="role_account")  # stale
    r = run_cli("--db", db_url, "leads", "verify", "--format", "json")
    assert r.code == 0, r.err
    counts = {x["flag"]: x["leads"] for x in json.loads(r.out)}
    assert counts["disposable"] == 1 and counts["role_account"] == 1 and counts["phone_toll_free"] == 1
    assert counts["free_mail"] == 0
    assert _flags(store)["sam@acme.com"] is None
    assert "3 leads changed" in r.err
    r = run_cli("--db", db_url, "leads", "verify")
    assert "0 leads changed" in r.err


def test_undo_puts_the_flags_back_with_the_email(tmp_path, db_url, run_cli, store):
    first = write_csv(tmp_path / "a.csv", ["Email", "Phone", "External ID"], [["ann@gmail.com", "", "A1"]])
    second = write_csv(tmp_path / "b.csv", ["Email", "Phone", "External ID"], [["", "+18005550100", "A1"]])
    assert run_cli("--db", db_url, "import", first, "--no-process").code == 0
    assert run_cli("--db", db_url, "import", second, "--no-process").code == 0
    assert _flags(store) == {"ann@gmail.com": "free_mail phone_toll_free"}
    r = run_cli("--db", db_url, "batches", "undo", "2", "--yes", "--no-process")
    assert r.code == 0, r.err
    assert _flags(store) == {"ann@gmail.com": "free_mail"}


def test_mx_check_without_dns_says_so_in_one_line(db_url, run_cli, store, monkeypatch):
    import dns.resolver

    def no_dns(self, *a, **kw):
        raise dns.resolver.NoNameservers()

    monkeypatch.setattr(dns.resolver.Resolver, "resolve", no_dns)  # no network in tests
    add_lead(store, email="jo@acme.com", email_domain="acme.com")
    r = run_cli("--db", db_url, "leads", "verify", "--mx")
    assert r.code == 0, r.err
    assert "MX check skipped: no DNS server answered (NoNameservers)" in r.err
