"""Value normalisers for imported lead fields: pure, fast, idempotent.

Every normaliser takes the raw cell (a string or None) and returns the normalised
value, or None when the cell is missing (see `is_missing`), or raises `BadValue`
with a one-line reason when the value cannot be read. The importer turns a
`BadValue` into a row warning or reject; nothing else escapes these functions.
Normalising an output again gives the same output (`normalize_email(x)` ==
`normalize_email(normalize_email(x))`; for dates, `parse_datetime(d.isoformat()) == d`).

The import path calls these once per cell for up to millions of rows, so the
common shapes (ordinary e-mail addresses, `+CC …` and North-American phone
numbers, ISO and `M/D/YYYY` dates) take hand-written fast paths, and anything
that repeats (e-mail domains, countries, unusual phone strings) is cached.
The fast paths give the same verdict as the slow libraries (tests check this).

    >>> normalize_email(" Ada.Lovelace@Example.COM ")
    'ada.lovelace@example.com'
    >>> normalize_phone("(415) 555-0123", "US")
    '+14155550123'
    >>> parse_number("$3.5M")
    3500000
"""
from __future__ import annotations

import re
import unicodedata
import warnings
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import NamedTuple

from leadctl.words import FALSE_WORDS, TRUE_WORDS

__all__ = [
    "BadValue", "is_missing", "normalize_email", "email_domain", "normalize_phone",
    "normalize_country", "parse_datetime", "detect_dayfirst", "parse_number", "parse_int",
    "parse_bool", "clean_text", "split_full_name", "parse_name", "PersonName", "not_a_name", "is_vendor_test",
    "NoRegion", "is_international", "calling_code", "bare_international", "region_of_domain", "ambiguous_date",
]


class BadValue(ValueError):
    """A cell that cannot be read; `reason` is one line for the rejects file."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def _show(s: str, limit: int = 40) -> str:
    """The value as quoted in a reason, shortened so a 5 MB cell does not flood a report."""
    s = s.strip()
    return repr(s if len(s) <= limit else s[:limit] + "…")


# --------------------------------------------------------------------------- missing

# "unknown" is deliberately absent: it is a real value in some exports (Olist `origin`).
_PLACEHOLDERS = frozenset({
    "select", "n/a", "na", "-", "--", "---", "null", "none", "nil", "#n/a", "(blank)",
    "not provided", "?", "n.a.", "(none)", "<none>", "[blank]",
})
_PLACEHOLDER_FIRST = frozenset(c for p in _PLACEHOLDERS for c in (p[0], p[0].upper()))


def is_missing(s: str | None) -> bool:
    """True for None, blank text and placeholders such as `Select`, `N/A`, `-`, `null`.

    >>> is_missing(" N/A "), is_missing("unknown")
    (True, False)
    """
    if s is None:
        return True
    t = s.strip()
    if not t:
        return True
    return t[0] in _PLACEHOLDER_FIRST and len(t) <= 12 and t.lower() in _PLACEHOLDERS


# --------------------------------------------------------------------------- e-mail

# A safe subset of addresses (ASCII dot-atom local part): anything it accepts, email_validator
# accepts too, so such addresses need only the (cached) domain check.
_EMAIL_FAST = re.compile(r"([a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*)"
                         r"@([a-z0-9.-]+\.[a-z0-9-]+)\Z")  # ASCII only: the domain check is cached
_CHEAP_SHAPE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")


@lru_cache(maxsize=65536)
def _domain(domain: str) -> str:
    """The normalised (unicode, lower-case) domain, or BadValue; cached, domains repeat."""
    from email_validator import EmailNotValidError, validate_email

    try:
        info = validate_email("x@" + domain, check_deliverability=False)
    except EmailNotValidError as e:
        raise BadValue(f"invalid e-mail domain {_show(domain)}: {e}") from None
    return unicodedata.normalize("NFC", info.domain.lower())


def _email_slow(s: str) -> str:
    from email_validator import EmailNotValidError, validate_email

    try:
        info = validate_email(s, check_deliverability=False)
    except EmailNotValidError as e:
        raise BadValue(f"invalid e-mail {_show(s)}: {e}") from None
    except Exception as e:  # idna/unicode corner cases inside the validator
        raise BadValue(f"invalid e-mail {_show(s)}: {e}") from None
    local = unicodedata.normalize("NFC", info.local_part.lower())
    return local + "@" + unicodedata.normalize("NFC", info.domain.lower())


def normalize_email(s: str | None) -> str | None:
    """Trimmed, NFC, lower-case e-mail address validated with email_validator (no DNS).

    International domains are kept in Unicode, lower-cased (`a@münchen.de`), never
    punycode, so the value reads as the person typed it; the result is a fixed point.
    `mailto:` prefixes and surrounding `<…>` are removed.
    """
    if is_missing(s):
        return None
    t = s.strip()
    if t[:7].lower() == "mailto:":
        t = t[7:].strip()
    if t[:1] == "<" and t[-1:] == ">":
        t = t[1:-1].strip()
    if not t.isascii():
        t = unicodedata.normalize("NFC", t)
    t = t.lower()
    m = _EMAIL_FAST.match(t)
    if m and len(t) <= 254 and len(m.group(1)) <= 64:
        return m.group(1) + "@" + _domain(m.group(2))
    if not _CHEAP_SHAPE.match(t):
        raise BadValue(f"invalid e-mail {_show(s)}")
    out = _email_slow(t)
    # lower() of a few characters (e.g. 'İ') changes length/shape; settle on a fixed point
    return out if out == t else _email_slow(out)


def email_domain(email: str | None) -> str | None:
    """The part after the last `@` of a normalised address, or None."""
    if not email or "@" not in email:
        return None
    return email.rpartition("@")[2] or None


# --------------------------------------------------------------------------- phone

_PHONE_SEPARATORS = str.maketrans("", "", " \t\u00a0.-/")
_INTL_FAST = re.compile(r"(?:\+|00)\d[\d \u00a0.\-/]{4,22}\Z")
_NANP_FAST = re.compile(r"(?:(\+)?1[ .\-]?)?\(?([2-9]\d\d)\)?[ .\-]?(\d{3})[ .\-]?(\d{4})\Z")


@lru_cache(maxsize=1)
def _calling_codes() -> dict[str, tuple[str, object, frozenset[int]] | None]:
    """Country calling code (as text) → (code, national-prefix regex or None, possible
    national lengths), or None when only the full parser can decide (non-geographic
    codes). phonenumbers' is_possible_number depends only on the code and the length
    of the national number, so the possible lengths are computed once per code."""
    import phonenumbers

    table: dict[str, tuple[str, object, frozenset[int]] | None] = {}
    for cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        region = phonenumbers.region_code_for_country_code(cc)
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region, None) if region != "ZZ" else None
        if meta is None:
            table[str(cc)] = None
            continue
        npfp = meta.national_prefix_for_parsing or meta.national_prefix
        lengths = frozenset(
            n for n in range(1, 18)
            if phonenumbers.is_possible_number(phonenumbers.PhoneNumber(country_code=cc, national_number=int("9" * n))))
        table[str(cc)] = (str(cc), re.compile(npfp) if npfp else None, lengths)
    return table


_REGION_CC: dict[str | None, int] = {}


def _region_cc(region: str | None) -> int:
    cc = _REGION_CC.get(region)
    if cc is None:
        import phonenumbers

        cc = _REGION_CC[region] = phonenumbers.country_code_for_region(region) if region else 0
    return cc


def _phone_fast(t: str, region: str | None) -> str | None:
    """E.164 for the common clean shapes, or None when the slow parser must decide."""
    m = _NANP_FAST.match(t)
    if m:
        if m.group(1) or _region_cc(region) == 1:
            return "+1" + m.group(2) + m.group(3) + m.group(4)
        return None
    if not _INTL_FAST.match(t):
        return None
    digits = t.translate(_PHONE_SEPARATORS)
    digits = digits[1:] if digits[0] == "+" else digits[2:]
    if not digits.isdigit():
        return None
    codes = _calling_codes()
    for n in (1, 2, 3):
        key = digits[:n]
        if key in codes:
            break
    else:
        return None
    info = codes[key]
    national = digits[n:]
    if info is None or not national or national[0] == "0" or len(national) > 15:
        return None
    cc, prefix, lengths = info
    if prefix is not None and prefix.match(national):
        return None  # the parser may strip a national prefix here
    if len(national) not in lengths:
        return None  # the slow parser says why, in the same words as for every other shape
    return "+" + cc + national


class NoRegion(BadValue):
    """A national number (no country code) read without a region: the caller knows the fix."""


def _phone_problem(t: str, number, region: str | None) -> str:
    """Why a parsed number is not possible, in plain words (never libphonenumber's)."""
    import phonenumbers

    why = phonenumbers.is_possible_number_with_reason(number)
    R = phonenumbers.ValidationResult
    where = f"a +{number.country_code} number" if _is_international(t) or not region else f"a {region} number"
    if why in (R.TOO_SHORT, R.INVALID_LENGTH):
        return f"phone {_show(t)} has too few digits for {where}" if why == R.TOO_SHORT else \
            f"phone {_show(t)} has the wrong number of digits for {where}"
    if why == R.TOO_LONG:
        return f"phone {_show(t)} has too many digits for {where}"
    if why == R.INVALID_COUNTRY_CODE:
        return f"phone {_show(t)} starts with an unknown country code"
    return f"phone {_show(t)} is not a possible number for {where}"


@lru_cache(maxsize=65536)
def _phone_slow(t: str, region: str | None) -> str:
    import phonenumbers

    text = "+" + t[2:] if t.startswith("00") else t
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as e:
        E = phonenumbers.NumberParseException
        if e.error_type == E.INVALID_COUNTRY_CODE:
            if not region and not _is_international(t):
                raise NoRegion(f"phone {_show(t)} has no country code") from None
            raise BadValue(f"phone {_show(t)} starts with an unknown country code") from None
        if e.error_type == E.NOT_A_NUMBER:
            raise BadValue(f"{_show(t)} is not a phone number") from None
        if e.error_type == E.TOO_LONG:
            raise BadValue(f"phone {_show(t)} has too many digits") from None
        raise BadValue(f"phone {_show(t)} has too few digits") from None
    except Exception:  # the parser on pathological text
        raise BadValue(f"{_show(t)} is not a phone number") from None
    if not phonenumbers.is_possible_number(number):
        raise BadValue(_phone_problem(t, number, region))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_INTL_START = re.compile(r"[\s(\[]*(?:\+|00)")


def _is_international(t: str) -> bool:
    """Written with its country code: `+33 …`, `0033 …`, `(+33) …`."""
    return t[:1] == "+" or t[:2] == "00" or bool(_INTL_START.match(t))


def is_international(s: str | None) -> bool:
    """Whether a phone cell carries its own country code (`+…` or `00…`), so no region is needed."""
    return _is_international(s.strip()) if s else False


def calling_code(s: str | None) -> int | None:
    """The country calling code of a number written internationally (`+33 1 …` → 33), else None."""
    if not is_international(s):
        return None
    try:
        e164 = normalize_phone(s, None)
    except BadValue:
        return None
    if not e164:
        return None
    digits = e164[1:]
    codes = _calling_codes()
    for n in (1, 2, 3):
        if digits[:n] in codes:
            return int(digits[:n])
    return None


_DIGITS_ONLY = re.compile(r"[1-9][\d \u00a0.\-/]{6,20}\Z")


def bare_international(s: str | None, code: int | None = None) -> str | None:
    """E.164 for a number written with its country code but without `+` (`33169914213`),
    when it starts with `code` (any code if None) and is a valid number that way; else None.
    Only a column's evidence makes this reading right (see rows.plan_values)."""
    if not s:
        return None
    t = s.strip()
    if not _DIGITS_ONLY.match(t):
        return None
    digits = t.translate(_PHONE_SEPARATORS)
    if not digits.isdigit() or len(digits) < 8 or (code is not None and not digits.startswith(str(code))):
        return None
    return _bare_valid(digits)


@lru_cache(maxsize=65536)
def _bare_valid(digits: str) -> str | None:
    import phonenumbers

    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def no_region_reason(s: str, suggestion: str | None = None) -> str:
    """The warning for a national number that no region reads, naming the fix."""
    cc = suggestion or "CC"
    return (f"phone {_show(s)} has no country code and the row has no country: pass --default-region {cc} "
            f"or add a Country column (or set the project's region: leadctl init --region {cc})")


def phone_valid_in(s: str, region: str) -> bool:
    """Whether a national number is a valid (allocated) number of `region`: evidence only."""
    import phonenumbers

    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(s, region))
    except Exception:  # noqa: BLE001 - any parse failure is "no"
        return False


def region_of_calling_code(code: int) -> str | None:
    """The main region of a calling code (33 → FR, 1 → US, 44 → GB); None for non-geographic codes."""
    import phonenumbers

    region = phonenumbers.region_code_for_country_code(code)
    return None if region in (None, "ZZ", "001") else region


def calling_code_of_region(region: str | None) -> int:
    """The calling code of a region (FR → 33), 0 when unknown."""
    return _region_cc(region.upper() if region else None)


def normalize_phone(s: str | None, region: str | None = None) -> str | None:
    """E.164 (`+14155550123`) using `region` (ISO-2, the row's country or the default).

    Numbers starting with `+` or `00` are read internationally. Extensions are dropped.
    Only *possible* numbers (right length for the country) are required, not *valid*
    ones: phonenumbers' validity check knows allocated ranges and would reject many
    real-but-new and all synthetic numbers, which is the importer's call, not ours.
    """
    if is_missing(s):
        return None
    t = s.strip()
    if region:
        region = region.upper()
    out = _phone_fast(t, region)
    return out if out is not None else _phone_slow(t, region)


# --------------------------------------------------------------------------- country

_COUNTRY_EXTRA = {
    "usa": "US", "us of a": "US", "united states of america": "US", "america": "US", "u s a": "US",
    "u s": "US", "uk": "GB", "u k": "GB", "great britain": "GB", "britain": "GB", "england": "GB",
    "scotland": "GB", "wales": "GB", "northern ireland": "GB", "deutschland": "DE",
    "brasil": "BR", "holland": "NL", "the netherlands": "NL", "nederland": "NL",
    "espana": "ES", "españa": "ES", "italia": "IT", "schweiz": "CH", "suisse": "CH",
    "osterreich": "AT", "österreich": "AT", "russia": "RU", "south korea": "KR", "korea": "KR",
    "north korea": "KP", "vietnam": "VN", "iran": "IR", "syria": "SY", "laos": "LA",
    "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ", "moldova": "MD", "czech republic": "CZ",
    "czechia": "CZ", "ivory coast": "CI", "cote d ivoire": "CI", "uae": "AE", "emirates": "AE",
    "taiwan": "TW", "macedonia": "MK", "turkey": "TR", "turkiye": "TR", "türkiye": "TR",
    "hong kong": "HK", "macau": "MO", "palestine": "PS", "vatican": "VA", "kosovo": "XK",
    "mexico": "MX", "méxico": "MX", "polska": "PL", "sverige": "SE", "norge": "NO",
    "danmark": "DK", "suomi": "FI", "eire": "IE", "éire": "IE", "the gambia": "GM",
    "the bahamas": "BS", "burma": "MM", "cape verde": "CV", "swaziland": "SZ",
    "east timor": "TL", "micronesia": "FM", "st lucia": "LC", "st kitts and nevis": "KN",
    "st vincent and the grenadines": "VC", "saint martin": "MF", "drc": "CD",
    "dr congo": "CD", "congo kinshasa": "CD", "congo brazzaville": "CG", "prc": "CN",
    "peoples republic of china": "CN", "republic of korea": "KR", "brunei": "BN",
}


def _country_key(s: str) -> str:
    t = unicodedata.normalize("NFKD", s.casefold())
    t = "".join(c for c in t if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", t.replace("'", "")).split())


@lru_cache(maxsize=1)
def _country_index() -> dict[str, str]:
    import pycountry

    index: dict[str, str] = {}
    for c in pycountry.countries:
        for name in (getattr(c, "name", None), getattr(c, "official_name", None),
                     getattr(c, "common_name", None), c.alpha_3):
            if name:
                index.setdefault(_country_key(name), c.alpha_2)
    for k, v in _COUNTRY_EXTRA.items():
        index[_country_key(k)] = v
    index["xk"] = "XK"
    return index


# Odoo's external ids of its country records (`country_id/id` column): `base.mx`.
_ODOO_COUNTRY = re.compile(r"base\.([a-z]{2})\Z", re.IGNORECASE)
# Country names are read in these languages too (headers already are): `Allemagne`, `Estados Unidos`.
_NAME_LANGUAGES = ("fr", "de", "es", "pt", "it", "nl")


@lru_cache(maxsize=4096)
def _country(t: str) -> str:
    index = _country_index()
    m = _ODOO_COUNTRY.match(t)
    if m:
        t = m.group(1)
    if len(t) == 2 and t.isascii() and t.isalpha():
        code = t.upper()
        if code == "XK" or code.lower() in _alpha2_set():
            return code
    key = _country_key(t)
    hit = index.get(key) or _translated_country_index().get(key)
    if hit:
        return hit
    raise BadValue(f"unknown country {_show(t)}")


@lru_cache(maxsize=1)
def _translated_country_index() -> dict[str, str]:
    """Country names in the languages of `_NAME_LANGUAGES` (pycountry's translations); loaded on
    the first name the English index does not know."""
    import gettext

    import pycountry

    index: dict[str, str] = {}
    for lang in _NAME_LANGUAGES:
        try:
            tr = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[lang])
        except OSError:
            continue
        for c in pycountry.countries:
            for name in (getattr(c, "name", None), getattr(c, "common_name", None),
                         getattr(c, "official_name", None)):
                if name:
                    index.setdefault(_country_key(tr.gettext(name)), c.alpha_2)
    return index


@lru_cache(maxsize=1)
def _alpha2_set() -> frozenset[str]:
    import pycountry

    return frozenset(c.alpha_2.lower() for c in pycountry.countries)


def normalize_country(s: str | None) -> str | None:
    """ISO 3166-1 alpha-2 from a code (`us`, `USA`) or a name (`Deutschland`, `UK`).

    Exactly `NA` (upper case) is Namibia, so the function is a fixed point on its own
    output; any other spelling of the placeholder (`n/a`, `na`) is missing.
    """
    if s is None:
        return None
    hit = _COUNTRY_CACHE.get(s)
    if hit is None:
        t = s.strip()
        if t == "NA":
            hit = "NA"
        elif is_missing(t):
            hit = ""
        else:
            try:
                hit = _country(t)
            except BadValue as e:
                hit = e
        if len(_COUNTRY_CACHE) < 100_000:
            _COUNTRY_CACHE[s] = hit
    if isinstance(hit, BadValue):
        raise BadValue(hit.reason)
    return hit or None


_COUNTRY_CACHE: dict[str, str | BadValue] = {}


# Country-code domains that are sold worldwide as generic names (`.io`, `.co`, `.ai`, `.me` …):
# they say nothing about where a person is.
_GENERIC_CCTLDS = frozenset({"io", "co", "ai", "me", "tv", "ly", "fm", "gg", "to", "ws", "cc", "nu", "tk", "sh",
                             "ac", "la", "vc", "am", "im", "is", "so", "sc", "cx", "ms", "gl", "eu", "su", "md",
                             "app", "dev"})


@lru_cache(maxsize=4096)
def region_of_domain(domain: str | None) -> str | None:
    """The country a domain names by its country-code TLD (`acme.fr` → FR, `x.co.uk` → GB),
    None for generic ones (`.com`, `.io`) and for anything that is not a domain."""
    if not domain:
        return None
    host = domain.strip().lower().rstrip(".")
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].rpartition("@")[2]
    tld = host.rpartition(".")[2]
    if not host or "." not in host or len(tld) != 2 or not tld.isascii() or not tld.isalpha():
        return None
    if tld in _GENERIC_CCTLDS:
        return None
    if tld == "uk":
        return "GB"
    return tld.upper() if tld in _alpha2_set() else None


# --------------------------------------------------------------------------- dates

_MONTHS = {m: i for i, names in enumerate((
    ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
    ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
    ("oct", "october"), ("nov", "november"), ("dec", "december")), start=1) for m in names}

_TIME = r"(?:[T ,]+(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*([AaPp]\.?[Mm]\.?)?)?"
_TZ = r"\s*(Z|z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
_ISO = re.compile(r"(\d{4})([-/.])(\d{1,2})\2(\d{1,2})" + _TIME + _TZ + r"\Z")
_NUMERIC = re.compile(r"(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})" + _TIME + _TZ + r"\Z")
_DAY_MON = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?[ \-]([A-Za-z]{3,9})\.?[ \-,]+(\d{4})" + _TIME + _TZ + r"\Z")
_MON_DAY = re.compile(r"([A-Za-z]{3,9})\.?[ \-](\d{1,2})(?:st|nd|rd|th)?,?[ \-]+(\d{4})" + _TIME + _TZ + r"\Z")
_SLASH_DATE = re.compile(r"\s*(\d{1,2})[/\-](\d{1,2})[/\-](\d{2}|\d{4})\b")

_MIN_YEAR, _MAX_YEAR = 1900, 2200


def _tz(tz: str | None):
    if not tz or tz in ("Z", "z", "UTC", "GMT"):
        return None
    sign = -1 if tz[0] == "-" else 1
    digits = tz[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise ValueError("bad offset")
    return timedelta(hours=hours, minutes=minutes) * sign


def _build(y: int, mo: int, d: int, h, mi, sec, frac, ampm, tz) -> datetime:
    hour = int(h) if h else 0
    if ampm:
        if not 1 <= hour <= 12:
            raise ValueError("hour with AM/PM")
        pm = ampm[0] in "Pp"
        hour = hour % 12 + (12 if pm else 0)
    micro = int((frac[:6]).ljust(6, "0")) if frac else 0
    dt = datetime(y, mo, d, hour, int(mi) if mi else 0, int(sec) if sec else 0, micro)
    offset = _tz(tz)
    if offset:
        dt = dt - offset
    return dt


def _fast_date(t: str, dayfirst: bool | None) -> datetime | None:
    """A datetime for the common export shapes; None when no fast pattern matches."""
    if len(t) >= 10 and t[4] == "-" and t[7] == "-":
        try:
            dt = datetime.fromisoformat(t)  # C speed; Python 3.11 reads most ISO 8601 forms
        except ValueError:
            pass
        else:
            if dt.tzinfo is not None:
                dt = dt.replace(tzinfo=None) - dt.utcoffset()
            return dt
    m = _ISO.match(t)
    if m:
        y, _, mo, d = m.group(1, 2, 3, 4)
        return _build(int(y), int(mo), int(d), *m.group(5, 6, 7, 8, 9, 10))
    m = _NUMERIC.match(t)
    if m:
        a, sep, b, y = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
        year = int(y) if len(y) == 4 else (2000 + int(y) if int(y) < 70 else 1900 + int(y))
        if sep == ".":  # D.M.YYYY is a day-first convention everywhere it is used
            first_is_day = not (b > 12 and a <= 12)
        elif dayfirst is None:  # ambiguous column: month first (US) unless impossible
            first_is_day = a > 12
        else:
            first_is_day = dayfirst
        day, month = (a, b) if first_is_day else (b, a)
        return _build(year, month, day, *m.group(5, 6, 7, 8, 9, 10))
    m = _DAY_MON.match(t)
    if m:
        mo = _MONTHS.get(m.group(2).lower())
        if mo is None:
            return None
        return _build(int(m.group(3)), mo, int(m.group(1)), *m.group(4, 5, 6, 7, 8, 9))
    m = _MON_DAY.match(t)
    if m:
        mo = _MONTHS.get(m.group(1).lower())
        if mo is None:
            return None
        return _build(int(m.group(3)), mo, int(m.group(2)), *m.group(4, 5, 6, 7, 8, 9))
    return None


_DEFAULT_A = datetime(2001, 1, 1)
_DEFAULT_B = datetime(2002, 2, 2)


def _dateutil_date(t: str, dayfirst: bool | None) -> datetime:
    from dateutil import parser

    if len(t) > 64 or not any(c.isdigit() for c in t):
        raise ValueError("no date")
    # Parse twice with different defaults: a part the text does not give would differ,
    # so "May" or "12" are rejected instead of silently filled in from today.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown zone names: read as UTC
        a = parser.parse(t, dayfirst=bool(dayfirst), default=_DEFAULT_A)
        b = parser.parse(t, dayfirst=bool(dayfirst), default=_DEFAULT_B)
    if a.date() != b.date():
        raise ValueError("incomplete date")
    if a.tzinfo is not None:
        off = a.utcoffset()
        a = a.replace(tzinfo=None) - (off or timedelta(0))
    return a


def parse_datetime(s: str | None, *, dayfirst: bool | None = None, fmt: str | None = None) -> datetime | None:
    """A naive UTC datetime from the usual export formats; offsets are converted to UTC.

    ISO 8601 (`2021-04-15T10:00:00Z`, `2021-04-15 10:00:00+02:00`), `M/D/YYYY`,
    `D.M.YYYY`, `15 Apr 2021`, `Apr 15, 2021 3:04 PM`; anything else through dateutil,
    which must find a full date. Slash dates follow `dayfirst` (see `detect_dayfirst`):
    True/False is strict; None reads month first unless the first part is over 12.
    Dates before 1900 or after 2200 are rejected as implausible.
    """
    if is_missing(s):
        return None
    t = s.strip()
    try:
        if fmt:
            dt = datetime.strptime(t, fmt)
            if dt.tzinfo is not None:
                if not _MIN_YEAR <= dt.year <= _MAX_YEAR:
                    raise BadValue(f"implausible date {_show(t)}")
                dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
        else:
            dt = _fast_date(t, dayfirst)
            if dt is None:
                dt = _dateutil_date(t, dayfirst)
    except BadValue:
        raise
    except Exception:  # ValueError/OverflowError from datetime or dateutil's many shapes
        hint = f" (expected format {fmt})" if fmt else ""
        raise BadValue(f"unreadable date {_show(t)}{hint}") from None
    if not _MIN_YEAR <= dt.year <= _MAX_YEAR:
        raise BadValue(f"implausible date {_show(t)}")
    return dt


def detect_dayfirst(samples: list[str]) -> bool | None:
    """Whether a column's slash dates are day-first, from its values.

    True if some `A/B/YYYY` value has A > 12, False if some has B > 12, None when every
    value is ambiguous (then `parse_datetime` reads month first, as US exports do).
    A column with both kinds is inconsistent; the first decisive value wins.
    """
    for s in samples:
        if not s:
            continue
        m = _SLASH_DATE.match(s)
        if not m:
            continue
        a, b = int(m.group(1)), int(m.group(2))
        if a > 12 and b <= 12:
            return True
        if b > 12 and a <= 12:
            return False
    return None


def ambiguous_date(samples: list[str]) -> str | None:
    """The first `A/B/YYYY` value that reads both ways (both parts 12 or less, not equal), else None."""
    for s in samples:
        if not s:
            continue
        m = _SLASH_DATE.match(s)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if a <= 12 and b <= 12 and a != b:
                return s.strip()
    return None


# --------------------------------------------------------------------------- numbers

_SCALE = {"": 1, "k": 1000, "m": 10**6, "mm": 10**6, "mn": 10**6, "mio": 10**6,
          "b": 10**9, "bn": 10**9, "t": 10**12}
_NUM = re.compile(
    r"(?P<neg>-|\u2212)?(?P<cur>[$€£¥₹]|usd|eur|gbp|chf|inr|brl|r\$)?\s*(?P<num>\d[\d,.' \u00a0\u202f]*"
    r"(?:e[+-]?\d{1,4})?|[.,]\d+)\s*(?P<scale>k|mm|mn|mio|m|bn|b|t)?\s*(?P<cur2>[$€£¥₹]|usd|eur|gbp|chf|inr|brl)?"
    r"\s*%?\Z")
_PLAIN_INT = re.compile(r"-?\d{1,15}\Z")
_RANGE = re.compile(r"(.+?)\s*(?:-|–|—|to)\s*(.+)\Z")


def _digits(num: str) -> str:
    """The number text with thousands separators removed and a '.' decimal point."""
    num = num.replace("'", "").replace(" ", "").replace("\u00a0", "").replace("\u202f", "")
    mant, e, exp = num.partition("e")
    if "," in mant and "." in mant:
        if mant.rfind(",") > mant.rfind("."):  # 1.200,50
            mant = mant.replace(".", "").replace(",", ".")
        else:  # 1,200.50
            mant = mant.replace(",", "")
    elif "," in mant:
        parts = mant.split(",")
        if len(parts) > 2 or (len(parts[-1]) == 3 and parts[0] not in ("", "0")):
            mant = mant.replace(",", "")  # 1,200 and 1,200,000: thousands
        else:
            mant = mant.replace(",", ".")  # 3,5: a decimal comma
    elif mant.count(".") > 1:
        mant = mant.replace(".", "")  # 1.200.000
    return mant + e + exp


def _to_number(d: Decimal, raw: str) -> float | int:
    if not d.is_finite():
        raise BadValue(f"not a finite number {_show(raw)}")
    f = float(d)
    if f != f or f in (float("inf"), float("-inf")):
        raise BadValue(f"number out of range {_show(raw)}")
    if abs(f) < 1e18 and d == d.to_integral_value():
        return int(d)
    return f


def parse_number(s: str | None) -> float | int | None:
    """A number from export text: `1,200`, `1.200,50`, `$3.5M`, `10k`, `€1.2m`, `12%` (→ 12).

    A single comma followed by exactly three digits is a thousands separator (`1,200`
    = 1200); otherwise a lone comma is a decimal comma (`3,5` = 3.5). Integral results
    are ints (`-0` → 0); NaN, infinities and overflow are rejected.
    """
    if is_missing(s):
        return None
    t = s.strip()
    if _PLAIN_INT.match(t):
        return int(t) if t != "-0" else 0
    low = t.lower()
    neg = False
    if low[:1] == "(" and low[-1:] == ")":  # accounting negative
        neg, low = True, low[1:-1].strip()
    m = _NUM.match(low)
    if not m:
        raise BadValue(f"not a number {_show(t)}")
    try:
        d = Decimal(_digits(m.group("num")))
    except InvalidOperation:
        raise BadValue(f"not a number {_show(t)}") from None
    d *= _SCALE[m.group("scale") or ""]
    if neg or m.group("neg"):
        d = -d
    return _to_number(d, t)


def parse_int(s: str | None) -> int | None:
    """A non-negative whole number (employee counts); a range `51-200` gives its lower
    bound and `500+` gives 500, the "at least" that such export buckets mean."""
    if is_missing(s):
        return None
    t = s.strip().rstrip("+").strip()
    if t.isdigit() and t.isascii() and len(t) <= 10:
        return _bounded_int(int(t), s)
    m = _RANGE.match(t) if not t.startswith("-") else None
    if m:
        low, high = parse_number(m.group(1)), parse_number(m.group(2))
        if low is None or high is None or high < low:
            raise BadValue(f"not a range {_show(s)}")
        n = low
    else:
        n = parse_number(t or None)
        if n is None:
            raise BadValue(f"not a whole number {_show(s)}")
    if isinstance(n, float) or n < 0:
        raise BadValue(f"not a whole number ≥ 0: {_show(s)}")
    return _bounded_int(n, s)


# Counts are stored in an INTEGER column: 32 bits on PostgreSQL.
_MAX_COUNT = 2**31 - 1


def _bounded_int(n: int, s: str) -> int:
    if n > _MAX_COUNT:
        raise BadValue(f"number out of range {_show(s)}")
    return n


# The shared yes/no words, plus what opt-out columns (the only yes/no field, do_not_contact) say.
_TRUE = TRUE_WORDS | {"opted out", "opted-out"}
_FALSE = FALSE_WORDS | {"opted in", "opted-in"}


def parse_bool(s: str | None) -> bool | None:
    """yes/no, true/false, 1/0, y/n, on/off, `x` or a tick (checkbox exports) → bool."""
    if is_missing(s):
        return None
    t = s.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise BadValue(f"not yes/no {_show(s)}")


# --------------------------------------------------------------------------- text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
_HSPACE = re.compile(r"[^\S\n]+")
_SPACE_NL = re.compile(r" ?\n ?")
_SIMPLE = re.compile(r"[!-~]+(?: [!-~]+)*\Z")  # printable ASCII, single inner spaces


def clean_text(s: str | None) -> str | None:
    """Trimmed NFC text with control characters removed and runs of spaces/tabs
    collapsed to one space; line breaks are kept (as `\\n`) for notes."""
    if s is None:
        return None
    if _SIMPLE.match(s):
        return None if is_missing(s) else s
    t = s.replace("\r\n", "\n").replace("\r", "\n")
    t = _CONTROL.sub("", t)
    t = _HSPACE.sub(" ", t)
    t = _SPACE_NL.sub("\n", t).strip()
    if not t.isascii():
        t = unicodedata.normalize("NFC", t)
        t = _SPACE_NL.sub("\n", _HSPACE.sub(" ", t)).strip()
    return None if is_missing(t) else t


_LINKEDIN = re.compile(
    r"^(?:https?://)?(?:[a-z]{2,3}\.)?(?:www\.)?linkedin\.com/(in|pub|company)/([^/?#\s]+)", re.IGNORECASE)


def normalize_linkedin(s: str | None) -> str | None:
    """A LinkedIn profile URL in one spelling: `linkedin.com/in/Ada-L/?trk=x` → `https://www.linkedin.com/in/ada-l`."""
    t = clean_text(s)
    if not t:
        return None
    m = _LINKEDIN.match(t)
    if not m:
        raise BadValue(f"not a LinkedIn profile URL: {_show(t)}")
    from urllib.parse import unquote

    return f"https://www.linkedin.com/{m.group(1).lower()}/{unquote(m.group(2)).casefold()}"


# --------------------------------------------------------------------------- names

# Salutations and honorifics as lead lists write them (EN, FR, DE, ES, PT, IT, NL), compared
# lower-case without dots. nameparser's own list (800 titles) is not used: it takes `King`,
# `Dean`, `Judge`, `Pastor` or `Baron` for titles, and they are first and last names too.
_TITLES = frozenset({
    "mr", "mrs", "ms", "miss", "mx", "mister", "missus", "dr", "doctor", "prof", "professor", "sir", "dame",
    "madam", "madame", "mme", "mmes", "mlle", "mademoiselle", "monsieur", "m", "mm", "pr",
    "herr", "frau", "fräulein", "hr", "fr", "dipl", "mag",
    "sr", "sra", "srta", "señor", "señora", "señorita", "dra", "lic", "ing", "dª", "doña",
    "sig", "sigra", "signor", "signora", "signorina", "dott", "dottssa", "dottoressa", "avv", "arch",
    "dhr", "mevr", "mevrouw", "meneer", "rev", "hon", "lady", "lord",
})
_FIRST_NAME_TITLES = frozenset({"sir", "dame", "lady", "lord"})  # "Sir Elton": Elton is a first name


class PersonName(NamedTuple):
    """A full name in parts; `middle` holds initials only (full middle names join the first name)."""

    first: str | None
    last: str | None
    middle: str | None = None
    salutation: str | None = None
    suffix: str | None = None


@lru_cache(maxsize=1)
def _name_constants():
    from nameparser.config import Constants

    return Constants(titles=_TITLES, first_name_titles=_FIRST_NAME_TITLES)


@lru_cache(maxsize=1)
def _name_special() -> frozenset[str]:
    """Words that make nameparser (not the plain split) decide: titles, suffixes, particles."""
    c = _name_constants()
    words = set(_TITLES)
    for group in (c.suffix_acronyms, c.suffix_not_acronyms, c.prefixes, c.conjunctions,
                  c.bound_first_names, c.non_first_name_prefixes):
        words.update(w.lower().replace(".", "") for w in group)
    return frozenset(words)


_PLAIN_WORD = re.compile(r"[^\W\d_][^\W\d_'’-]*[^\W\d_]\Z")  # letters, inner hyphens/apostrophes


def _is_initial(word: str) -> bool:
    letters = word.replace(".", "").replace("-", "")
    return len(letters) <= 2 and letters.isalpha() and (len(letters) == 1 or "." in word)


def _given_and_family(first: str, middle: list[str], last: str) -> tuple[str, str | None, str]:
    """(first name, middle initials, last name): a sales list's `Jean Pierre Muroni` is
    Jean Pierre / Muroni, `María José García López` is María José / García López, and
    `John F. Kennedy` is John / Kennedy with the initial kept apart."""
    if not middle:
        return first, None, last
    if any(_is_initial(w) for w in middle):
        return first, " ".join(middle), last
    if len(middle) == 1:
        return f"{first} {middle[0]}", None, last
    return f"{first} {middle[0]}", None, " ".join([*middle[1:], last]).strip()


def parse_name(s: str | None) -> PersonName:
    """The parts of a full name, read with nameparser: `Dr. Ada King Lovelace` → Ada King /
    Lovelace, salutation `Dr.`; `Mr HAIDER` → last name HAIDER; `Lovelace, Ada` → Ada / Lovelace;
    `Alan Turing Jr.` → suffix `Jr.`. One word alone is a first name. Case is kept as typed."""
    t = clean_text(s)
    if not t:
        return PersonName(None, None)
    t = " ".join(t.split())
    words = t.split(" ")
    if len(words) <= 4 and "," not in t:
        special = _name_special()
        if all(_PLAIN_WORD.match(w) and w.lower() not in special for w in words):
            if len(words) == 1:
                return PersonName(words[0], None)
            first, middle, last = _given_and_family(words[0], words[1:-1], words[-1])
            return PersonName(first, last, middle)
    return _parse_name_slow(t)


@lru_cache(maxsize=16384)
def _parse_name_slow(t: str) -> PersonName:
    from nameparser import HumanName

    h = HumanName(t, constants=_name_constants())
    salutation = h.title or None
    suffix = h.suffix or None
    first: str | None = h.first
    middle = h.middle_list
    last: str | None = h.last
    if not first and not last and middle:
        first, middle = middle[0], middle[1:]
    if not last and not first and not middle:
        if salutation and " " not in salutation and salutation.lower().replace(".", "") not in _SALUTATIONS_ALONE:
            return PersonName(salutation, None, None, None, suffix)  # "Lord" alone is a name
        return PersonName(None, None, None, salutation, suffix)
    if salutation and first and not last and not middle and salutation.lower().strip(".") not in _FIRST_NAME_TITLES:
        first, last = None, first  # "Mr HAIDER": a salutation is followed by the family name
    if first and last is not None:
        first, mid, last = _given_and_family(first, list(middle), last)
    else:
        mid = " ".join(middle) or None
    return PersonName(first or None, last or None, mid, salutation, suffix)


def split_full_name(s: str | None) -> tuple[str | None, str | None]:
    """(first, last) of `parse_name`."""
    name = parse_name(s)
    return name.first, name.last


# Salutations that a name cell may hold alone (`Mme` in a first-name column); `Lord`, `Lady` or
# `Sir` alone are more likely names.
_SALUTATIONS_ALONE = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "mme", "mmes", "mlle", "herr", "frau",
                                "sra", "srta", "sig", "sigra", "dhr", "mevr", "monsieur", "madame", "mademoiselle",
                                "señor", "señora", "señorita"})


def strip_salutation(s: str | None, *, alone: bool = True) -> tuple[str | None, str | None]:
    """(salutation, rest) of a first- or last-name cell: `Mr John` → ('Mr', 'John'), `Mme` → ('Mme', None)
    (with `alone`; a last-name cell keeps a lone word). Only `M.` with its dot is Monsieur."""
    if not s:
        return None, s
    titles: list[str] = []
    rest = s.strip()
    while rest:
        head, _, tail = rest.partition(" ")
        key = head.lower().replace(".", "")
        if key not in _TITLES or (key == "m" and not head.endswith(".")):
            break
        titles.append(head)
        rest = tail.strip()
    if not titles:
        return None, s
    if not rest and not (alone and len(titles) == 1 and titles[0].lower().replace(".", "") in _SALUTATIONS_ALONE):
        return None, s
    return " ".join(titles), (rest or None)


def strip_suffix(s: str | None) -> tuple[str | None, str | None]:
    """(rest, suffix) of a last-name cell: `Turing Jr.` → ('Turing', 'Jr.'); one word is kept whole."""
    if not s or " " not in s.strip():
        return s, None
    rest, _, tail = s.strip().rstrip(",").rpartition(" ")
    key = tail.lower().replace(".", "")
    c = _name_constants()
    if key in c.suffix_not_acronyms or key in c.suffix_acronyms and key not in c.suffix_acronyms_ambiguous:
        return rest.rstrip(" ,") or None, tail
    return s, None


_NAME_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+\Z")
_NAME_HANDLE = re.compile(r"@[\w.]{2,}\Z")
_NAME_URL = re.compile(r"(?:[a-z][a-z0-9+.-]*://|www\.)\S+\Z|[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|io|co|ai|app|"
                       r"biz|info|fr|de|uk|es|it|nl|be|ch|br|mx|ca|au|in)(?:/\S*)?\Z", re.IGNORECASE)
_HAS_LETTER = re.compile(r"[^\W\d_]")
# Typed into forms to try them; compared lower-case, after trimming.
_NAME_PLACEHOLDERS = frozenset({
    "test", "tests", "testing", "tester", "test test", "test user", "test lead", "test name", "testname",
    "asdf", "asdfg", "asdfgh", "qwerty", "qwert", "dummy", "fake", "sample", "lorem", "lorem ipsum", "xxx", "xxxx",
    "xx", "x", "xyz", "zzz", "aaa", "aaaa", "abc", "abcd", "foo", "foo bar", "foobar", "unknown", "anonymous",
    "no name", "noname", "name", "first name", "last name", "firstname", "lastname", "full name", "fullname",
    "your name", "first", "last", "prénom", "nom", "vorname", "nachname", "nombre", "apellido",
})


def not_a_name(s: str | None) -> str | None:
    """Why a name cell holds something else (an e-mail, a handle, a web address, a test
    placeholder, no letters at all), or None when it reads as a name."""
    if not s:
        return None
    if s.isalpha():  # one plain word, the common case
        if len(s) <= 20 and s.lower() in _NAME_PLACEHOLDERS:
            return f"{_show(s)} is a test placeholder, not a name"
        return None
    t = s.strip()
    if "@" in t:
        if _NAME_EMAIL.match(t):
            return f"{_show(t)} is an e-mail address, not a name"
        if _NAME_HANDLE.match(t):
            return f"{_show(t)} is a social media handle, not a name"
    if ("." in t or ":" in t) and " " not in t and _NAME_URL.match(t):
        return f"{_show(t)} is a web address, not a name"
    if len(t) <= 20 and t.lower() in _NAME_PLACEHOLDERS:
        return f"{_show(t)} is a test placeholder, not a name"
    if not _HAS_LETTER.search(t):
        return f"{_show(t)} has no letters, not a name"
    return None


_VENDOR_TEST = re.compile(r"<\s*test[ _-]?lead\b", re.IGNORECASE)


def is_vendor_test(s: str | None) -> bool:
    """A vendor's test value: Facebook Lead Ads' `<test lead: dummy data for full_name>` and its kin."""
    return s is not None and "<" in s and _VENDOR_TEST.search(s) is not None
