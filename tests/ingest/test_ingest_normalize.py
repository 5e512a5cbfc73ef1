"""Normalisers: table-driven cases, fast paths agreeing with the libraries, and properties
(every input either gives a value or BadValue, and outputs are fixed points)."""
from __future__ import annotations

import random
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from leadctl.ingest import normalize as n
from leadctl.ingest.normalize import (
    BadValue,
    clean_text,
    detect_dayfirst,
    email_domain,
    is_missing,
    normalize_country,
    normalize_email,
    normalize_phone,
    parse_bool,
    parse_datetime,
    parse_int,
    parse_number,
    split_full_name,
)

PROPS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("value", [None, "", "  ", "Select", "N/A", "na", "-", "--", "NULL", "none", "nil",
                                   "#N/A", "(blank)", "Not Provided", "?", " n/a "])
def test_missing(value):
    assert is_missing(value)


@pytest.mark.parametrize("value", ["unknown", "0", "no", "x", "Selected", "None of these"])
def test_not_missing(value):
    assert not is_missing(value)


# ------------------------------------------------------------------ e-mail

@pytest.mark.parametrize("raw,expected", [
    (" Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
    ("ADA.LOVELACE1@ACME.EXAMPLE", "ada.lovelace1@acme.example"),
    ("mailto:ada@example.com", "ada@example.com"),
    ("<ada@example.com>", "ada@example.com"),
    ("o'brien+tag@sub.example.co.uk", "o'brien+tag@sub.example.co.uk"),
    ("ada@MÜNCHEN.de", "ada@münchen.de"),
    ("ada@xn--mnchen-3ya.de", "ada@münchen.de"),
    ("Zoë@example.com", "zoë@example.com"),
    ("N/A", None), (None, None),
])
def test_normalize_email(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["x at y.com", "ada@", "@example.com", "ada@example", "a..b@example.com",
                                 "ada@example.test", "ada@localhost", "ada@@example.com", "ada@exa mple.com",
                                 "Ada <ada@example.com>", ".ada@example.com", "ada@example.123"])
def test_bad_email(raw):
    with pytest.raises(BadValue, match="invalid e-mail"):
        normalize_email(raw)


def test_email_domain():
    assert email_domain("ada@example.com") == "example.com"
    assert email_domain(None) is None and email_domain("nope") is None


def _validator_verdict(address: str):
    from email_validator import EmailNotValidError, validate_email
    try:
        info = validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return None
    return (info.local_part + "@" + info.domain).lower()


LOCAL = st.text(alphabet="abcxyz0189._+-'!#", min_size=1, max_size=20)
DOMAIN = st.lists(st.text(alphabet="abz09-", min_size=1, max_size=8), min_size=1, max_size=3).map(".".join)
TLD = st.sampled_from(["com", "io", "example", "test", "c0m", "co.uk", "local", "x"])


@PROPS
@given(LOCAL, DOMAIN, TLD)
def test_email_fast_path_agrees_with_email_validator(local, domain, tld):
    address = f"{local}@{domain}.{tld}"
    expected = _validator_verdict(address)
    try:
        got = normalize_email(address)
    except BadValue:
        got = None
    assert got == expected


# ------------------------------------------------------------------ phone

@pytest.mark.parametrize("raw,region,expected", [
    ("(415) 555-0123", "US", "+14155550123"),
    ("415.555.0123", "US", "+14155550123"),
    ("415-555-0123", "CA", "+14155550123"),
    ("+1 415-555-0123", None, "+14155550123"),
    ("1 (415) 555-0123", "US", "+14155550123"),
    ("+1 415-555-0123", "GB", "+14155550123"),
    ("+44 7911 123456", None, "+447911123456"),
    ("+447911123456", "DE", "+447911123456"),
    ("0044 7911 123456", None, "+447911123456"),
    ("07911 123456", "GB", "+447911123456"),
    ("+44 (0)20 7946 0958", None, "+442079460958"),
    ("030 1234567", "de", "+49301234567"),
    ("+49 30 1234567", None, "+49301234567"),
    ("+91 123 456 789", None, "+91123456789"),
    ("+55 203 778 892", None, "+55203778892"),
    ("+39 06 1234 5678", None, "+390612345678"),
    ("(415) 555-0123 x123", "US", "+14155550123"),
    ("+1 415 555 0123 ext. 12", None, "+14155550123"),
    ("", "US", None), ("N/A", "US", None),
])
def test_normalize_phone(raw, region, expected):
    assert normalize_phone(raw, region) == expected


@pytest.mark.parametrize("raw,region", [("hello", "US"), ("12", "US"), ("4155550123", None),
                                        ("+999 123", None), ("+1 415 555", None), ("555-0123-99999999999", "US")])
def test_bad_phone(raw, region):
    with pytest.raises(BadValue, match="phone") as e:
        normalize_phone(raw, region)
    # plain words, never libphonenumber's own ("Missing or invalid default region", "The string supplied…")
    reason = e.value.reason
    assert "default region" not in reason and "supplied" not in reason and "invalid" not in reason


@pytest.mark.parametrize("raw,region,reason", [
    ("0612345678", None, "phone '0612345678' has no country code"),
    ("+33 12", None, "phone '+33 12' has too few digits for a +33 number"),
    ("12", "US", "phone '12' has too few digits for a US number"),
    ("hello", "US", "'hello' is not a phone number"),
    ("+999 123", None, "phone '+999 123' starts with an unknown country code"),
])
def test_phone_reasons_are_plain_words(raw, region, reason):
    with pytest.raises(BadValue) as e:
        normalize_phone(raw, region)
    assert e.value.reason == reason
    assert isinstance(e.value, n.NoRegion) == (region is None and not raw.startswith("+"))


def test_phone_evidence_helpers():
    assert n.calling_code("+33 1 69 91 42 13") == 33 and n.calling_code("0044 7911 123456") == 44
    assert n.calling_code("(415) 555-0123") is None and n.calling_code("+999 1") is None
    # a number written with its country code but without "+": read only when valid that way
    assert n.bare_international("33169914213") == "+33169914213"
    assert n.bare_international("33 1 69 91 42 13", 33) == "+33169914213"
    assert n.bare_international("33169914213", 44) is None
    assert n.bare_international("4155550123") is None and n.bare_international("0612345678") is None
    assert n.region_of_calling_code(33) == "FR" and n.region_of_calling_code(1) == "US"
    assert n.region_of_calling_code(800) is None
    assert n.is_international("(+33) 6 12 34 56 78") and not n.is_international("06 12 34 56 78")


@pytest.mark.parametrize("raw,expected", [
    ("acme.fr", "FR"), ("x.co.uk", "GB"), ("acme.com", None), ("startup.io", None), ("brand.co", None),
    ("https://www.acme.de/about", "DE"), ("ann@acme.es", "ES"), ("acme", None), ("", None), (None, None),
    ("shop.com.mx", "MX"), ("agency.eu", None),
])
def test_region_of_domain(raw, expected):
    assert n.region_of_domain(raw) == expected


def _gen_phone(rng: random.Random, cc: str) -> str:
    """The phone() of gen_leads.py: every format the generator produces."""
    digits = "".join(rng.choice("0123456789") for _ in range(9))
    style = rng.random()
    if cc == "+1":
        digits = "2" + digits
        if style < 0.4:
            return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"
        if style < 0.7:
            return f"+1 {digits[:3]}-{digits[3:6]}-{digits[6:]}"
        return f"{digits[:3]}.{digits[3:6]}.{digits[6:]}"
    if style < 0.5:
        return f"{cc} {digits[:3]} {digits[3:6]} {digits[6:]}"
    return f"{cc}{digits}"


GEN_COUNTRIES = [("US", "+1"), ("GB", "+44"), ("DE", "+49"), ("FR", "+33"), ("IN", "+91"), ("BR", "+55"),
                 ("AU", "+61"), ("CA", "+1")]


def _slow(raw: str, region):
    try:
        return n._phone_slow.__wrapped__(raw.strip(), region)
    except BadValue:
        return None


def test_phone_fast_path_agrees_with_phonenumbers_on_generated_numbers():
    rng = random.Random(7)
    for _ in range(3000):
        iso, cc = rng.choice(GEN_COUNTRIES)
        raw = _gen_phone(rng, cc)
        try:
            got = normalize_phone(raw, iso)
        except BadValue:
            got = None
        assert got == _slow(raw, iso), raw
        assert got is not None, raw  # every generated format is accepted


@PROPS
@given(st.text(alphabet="+0123456789 ()-.", min_size=1, max_size=20),
       st.sampled_from([None, "US", "GB", "DE", "IT", "BR"]))
def test_phone_fast_path_agrees_with_phonenumbers(raw, region):
    try:
        got = normalize_phone(raw, region)
    except BadValue:
        got = None
    if not is_missing(raw):
        assert got == _slow(raw, region)


# ------------------------------------------------------------------ country

@pytest.mark.parametrize("raw,expected", [
    ("US", "US"), ("us", "US"), ("USA", "US"), ("United States", "US"), ("united states of america", "US"),
    ("UK", "GB"), ("Great Britain", "GB"), ("England", "GB"), ("United Kingdom", "GB"), ("GBR", "GB"),
    ("Deutschland", "DE"), ("Germany", "DE"), ("DEU", "DE"), ("Brasil", "BR"), ("Brazil", "BR"),
    ("Holland", "NL"), ("Netherlands", "NL"), ("Côte d'Ivoire", "CI"), ("Cote d'Ivoire", "CI"),
    ("Korea, Republic of", "KR"), ("South Korea", "KR"), ("Viet Nam", "VN"), ("India", "IN"), ("Kenya", "KE"),
    ("NA", "NA"), ("n/a", None), ("", None), (None, None),
    # Odoo's country_id/id values, and names in the languages headers are read in
    ("base.mx", "MX"), ("base.fr", "FR"), ("Mexico", "MX"), ("México", "MX"), ("Allemagne", "DE"),
    ("États-Unis", "US"), ("Royaume-Uni", "GB"), ("Estados Unidos", "US"), ("Alemania", "DE"), ("Espagne", "ES"),
    ("Brasilien", "BR"), ("Paesi Bassi", "NL"), ("Duitsland", "DE"), ("Suisse", "CH"),
])
def test_normalize_country(raw, expected):
    assert normalize_country(raw) == expected


@pytest.mark.parametrize("raw", ["Atlantis", "EU", "XX", "Earth", "base.xx", "base.company"])
def test_bad_country(raw):
    with pytest.raises(BadValue, match="unknown country"):
        normalize_country(raw)


# ------------------------------------------------------------------ dates

D = datetime


@pytest.mark.parametrize("raw,dayfirst,expected", [
    ("2025-01-03 12:01:00", None, D(2025, 1, 3, 12, 1)),
    ("2025-01-03", None, D(2025, 1, 3)),
    ("2025-01-03T12:01:00Z", None, D(2025, 1, 3, 12, 1)),
    ("2025-01-03T12:01:00.250Z", None, D(2025, 1, 3, 12, 1, 0, 250000)),
    ("2025-01-03T12:01:00+02:00", None, D(2025, 1, 3, 10, 1)),
    ("2025-01-03T00:30:00-0130", None, D(2025, 1, 3, 2, 0)),
    ("2025-01-03 12:01:00 UTC", None, D(2025, 1, 3, 12, 1)),
    ("2025/01/03", None, D(2025, 1, 3)),
    ("1/3/2025", None, D(2025, 1, 3)),
    ("01/03/2025", False, D(2025, 1, 3)),
    ("01/03/2025", True, D(2025, 3, 1)),
    ("13/03/2025", None, D(2025, 3, 13)),
    ("3.1.2025", None, D(2025, 1, 3)),
    ("03.01.2025 14:05", None, D(2025, 1, 3, 14, 5)),
    ("1/3/25", None, D(2025, 1, 3)),
    ("15 Apr 2021", None, D(2021, 4, 15)),
    ("15-Apr-2021", None, D(2021, 4, 15)),
    ("15 April 2021 10:30", None, D(2021, 4, 15, 10, 30)),
    ("Apr 15, 2021 3:04 PM", None, D(2021, 4, 15, 15, 4)),
    ("Apr 15, 2021 12:04 AM", None, D(2021, 4, 15, 0, 4)),
    ("September 5th, 2021", None, D(2021, 9, 5)),
    ("1/3/2025 3:04:05 pm", None, D(2025, 1, 3, 15, 4, 5)),
    ("Thu, 15 Apr 2021 10:00:00 GMT", None, D(2021, 4, 15, 10)),
    ("20210415", None, D(2021, 4, 15)),
    ("", None, None), ("N/A", None, None),
])
def test_parse_datetime(raw, dayfirst, expected):
    assert parse_datetime(raw, dayfirst=dayfirst) == expected


@pytest.mark.parametrize("raw", ["2025-13-45", "2025-02-30", "1850-01-01", "2301-01-01", "May", "12", "yesterday",
                                 "13/13/2025", "2025-01-03 25:00", "2025-01-03T10:00+25:00", "Foo 15, 2021",
                                 "0001-01-01T00:00:00+01:00", "1/3/2025 13:00 PM"])
def test_bad_dates(raw):
    with pytest.raises(BadValue, match="date"):
        parse_datetime(raw)


def test_explicit_dayfirst_is_strict():
    with pytest.raises(BadValue):
        parse_datetime("13/01/2025", dayfirst=False)


def test_explicit_format():
    assert parse_datetime("03.01.2025", fmt="%d.%m.%Y") == D(2025, 1, 3)
    assert parse_datetime("2025-01-03 10:00 +0200", fmt="%Y-%m-%d %H:%M %z") == D(2025, 1, 3, 8)
    with pytest.raises(BadValue, match="expected format"):
        parse_datetime("2025-01-03", fmt="%d.%m.%Y")


@pytest.mark.parametrize("samples,expected", [
    (["1/2/2025", "13/2/2025"], True),
    (["1/2/2025", "2/13/2025"], False),
    (["1/2/2025", "3/4/2025", "", None, "2025-01-01"], None),
    (["10/20/2016", "3/1/2017"], False),
])
def test_detect_dayfirst(samples, expected):
    assert detect_dayfirst(samples) is expected


# ------------------------------------------------------------------ numbers

@pytest.mark.parametrize("raw,expected", [
    ("1200", 1200), ("1,200", 1200), ("1,200,000", 1200000), ("1.200.000", 1200000), ("1.200,50", 1200.5),
    ("1,200.50", 1200.5), ("3,5", 3.5), ("0,500", 0.5), ("3.5", 3.5), ("$3.5M", 3500000), ("10k", 10000),
    ("10K", 10000), ("€1.2m", 1200000), ("2B", 2000000000), ("1.5bn", 1500000000), ("12%", 12),
    ("-5", -5), ("-0", 0), ("-0.0", 0), ("(1,200)", -1200), ("1.1k", 1100), ("USD 1,000", 1000),
    ("1 000 000", 1000000), ("1'000", 1000), ("500 €", 500), ("1e3", 1000), ("1.5e-05", 1.5e-05),
    ("  42 ", 42), ("", None), ("N/A", None),
])
def test_parse_number(raw, expected):
    got = parse_number(raw)
    assert got == expected and type(got) is type(expected)


@pytest.mark.parametrize("raw", ["lots", "1e309", "NaN", "inf", "-inf", "1..2.3x", "$", "12 apples", "1,2,3,4x"])
def test_bad_number(raw):
    with pytest.raises(BadValue):
        parse_number(raw)


@pytest.mark.parametrize("raw,expected", [
    ("250", 250), ("1,000", 1000), ("51-200", 51), ("1,001 - 5,000", 1001), ("10 to 50", 10), ("500+", 500),
    ("10k", 10000), ("0", 0), ("", None),
])
def test_parse_int(raw, expected):
    assert parse_int(raw) == expected


@pytest.mark.parametrize("raw", ["lots", "-5", "2.5", "200-51", "many-more"])
def test_bad_int(raw):
    with pytest.raises(BadValue):
        parse_int(raw)


@pytest.mark.parametrize("raw,expected", [
    ("yes", True), ("Y", True), ("TRUE", True), ("1", True), ("x", True), ("X", True), ("opted out", True),
    ("no", False), ("n", False), ("false", False), ("0", False), ("", None), ("N/A", None),
])
def test_parse_bool(raw, expected):
    assert parse_bool(raw) is expected


def test_bad_bool():
    with pytest.raises(BadValue):
        parse_bool("maybe")


# ------------------------------------------------------------------ text and names

@pytest.mark.parametrize("raw,expected", [
    ("  Acme   Inc ", "Acme Inc"), ("a\tb", "a b"), ("line one \r\n  line two", "line one\nline two"),
    ("A\x00c\x07me", "Acme"), ("Cafe\u0301", "Café"), ("\u200bzero", "zero"), ("Select", None), (None, None),
    ('Said "call me, after 5pm"', 'Said "call me, after 5pm"'),
])
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


@pytest.mark.parametrize("raw,expected", [
    ("Ada Lovelace", ("Ada", "Lovelace")), ("Lovelace, Ada", ("Ada", "Lovelace")), ("Ada", ("Ada", None)),
    ("Dr. Ada King Lovelace", ("Ada King", "Lovelace")), ("  Mr  Alan   Turing Jr. ", ("Alan", "Turing")),
    ("Lovelace, Dr. Ada", ("Ada", "Lovelace")), ("Guido van Rossum", ("Guido", "van Rossum")), ("", (None, None)),
    ("Jean Pierre Muroni", ("Jean Pierre", "Muroni")), ("Mr HAIDER", (None, "HAIDER")),
])
def test_split_full_name(raw, expected):
    assert split_full_name(raw) == expected


# ------------------------------------------------------------------ properties

TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="0123456789 .,-/:+$€%kKmMbB()eE'", max_size=20),
    st.sampled_from(["N/A", "1,200", "$3.5M", "Ada@Example.com", "2025-01-03", "4/15/2021", "Apr 15, 2021",
                     "+44 7911 123456", "(415) 555-0123", "United States", "İ@x.com", "ß@straße.de"]),
)


def _fixed_point(fn, raw, again=lambda out: str(out)):
    try:
        out = fn(raw)
    except BadValue:
        return
    if out is not None:
        assert fn(again(out)) == out


@PROPS
@given(TEXT)
def test_email_total_and_idempotent(raw):
    _fixed_point(normalize_email, raw)


@PROPS
@given(TEXT, st.sampled_from([None, "US", "GB", "DE", "FR", "IN", "BR"]))
def test_phone_total_and_idempotent(raw, region):
    _fixed_point(lambda s: normalize_phone(s, region), raw)


@PROPS
@given(TEXT)
def test_country_total_and_idempotent(raw):
    _fixed_point(normalize_country, raw)


@PROPS
@given(TEXT, st.sampled_from([None, True, False]))
def test_dates_total_and_idempotent(raw, dayfirst):
    _fixed_point(lambda s: parse_datetime(s, dayfirst=dayfirst), raw, again=lambda d: d.isoformat())


@PROPS
@given(st.datetimes(min_value=D(1900, 1, 2), max_value=D(2199, 12, 30)))
def test_isoformat_round_trip(d):
    assert parse_datetime(d.isoformat()) == d
    assert parse_datetime(d.isoformat(sep=" ") + "Z") == d


@PROPS
@given(TEXT)
def test_numbers_total_and_idempotent(raw):
    _fixed_point(parse_number, raw)
    _fixed_point(parse_int, raw)


@PROPS
@given(st.one_of(st.integers(-10**15, 10**15),
                 st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300)))
def test_number_round_trip(x):
    got = parse_number(str(x))
    assert float(got) == x and (isinstance(got, int) or not float(x).is_integer() or abs(x) >= 1e18)


@PROPS
@given(TEXT)
def test_bool_and_text_total_and_idempotent(raw):
    _fixed_point(parse_bool, raw)
    _fixed_point(clean_text, raw, again=lambda s: s)
    try:
        split_full_name(raw)
    except BadValue:  # pragma: no cover - split_full_name never rejects
        pytest.fail("split_full_name raised")
