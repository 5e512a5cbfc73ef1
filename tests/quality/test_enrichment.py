"""Enrichment: empty fields filled offline from the lead itself and the team's lookup tables, each value
with its origin; imported values never overwritten."""
from __future__ import annotations

import json

from sqlalchemy import select

from leadctl.store.tables import LEADS

from conftest import add_lead, write_csv, write_rules

ENRICHMENT = """\
    version: 1
    lookups:
      - file: company-data.csv
        key: Domain
        fields: {company: Company, industry: Industry, employees: Employees, annual_revenue: Revenue}
    """


def _lead(store, lid):
    with store.connect() as conn:
        return dict(conn.execute(select(LEADS).where(LEADS.c.id == lid)).one()._mapping)


def _rules(tmp_path):
    rules = write_rules(tmp_path / "rules", enrichment=ENRICHMENT)
    write_csv(rules / "company-data.csv", ["Domain", "Company", "Industry", "Employees", "Revenue"], [
        ["https://www.initech.com", "Initech Corp", "Software", "250", "12,500,000"],
        ["globex.de", "Globex GmbH", "Manufacturing", "1200", ""],
    ])
    return rules


def test_fills_only_empty_fields_and_says_where_each_came_from(tmp_path, store, db_url, run_cli):
    rules = _rules(tmp_path)
    bare = add_lead(store, email="peter@initech.com", email_domain="initech.com", phone="+4930123456")
    own = add_lead(store, email="hans@globex.de", email_domain="globex.de", industry="Automotive")
    free = add_lead(store, email="sam@gmail.com", email_domain="gmail.com",
                    attributes={"website": "acme-robotics.co.uk"})

    r = run_cli("--db", db_url, "--rules", str(rules), "leads", "enrich", "--dry-run")
    assert r.code == 0, r.err
    assert "would enrich 3 leads" in r.err and _lead(store, bare)["industry"] is None

    r = run_cli("--db", db_url, "--rules", str(rules), "leads", "enrich")
    assert r.code == 0, r.err
    a = _lead(store, bare)
    assert (a["company"], a["industry"], a["employees"], a["annual_revenue"]) == \
        ("Initech Corp", "Software", 250, 12500000.0)
    assert a["country"] == "DE"  # from the phone
    assert a["enriched"]["industry"]["origin"] == "company-data.csv, row 2"
    assert a["enriched"]["timezone"]["value"] == "Europe/Berlin"
    b = _lead(store, own)
    assert b["industry"] == "Automotive" and b["company"] == "Globex GmbH" and b["employees"] == 1200
    assert "industry" not in b["enriched"] and b["country"] == "DE"  # the .de domain
    c = _lead(store, free)
    assert c["company"] == "Acme Robotics" and c["country"] == "GB"
    assert c["enriched"]["company"]["origin"] == "the website acme-robotics.co.uk"

    r = run_cli("--db", db_url, "leads", "show", str(bare))
    assert "Software (from company-data.csv, row 2)" in r.out
    assert "Europe/Berlin (from the phone's number)" in r.out  # Germany has two zones: the phone tells
    assert "initech.com (from the e-mail)" in r.out
    r = run_cli("--db", db_url, "leads", "show", str(bare), "--format", "json")
    assert json.loads(r.out)["enriched"]["employees"] == {"value": 250, "origin": "company-data.csv, row 2"}

    # A second run changes nothing; a value set since is the lead's own and is never replaced.
    r = run_cli("--db", db_url, "--rules", str(rules), "leads", "enrich")
    assert "enriched 0 leads" in r.err
    with store.begin() as conn:
        conn.execute(LEADS.update().where(LEADS.c.id == bare).values(industry="Consulting"))
    run_cli("--db", db_url, "--rules", str(rules), "leads", "enrich")
    assert _lead(store, bare)["industry"] == "Consulting"
    r = run_cli("--db", db_url, "leads", "show", str(bare))
    assert "Consulting (from" not in r.out


def test_a_bad_enrichment_file_names_file_and_line(tmp_path, store, db_url, run_cli):
    add_lead(store, email="peter@initech.com", email_domain="initech.com")
    rules = write_rules(tmp_path / "rules", enrichment="""\
        version: 1
        lookups:
          - file: company-data.csv
            key: Domain
            fields: {email: Email}
        """)
    r = run_cli("--db", db_url, "--rules", str(rules), "leads", "enrich")
    assert r.code == 2 and "enrichment.yaml:5: 'email' cannot be filled by a lookup" in r.err
    rules = write_rules(tmp_path / "rules2", enrichment=ENRICHMENT)
    r = run_cli("--db", db_url, "--rules", str(rules), "leads", "enrich")
    assert r.code == 2 and "enrichment.yaml:3: company-data.csv: cannot read it" in r.err
    assert _lead(store, 1)["enriched"] is None
