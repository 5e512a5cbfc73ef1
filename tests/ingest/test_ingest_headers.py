"""Header mapping: aliases of the common CRMs, overrides, mapping files, attributes."""
from __future__ import annotations

import pytest

from leadctl.errors import InputError, UsageError
from leadctl.ingest.headers import (
    ALIASES,
    FIELDS,
    IDENTITY_FIELDS,
    ColumnMap,
    ColumnSpec,
    MappingSpec,
    build_column_map,
    builtin_aliases,
    canonical_key,
    check_plan,
    is_known_header,
    load_mapping,
    parse_map_option,
    snake_case,
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
        "HasOptedOutOfEmail": "consent_email",
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


def map_without_flags(expected: dict[str, str]) -> ColumnMap:
    """The column map of `expected`'s headers, checked to give `expected`'s targets with no `--map`."""
    cmap = build_column_map(list(expected))
    assert {h: cmap.target(h) for h in expected} == expected
    return cmap


@pytest.mark.parametrize("system", sorted(EXPORTS))
def test_exports_map_without_flags(system):
    map_without_flags(EXPORTS[system])


@pytest.mark.parametrize("header", ["E-mail", "Email Address", "email", "EMAIL", "Mail", "e_mail"])
def test_email_spellings(header):
    assert build_column_map([header]).target(header) == "email"


def test_alias_targets_are_fields():
    assert set(ALIASES.values()) <= set(FIELDS)


def test_competing_columns_are_all_candidates_each_with_an_attribute_key():
    cmap = build_column_map(["Email", "E-mail", "Phone", "Mobile"])
    assert [c.target for c in cmap.columns] == ["email", "email", "phone", "phone"]
    assert [c.attribute for c in cmap.columns] == ["email", "e_mail", "phone", "mobile"]
    assert cmap.for_field("phone").header == "Phone"
    assert [c.header for c in cmap.candidates["phone"]] == ["Phone", "Mobile"]


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
    ("Mail=email", ("Mail", "email")), ("a=b=phone", ("a=b", "phone")),
    (" X = attributes.foo ", ("X", "attributes.foo")),
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
    assert won.translate(" y ") == "customer" and won.translate("YES") == "customer"
    assert won.translate("Maybe") == "Maybe"
    assert cmap.column("Signup Date").format == "%d.%m.%Y"


def test_override_beats_mapping():
    spec = MappingSpec(columns={"Channel": ColumnSpec("source")})
    cmap = build_column_map(["Channel"], overrides={"Channel": "campaign"}, mapping=spec)
    assert cmap.target("Channel") == "campaign"


@pytest.mark.parametrize("text,line,fragment", [
    ("colums:\n  A: email\n", 1, "unknown key 'colums' (did you mean 'columns'?)"),
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


# --------------------------------------------------------------------------- aliases as data

def test_aliases_file_lists_fields_with_headers_each_under_one_field():
    table = builtin_aliases()
    assert set(table) <= set(FIELDS) and set(table) >= set(FIELDS) - {"stage_at"} | {"stage_at"}
    seen: dict[str, str] = {}
    for name, headers in table.items():
        assert headers, name
        for header in headers:
            key = canonical_key(header)
            assert seen.setdefault(key, name) == name, (header, name, seen[key])
    assert ALIASES["emailfrom"] == "email" and ALIASES["email"] == "email"
    assert all(ALIASES[canonical_key(name)] == name for name in FIELDS)  # a field's own name maps to it


# Real header sets (vendor documentation and sample exports), each header → where it goes.
REAL_EXPORTS = {
    "hubspot_contacts": {
        "Record ID - Contact": "external_id", "First Name": "first_name", "Last Name": "last_name",
        "Email": "email", "Phone Number": "phone", "Mobile Phone Number": "phone", "Company Name": "company",
        "Associated Company": "company", "Job Title": "title", "Lifecycle Stage": "stage", "Lead Status": "stage",
        "Contact owner": "owner", "Create Date": "created_at", "Original Source": "source",
        "Associated Company IDs": "attributes.associated_company_ids",
    },
    "apollo": {
        "First Name": "first_name", "Last Name": "last_name", "Title": "title", "Company": "company",
        "Company Name for Emails": "attributes.company_name_for_emails", "Email": "email",
        "Email Status": "attributes.email_status", "Seniority": "attributes.seniority",
        "Contact Owner": "owner", "First Phone": "phone", "Work Direct Phone": "phone", "Home Phone": "phone",
        "Mobile Phone": "phone", "Corporate Phone": "phone", "Other Phone": "phone", "Stage": "stage",
        "Account Owner": "owner", "# Employees": "employees", "Industry": "industry",
        "Person Linkedin Url": "linkedin", "Website": "attributes.website",
        "Company Linkedin Url": "attributes.company_linkedin_url", "City": "city", "Country": "country",
        "Company Country": "attributes.company_country", "Annual Revenue": "annual_revenue",
        "Last Contacted": "last_contacted_at", "Apollo Contact Id": "external_id",
        "Apollo Account Id": "attributes.apollo_account_id",
    },
    "linkedin_connections": {
        "First Name": "first_name", "Last Name": "last_name", "URL": "linkedin", "Email Address": "email",
        "Company": "company", "Position": "title", "Connected On": "created_at",
    },
    "salesforce_leads": {
        "Id": "external_id", "Salutation": "attributes.salutation", "FirstName": "first_name",
        "LastName": "last_name", "Title": "title", "Company": "company", "Email": "email", "Phone": "phone",
        "MobilePhone": "phone", "LeadSource": "source", "Status": "stage", "Street": "attributes.street",
        "City": "city", "State": "attributes.state", "PostalCode": "attributes.postalcode", "Country": "country",
        "NumberOfEmployees": "employees", "AnnualRevenue": "annual_revenue", "Industry": "industry",
        "Rating": "attributes.rating", "CreatedDate": "created_at", "OwnerId": "owner",
        "HasOptedOutOfEmail": "consent_email",
    },
    "salesforce_lead_report": {
        "Lead ID": "external_id", "Lead Owner": "owner", "First Name": "first_name", "Last Name": "last_name",
        "Title": "title", "Company / Account": "company", "Email": "email", "Phone": "phone", "Mobile": "phone",
        "Lead Source": "source", "Lead Status": "stage", "Rating": "attributes.rating", "Create Date": "created_at",
    },
    "odoo_crm_lead": {
        "id": "external_id", "name": "full_name", "email_from": "email", "partner_name": "company",
        "contact_name": "full_name", "country_id/id": "country", "country_id": "country", "user_id/id": "owner",
        "user_id": "owner", "phone": "phone", "mobile": "phone", "stage_id": "stage", "source_id": "source",
        "campaign_id": "campaign", "medium_id": "attributes.medium_id", "function": "title",
        "website": "attributes.website", "city": "city", "expected_revenue": "attributes.expected_revenue",
        "create_date": "created_at",
    },
    "pipedrive": {
        "Person - Name": "full_name", "Person - Email": "email", "Email - Work": "email", "Email - Home": "email",
        "Phone - Work": "phone", "Phone - Mobile": "phone", "Organization - Name": "company",
        "Lead - Title": "attributes.lead_title", "Lead - Source": "source", "Person - Job title": "title",
        "Deal - Title": "attributes.deal_title", "Deal - Owner": "owner",
    },
    "facebook_lead_ads": {
        "id": "external_id", "created_time": "created_at", "ad_id": "attributes.ad_id",
        "ad_name": "attributes.ad_name", "campaign_name": "campaign", "form_name": "attributes.form_name",
        "platform": "attributes.platform", "full_name": "full_name", "email": "email", "phone_number": "phone",
        "job_title": "title", "company_name": "company", "city": "city", "country": "country",
    },
    "zoho_leads": {
        "Record Id": "external_id", "Lead Owner": "owner", "Company": "company", "First Name": "first_name",
        "Last Name": "last_name", "Designation": "title", "Email": "email", "Phone": "phone", "Mobile": "phone",
        "Lead Source": "source", "Lead Status": "stage", "No. of Employees": "employees",
        "Secondary Email": "email", "Email Opt Out": "consent_email", "Created Time": "created_at",
    },
    "datablist_leads": {
        "Index": "attributes.index", "Account Id": "attributes.account_id", "Lead Owner": "owner",
        "First Name": "first_name", "Last Name": "last_name", "Company": "company", "Phone 1": "phone",
        "Phone 2": "phone", "Email 1": "email", "Email 2": "email", "Website": "attributes.website",
        "Source": "source", "Deal Stage": "stage", "Notes": "attributes.notes",
    },
    "french": {
        "Prénom": "first_name", "Nom": "last_name", "E-mail": "email", "Téléphone": "phone",
        "Entreprise": "company", "Société": "company", "Poste": "title", "Fonction": "title",
        "Effectifs": "employees", "Chiffre d'affaires": "annual_revenue", "Statut": "stage", "Pays": "country",
        "Ville": "city", "Secteur d'activité": "industry", "Date de création": "created_at",
    },
    "german": {
        "Vorname": "first_name", "Nachname": "last_name", "E-Mail-Adresse": "email", "Telefon": "phone",
        "Firma": "company", "Position": "title", "Mitarbeiter": "employees", "Umsatz": "annual_revenue",
        "Land": "country", "Stadt": "city", "Branche": "industry", "Quelle": "source",
    },
    "spanish": {
        "Nombre": "first_name", "Apellido(s)": "last_name", "Correo electrónico": "email", "Teléfono": "phone",
        "Empresa": "company", "Cargo": "title", "Empleados": "employees", "País": "country", "Ciudad": "city",
    },
    "portuguese": {
        "Nome": "first_name", "Sobrenome": "last_name", "E-mail": "email", "Telefone": "phone",
        "Empresa": "company", "Cargo": "title", "Faturamento": "annual_revenue", "Cidade": "city",
    },
    "italian": {
        "Nome": "first_name", "Cognome": "last_name", "Indirizzo email": "email", "Telefono": "phone",
        "Azienda": "company", "Ruolo": "title", "Fatturato": "annual_revenue", "Città": "city",
    },
    "dutch": {
        "Voornaam": "first_name", "Achternaam": "last_name", "E-mailadres": "email",
        "Telefoonnummer": "phone", "Bedrijf": "company", "Functie": "title", "Omzet": "annual_revenue",
        "Plaats": "city",
    },
    "mailchimp_audience": {
        "Email Address": "email", "First Name": "first_name", "Last Name": "last_name",
        "Address": "attributes.address", "Phone Number": "phone", "Birthday": "attributes.birthday",
        "MEMBER_RATING": "attributes.member_rating", "OPTIN_TIME": "created_at", "CONFIRM_TIME": "created_at",
        "CC": "country", "REGION": "attributes.region", "LAST_CHANGED": "attributes.last_changed",
        "LEID": "attributes.leid", "EUID": "attributes.euid", "NOTES": "attributes.notes", "TAGS": "attributes.tags",
    },
    "google_contacts": {
        "First Name": "first_name", "Last Name": "last_name", "Name Prefix": "attributes.name_prefix",
        "Nickname": "attributes.nickname", "File As": "attributes.file_as", "Organization Name": "company",
        "Organization Title": "title", "Labels": "attributes.labels", "E-mail 1 - Label": "attributes.e_mail_1_label",
        "E-mail 1 - Value": "email", "E-mail 2 - Value": "email", "Phone 1 - Value": "phone",
        "Phone 2 - Value": "phone", "Address 1 - City": "city", "Address 1 - Country": "country",
    },
    "google_contacts_older": {
        "Name": "full_name", "Given Name": "first_name", "Family Name": "last_name",
        "Group Membership": "attributes.group_membership", "E-mail 1 - Value": "email", "Phone 1 - Value": "phone",
        "Organization 1 - Name": "company", "Organization 1 - Title": "title",
    },
    "outlook_contacts": {
        "Title": "title", "First Name": "first_name", "Last Name": "last_name", "Company": "company",
        "Job Title": "title", "Business City": "city", "Business Country/Region": "country",
        "Home Country/Region": "country", "Business Phone": "phone", "Company Main Phone": "phone",
        "Mobile Phone": "phone", "Primary Phone": "phone", "E-mail Address": "email",
        "E-mail Display Name": "attributes.e_mail_display_name", "E-mail 2 Address": "email",
    },
    "eventbrite_attendees": {
        "Order #": "attributes.order", "Order Date": "created_at", "First Name": "first_name",
        "Last Name": "last_name", "Email": "email", "Attendee #": "attributes.attendee",
        "Attendee Status": "attributes.attendee_status", "Home City": "city", "Home Country": "country",
        "Cell Phone": "phone", "Job Title": "title", "Company": "company", "Work Phone": "phone",
    },
    "calendly_invitees": {
        "Invitee Name": "full_name", "Invitee First Name": "first_name", "Invitee Last Name": "last_name",
        "Invitee Email": "email", "Text Reminder Number": "phone", "Event Type Name": "attributes.event_type_name",
        "Event Created Date & Time": "created_at", "Canceled": "attributes.canceled",
        "UTM Campaign": "campaign", "UTM Source": "source", "UTM Medium": "attributes.utm_medium",
    },
    "brevo_contacts": {
        "EMAIL": "email", "FIRSTNAME": "first_name", "LASTNAME": "last_name", "SMS": "phone",
        "LANDLINE_NUMBER": "phone", "EXT_ID": "external_id", "JOB_TITLE": "title",
    },
    "brevo_contacts_fr": {"EMAIL": "email", "PRENOM": "first_name", "NOM": "last_name", "SMS": "phone"},
    "salesforce_contacts": {
        "Id": "external_id", "AccountId": "attributes.accountid", "Salutation": "attributes.salutation",
        "FirstName": "first_name", "LastName": "last_name", "Title": "title", "Email": "email", "Phone": "phone",
        "MobilePhone": "phone", "MailingCity": "city", "MailingCountry": "country", "LeadSource": "source",
        "OwnerId": "owner", "CreatedDate": "created_at",
    },
    "pipedrive_persons": {
        "Person - ID": "external_id", "Person - Name": "full_name", "Person - Organization": "company",
        "Person - Email": "email", "Person - Phone": "phone", "Person - Owner": "owner",
        "Person - Label": "attributes.person_label",
    },
    "close_contacts": {
        "Lead Name": "full_name", "Contact Name": "full_name", "Contact Emails": "email", "Contact Phones": "phone",
    },
    "freshsales_contacts": {
        "First name": "first_name", "Last name": "last_name", "Emails": "email", "Job title": "title",
        "Sales owner": "owner", "Lead source": "source", "Created at": "created_at",
    },
    "form_responses": {
        "What's your name?": "full_name", "What's your email?": "email", "What's your phone number?": "phone",
        "What's your company name?": "company", "Submitted At": "created_at",
    },
}


@pytest.mark.parametrize("system", sorted(REAL_EXPORTS))
def test_real_header_sets_map_without_flags(system):
    cmap = map_without_flags(REAL_EXPORTS[system])
    assert any(f in cmap.candidates for f in IDENTITY_FIELDS)


@pytest.mark.parametrize("headers,field,order", [
    # each system's own header before loose synonyms, whatever the file order
    (["Lead Origin", "Lead Source"], "source", ["Lead Source", "Lead Origin"]),
    (["Channel", "Origin", "utm_source", "Source"], "source", ["Source", "utm_source", "Origin", "Channel"]),
    (["Mobile Phone", "Corporate Phone", "Work Direct Phone", "Home Phone"], "phone",
     ["Work Direct Phone", "Corporate Phone", "Mobile Phone", "Home Phone"]),
    (["Mobile", "Work Phone", "Phone"], "phone", ["Phone", "Work Phone", "Mobile"]),
    (["Associated Company", "Company Name", "Company name"], "company",
     ["Company Name", "Company name", "Associated Company"]),
    (["Lead Status", "Lifecycle Stage"], "stage", ["Lifecycle Stage", "Lead Status"]),
    (["URL", "Person Linkedin Url"], "linkedin", ["Person Linkedin Url", "URL"]),
    (["name", "contact_name"], "full_name", ["contact_name", "name"]),
    (["Lead Name", "Contact Name"], "full_name", ["Contact Name", "Lead Name"]),
    (["country_id/id", "country_id"], "country", ["country_id", "country_id/id"]),
    (["Email 2", "Email 1"], "email", ["Email 1", "Email 2"]),
])
def test_candidates_are_ranked_by_the_alias_list(headers, field, order):
    cmap = build_column_map(headers)
    assert [c.header for c in cmap.candidates[field]] == order
    assert cmap.for_field(field).header == order[0]


def test_explicit_columns_claim_their_field_in_the_order_given():
    cmap = build_column_map(["Email", "Mail perso", "Mail pro"],
                            overrides={"Mail pro": "email", "Mail perso": "email"})
    assert [c.header for c in cmap.candidates["email"]] == ["Mail pro", "Mail perso"]
    assert cmap.target("Email") == "attributes.email"  # an alias never joins an explicitly named field
    spec = MappingSpec(columns={"Canal": ColumnSpec("source"), "Origine": ColumnSpec("source")})
    cmap = build_column_map(["Lead Source", "Origine", "Canal"], mapping=spec)
    assert [c.header for c in cmap.candidates["source"]] == ["Canal", "Origine"]
    assert cmap.target("Lead Source") == "attributes.lead_source"


def test_attribute_columns_take_their_keys_before_field_candidates():
    cmap = build_column_map(["Email", "Notes", "Notes_2"], overrides={"Notes": "attributes.email"})
    assert [(c.target, c.attribute) for c in cmap.columns] == [
        ("email", "email_2"), ("attributes.email", "email"), ("attributes.notes_2", "notes_2")]


def test_plan_lists_fields_in_field_order_with_attributes():
    cmap = build_column_map(["Budget", "Lead Origin", "Email", "Lead Source", "%%"])
    assert cmap.plan() == {"fields": {"email": ["Email"], "source": ["Lead Source", "Lead Origin"]},
                           "attributes": {"Budget": "budget"}, "ignored": ["%%"]}


def test_is_known_header():
    assert is_known_header("E-Mail-Adresse") and is_known_header("email") and is_known_header("Connected On")
    assert not is_known_header("Notes:") and not is_known_header("Budget")


def test_mapping_file_aliases_add_candidates_after_the_built_in_ones(tmp_path):
    p = tmp_path / "map.yaml"
    p.write_text("aliases:\n  email: [Courriel pro, Mail perso]\n  campaign: Channel\n"
                 "columns:\n  Won: stage\n")
    spec = load_mapping(str(p))
    assert spec.aliases == {"email": ("Courriel pro", "Mail perso"), "campaign": ("Channel",)}
    cmap = build_column_map(["Mail perso", "Courriel pro", "E-mail", "Channel", "Won"], mapping=spec)
    assert [c.header for c in cmap.candidates["email"]] == ["E-mail", "Courriel pro", "Mail perso"]
    assert cmap.target("Channel") == "campaign"  # the user's word beats the built-in `Channel → source`
    assert cmap.target("Won") == "stage"
    assert build_column_map(["Channel"]).target("Channel") == "source"  # built-ins untouched


@pytest.mark.parametrize("text,line,fragment", [
    ("aliases:\n  emial: [Mail]\n", 2, "did you mean 'email'"),
    ("aliases:\n  attributes.x: [Mail]\n", 2, "aliases name lead fields"),
    ("aliases:\n  email: []\n", 2, "no header given"),
    ("aliases: [email]\n", 1, "aliases must be a mapping"),
])
def test_mapping_file_alias_errors(tmp_path, text, line, fragment):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(UsageError) as e:
        load_mapping(str(p))
    assert fragment in e.value.message and e.value.line == line


def test_check_plan_refuses_a_file_without_an_identity_column():
    headers = ["First Name", "Last Name", "Company"]
    with pytest.raises(InputError) as e:
        check_plan(build_column_map(headers), headers, file="people.csv")
    assert e.value.file == "people.csv"
    assert "First Name, Last Name, Company" in e.value.message and "e-mail" in e.value.message
    assert '--map "Column=email"' in e.value.hint
    check_plan(build_column_map(headers, overrides={"Company": "external_id"}), headers, file="x")  # fine
    check_plan(build_column_map(["URL", "Name"]), ["URL", "Name"], file="x")  # a profile URL is an identity
    check_plan(build_column_map([]), [], file="x")  # no columns at all: no rows either


def test_check_plan_refuses_a_map_of_an_absent_column():
    headers = ["E-mail", "Name", "Budget"]
    cmap = build_column_map(headers, overrides={"Emial": "email"})
    assert cmap.missing_map == ["Emial"]
    with pytest.raises(UsageError) as e:
        check_plan(cmap, headers, file="x.csv")
    assert e.value.exit_code == 2 and "'Emial'" in e.value.message and "'E-mail'" in e.value.message
    cmap = build_column_map(headers, overrides={"Zzz": "email"})
    with pytest.raises(UsageError) as e:
        check_plan(cmap, headers, file="x.csv")
    assert "its columns: E-mail, Name, Budget" in e.value.message
    check_plan(build_column_map(headers, overrides={"e-mail": "email"}), headers, file="x.csv")  # case-blind
