"""Header mapping: aliases of the common CRMs, overrides, mapping files, attributes."""
from __future__ import annotations

import pytest

from leadctl.errors import InputError, UsageError
from leadctl.ingest.headers import (
    ALIASES, FIELDS, MappingSpec, ColumnSpec, build_column_map, canonical_key, load_mapping,
    parse_map_option, snake_case,
)


@pytest.mark.parametrize("header,key", [
    ("E-mail", "email"), ("Email Address", "emailaddress"), ("  First_Name ", "firstname"),
    ("No. of Employees", "noofemployees"), ("Country/Region", "countryregion"), ("Größe", "grösse"),
])
def test_canonical_key(header, key):
    assert canonical_key(header) == key


@pytest.mark.parametrize("header,snake", [
    ("Total Time Spent on Website", "total_time_spent_on_website"), ("Budget", "budget"),
    ("Lead-Score (%)", "lead_score"), ("  __weird__  name__ ", "weird_name"), ("Größe", "größe"),
    ("Città", "città"), ("%%%", ""), ("", ""), ("utm_source", "utm_source"),
])
def test_snake_case(header, snake):
    assert snake_case(header) == snake


EXPORTS = {
    "salesforce": {
        "FirstName": "first_name", "LastName": "last_name", "Email": "email", "Phone": "phone",
        "Company": "company", "Title": "title", "Industry": "industry", "NumberOfEmployees": "employees",
        "AnnualRevenue": "annual_revenue", "Country": "country", "City": "city", "LeadSource": "source",
        "Status": "stage", "OwnerId": "owner", "CreatedDate": "created_at", "Id": "external_id",
        "HasOptedOutOfEmail": "do_not_contact",
    },
    "hubspot": {
        "Record ID": "external_id", "First Name": "first_name", "Last Name": "last_name", "Email": "email",
        "Phone Number": "phone", "Company Name": "company", "Job Title": "title", "Industry": "industry",
        "Number of Employees": "employees", "Annual Revenue": "annual_revenue", "Country/Region": "country",
        "City": "city", "Lifecycle Stage": "stage", "Original Source": "source", "Create Date": "created_at",
        "Contact owner": "owner", "Last Activity Date": "last_activity_at", "Last Contacted": "last_contacted_at",
    },
    "zoho": {
        "Lead Owner": "owner", "Lead Source": "source", "Lead Status": "stage", "Created Time": "created_at",
        "Mobile": "phone", "Company": "company", "Designation": "title", "No. of Employees": "employees",
        "Annual Revenue": "annual_revenue", "Lead ID": "external_id", "Email": "email",
    },
    "forms": {
        "full_name": "full_name", "email_address": "email", "phone_number": "phone", "utm_source": "source",
        "utm_campaign": "campaign", "job_title": "title", "company_name": "company",
        "created_time": "created_at",
    },
    "gen_leads": {
        "First Name": "first_name", "Last Name": "last_name", "Email": "email", "Phone": "phone",
        "Company": "company", "Job Title": "title", "Industry": "industry", "Employees": "employees",
        "Annual Revenue": "annual_revenue", "Country": "country", "Lead Source": "source",
        "Created Date": "created_at", "Last Activity": "attributes.last_activity",
        "Last Activity Date": "last_activity_at", "Budget": "attributes.budget", "Notes": "attributes.notes",
    },
    "olist": {
        "mql_id": "external_id", "first_contact_date": "created_at",
        "landing_page_id": "attributes.landing_page_id", "origin": "source",
    },
    "maven": {
        "opportunity_id": "external_id", "sales_agent": "owner", "product": "attributes.product",
        "account": "company", "deal_stage": "stage", "engage_date": "created_at",
        "close_date": "attributes.close_date", "close_value": "attributes.close_value",
    },
}


@pytest.mark.parametrize("system", sorted(EXPORTS))
def test_exports_map_without_flags(system):
    expected = EXPORTS[system]
    cmap = build_column_map(list(expected))
    assert {h: cmap.target(h) for h in expected} == expected


@pytest.mark.parametrize("header", ["E-mail", "Email Address", "email", "EMAIL", "Mail", "e_mail"])
def test_email_spellings(header):
    assert build_column_map([header]).target(header) == "email"


def test_alias_targets_are_fields():
    assert set(ALIASES.values()) <= set(FIELDS)


def test_first_column_wins_others_become_attributes():
    cmap = build_column_map(["Email", "E-mail", "Phone", "Mobile"])
    assert [c.target for c in cmap.columns] == ["email", "attributes.e_mail", "phone", "attributes.mobile"]
    assert cmap.for_field("phone").header == "Phone"


def test_overrides_come_first_and_claim_their_field():
    cmap = build_column_map(["Email", "Work Email", "Budget", "Notes"],
                            overrides={"Work Email": "email", "budget": "annual_revenue",
                                       "Notes": "attributes.Sales Notes", "Absent": "city"})
    assert [c.target for c in cmap.columns] == ["attributes.email", "email", "annual_revenue",
                                                "attributes.sales_notes"]
    assert cmap.unused_overrides == ["Absent"]


def test_attribute_names_made_unique_and_empty_ignored():
    cmap = build_column_map(["Budget", "budget", "%%", "Notes"])
    assert [c.target for c in cmap.columns] == ["attributes.budget", "attributes.budget_2", "attributes.notes"]
    assert cmap.ignored == ["%%"]


def test_unknown_override_field_is_a_usage_error():
    with pytest.raises(UsageError) as e:
        build_column_map(["Mail"], overrides={"Mail": "emial"})
    assert "did you mean 'email'" in e.value.message and "attributes.<name>" in e.value.hint


@pytest.mark.parametrize("option,expected", [
    ("Mail=email", ("Mail", "email")), ("a=b=phone", ("a=b", "phone")), (" X = attributes.foo ", ("X", "attributes.foo")),
])
def test_parse_map_option(option, expected):
    assert parse_map_option(option) == expected


@pytest.mark.parametrize("option", ["Mail", "=email", "Mail=", "Mail=nope"])
def test_parse_map_option_errors(option):
    with pytest.raises(UsageError):
        parse_map_option(option)


MAPPING = """\
columns:
  Lead ID: external_id
  Channel: source
  Won:
    field: stage
    values: {"Y": customer, "N": new, yes: customer}
  Signup date:
    field: created_at
    format: "%d.%m.%Y"
  won_date: stage_at
  Score: attributes.legacy score
defaults: {source: Trade show 2026, stage: customer, employees: 50}
match: [email, phone, external_id, first_name+last_name+company]
"""


def test_load_mapping_and_use_it(tmp_path):
    p = tmp_path / "map.yaml"
    p.write_text(MAPPING)
    spec = load_mapping(str(p))
    assert spec.columns["Won"] == ColumnSpec("stage", {"y": "customer", "n": "new", "yes": "customer"}, None)
    assert spec.columns["Signup date"].format == "%d.%m.%Y"
    assert spec.defaults == {"source": "Trade show 2026", "stage": "customer", "employees": "50"}
    assert spec.match == ("email", "phone", "external_id", "first_name+last_name+company")

    cmap = build_column_map(["lead id", "Channel", "Won", "Signup Date", "won_date", "Score", "Email"],
                            mapping=spec)
    assert [c.target for c in cmap.columns] == ["external_id", "source", "stage", "created_at", "stage_at",
                                                "attributes.legacy_score", "email"]
    won = cmap.column("Won")
    assert won.translate(" y ") == "customer" and won.translate("YES") == "customer" and won.translate("Maybe") == "Maybe"
    assert cmap.column("Signup Date").format == "%d.%m.%Y"


def test_override_beats_mapping():
    spec = MappingSpec(columns={"Channel": ColumnSpec("source")})
    cmap = build_column_map(["Channel"], overrides={"Channel": "campaign"}, mapping=spec)
    assert cmap.target("Channel") == "campaign"


@pytest.mark.parametrize("text,line,fragment", [
    ("colums:\n  A: email\n", 1, "unknown key 'colums' — did you mean 'columns'"),
    ("columns:\n  A: email\n  B: emial\n", 3, "did you mean 'email'"),
    ("columns:\n  A:\n    field: email\n    valeus: {}\n", 4, "unknown key 'valeus'"),
    ("columns:\n  A:\n    format: x\n", 3, "no field given"),
    ("columns:\n  A:\n", 2, "no field given"),
    ("defaults: {budget: 1}\n", 1, "unknown field in defaults 'budget'"),
    ("match: [email, fone]\n", 1, "unknown match key 'fone'"),
    ("columns: [a, b]\n", 1, "columns must be a mapping"),
    ("columns:\n  A: [email]\n", 2, "must be a field name or a mapping"),
    ("columns: {A: email\n", 2, "invalid YAML"),
    ("- a\n- b\n", 1, "must be a mapping"),
])
def test_mapping_file_errors(tmp_path, text, line, fragment):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(UsageError) as e:
        load_mapping(str(p))
    assert fragment in e.value.message
    assert e.value.file == str(p) and e.value.line == line


def test_mapping_file_missing_and_empty(tmp_path):
    with pytest.raises(InputError):
        load_mapping(str(tmp_path / "nope.yaml"))
    p = tmp_path / "empty.yaml"
    p.write_text("# nothing\n")
    assert load_mapping(str(p)) == MappingSpec(path=str(p))


def test_yaml_is_loaded_safely(tmp_path):
    p = tmp_path / "evil.yaml"
    p.write_text("columns: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(UsageError):
        load_mapping(str(p))
