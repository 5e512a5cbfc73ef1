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

__all__ = [
    "BadValue", "is_missing", "normalize_email", "email_domain", "normalize_phone",
    "normalize_country", "parse_datetime", "detect_dayfirst", "parse_number", "parse_int",
    "parse_bool", "clean_text", "split_full_name",
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
        raise BadValue(f"impossible phone number {_show(t)}")
    return "+" + cc + national


@lru_cache(maxsize=65536)
def _phone_slow(t: str, region: str | None) -> str:
    import phonenumbers

    text = "+" + t[2:] if t.startswith("00") else t
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as e:
        raise BadValue(f"unreadable phone number {_show(t)}: {e._msg}") from None
    except Exception:  # the parser on pathological text
        raise BadValue(f"unreadable phone number {_show(t)}") from None
    if not phonenumbers.is_possible_number(number):
        raise BadValue(f"impossible phone number {_show(t)}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


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


@lru_cache(maxsize=4096)
def _country(t: str) -> str:
    index = _country_index()
    if len(t) == 2 and t.isascii() and t.isalpha():
        code = t.upper()
        if code == "XK" or code.lower() in _alpha2_set():
            return code
    hit = index.get(_country_key(t))
    if hit:
        return hit
    raise BadValue(f"unknown country {_show(t)}")


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


_TRUE = frozenset({"yes", "y", "true", "t", "1", "x", "on", "checked", "opted out", "opted-out", "✓", "✔"})
_FALSE = frozenset({"no", "n", "false", "f", "0", "off", "unchecked", "opted in", "opted-in"})


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


_HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "madam", "mme", "herr", "frau"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"})


def split_full_name(s: str | None) -> tuple[str | None, str | None]:
    """(first, last) from a full name: `Ada Lovelace`, `Lovelace, Ada`, `Dr. Ada King Lovelace`
    (→ `Ada`, `King Lovelace`); one word is a first name; honorifics and suffixes go."""
    t = clean_text(s)
    if not t:
        return None, None
    t = " ".join(t.split())
    if t.count(",") == 1:
        last, first = (p.strip() for p in t.split(","))
        if first.lower().strip(".") in _SUFFIXES:
            t = last
        else:
            words = [w for w in first.split(" ") if w]
            while len(words) > 1 and words[0].lower().rstrip(".") in _HONORIFICS:
                words.pop(0)
            return (" ".join(words) or None), (last or None)
    words = t.split(" ")
    while len(words) > 1 and words[0].lower().rstrip(".") in _HONORIFICS:
        words.pop(0)
    while len(words) > 1 and words[-1].lower().rstrip(".").replace(".", "") in _SUFFIXES:
        words.pop()
    if len(words) == 1:
        return words[0], None
    return words[0], " ".join(words[1:])
