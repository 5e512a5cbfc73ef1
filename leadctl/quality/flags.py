"""A lead's data-quality flags, computed offline from its e-mail and phone, stored in `leads.flags`.

    email_flags("info@mailinator.com")   # ['disposable', 'role_account']
    phone_flags("+18005550100")          # ['phone_toll_free']

`leads.flags` holds the flags as words separated by spaces (`free_mail phone_mobile`), so
rules read them with `contains` (`when: {flags: {contains: role_account}}`) and `leads list
--flag role_account` filters by one. Nothing here uses the network (MX checks live in mx.py).
"""
from __future__ import annotations

import re
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Iterable

from sqlalchemy import bindparam, func, or_, select

from ..ingest.identity import is_filler_email
from ..store.tables import BATCH_CHANGES, LEADS

# Every flag, and what it means (docs/commands.md `leads verify`).
FLAGS = {
    "email_invalid": "the e-mail is not a valid address",
    "role_account": "the e-mail is a role account (info@, sales@ …), not a person's",
    "free_mail": "the e-mail is at a free-mail provider (gmail.com …)",
    "disposable": "the e-mail is at a disposable, throw-away domain",
    "placeholder": "the e-mail is a filler (a@a.com, test@, noemail@ …)",
    "phone_invalid": "the phone is not a valid number",
    "phone_possible": "the phone has a possible length but is not a valid number for its region",
    "phone_mobile": "the phone is a mobile number",
    "phone_fixed_line": "the phone is a fixed line",
    "phone_fixed_or_mobile": "the phone is a fixed line or a mobile (its numbering plan does not tell: US, CA …)",
    "phone_toll_free": "the phone is toll-free",
    "phone_voip": "the phone is a VoIP number",
    "phone_other": "the phone is valid, of another type (premium rate, pager, shared cost …)",
}
# Mailboxes of a function, not a person (the local part before any plus tag).
ROLE_LOCALS = frozenset({
    "info", "sales", "contact", "contacts", "admin", "administrator", "support", "hello", "hi", "office",
    "marketing", "team", "billing", "accounts", "accounting", "finance", "hr", "jobs", "careers", "help",
    "enquiries", "enquiry", "inquiries", "inquiry", "webmaster", "postmaster", "hostmaster", "service",
    "services", "customerservice", "feedback", "press", "media", "legal", "privacy", "security", "abuse",
    "orders", "booking", "bookings", "reception", "general", "mail", "email", "noreply", "no-reply",
    "newsletter", "partners", "recruiting", "recruitment", "it", "ops", "operations", "vendas",
    "contato", "atendimento", "kontakt", "vertrieb",
})


def _list(name: str) -> frozenset[str]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    return frozenset(ln.strip().casefold() for ln in text.splitlines() if ln.strip() and not ln.startswith("#"))


@lru_cache(maxsize=1)
def disposable_domains() -> frozenset[str]:
    """The disposable domains shipped with leadctl (quality/disposable.txt)."""
    return _list("disposable.txt")


# An address's shape (RFC 5321 limits; the importer has normalised it already): a dot-atom local
# part of at most 64 characters, and a domain of letter-digit-hyphen labels with a top level.
_EMAIL = re.compile(r"(?=[^@]{1,64}@)[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
                    r"@(?=.{1,253}$)(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}")


def _valid_syntax(email: str) -> bool:
    return _EMAIL.fullmatch(email) is not None


@lru_cache(maxsize=65536)
def _domain_flags(domain: str) -> tuple[str, ...]:
    from ..dedupe.finder import free_mail_domains

    out = []
    if domain in free_mail_domains():
        out.append("free_mail")
    dis = disposable_domains()
    if domain in dis or any(domain.endswith("." + d) for d in dis):
        out.append("disposable")
    return tuple(out)


def email_flags(email: str | None) -> list[str]:
    """The e-mail's flags (none for an empty e-mail)."""
    if not email:
        return []
    email = email.strip().casefold()
    local, _, domain = email.rpartition("@")
    if not local or not _valid_syntax(email):
        return ["email_invalid"]
    out = []
    if is_filler_email(email) or local.split("+", 1)[0] in ("test", "a", "x", "asdf"):
        out.append("placeholder")
    if local.split("+", 1)[0] in ROLE_LOCALS:
        out.append("role_account")
    out.extend(_domain_flags(domain))
    return out


def phone_flags(phone: str | None, region: str | None = None) -> list[str]:
    """The phone's flags by `phonenumbers`: valid or possible, and its type."""
    if not phone:
        return []
    text = str(phone)
    m = _E164.fullmatch(text)
    split = _split_e164(m.group(1)) if m is not None else None
    if split is not None:  # as imports store phones: the type from precompiled patterns
        cc, national = split
        _regions, unknown, names = _library()
        kind = _kind(cc, national)
        if kind == unknown:
            return ["phone_possible"] if _possible(cc, len(national)) else ["phone_invalid"]
        return [names.get(kind, "phone_other")]
    import phonenumbers

    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return ["phone_invalid"]
    # number_type is UNKNOWN exactly when the number is not valid (is_valid_number is that same
    # test on the same region's patterns): one pass over them instead of two.
    kind = phonenumbers.number_type(number)
    _regions, unknown, names = _library()
    if kind == unknown:
        return ["phone_possible"] if phonenumbers.is_possible_number(number) else ["phone_invalid"]
    return [names.get(kind, "phone_other")]


@lru_cache(maxsize=1)
def _library() -> tuple[dict[int, Any], int, dict[int, str]]:
    """phonenumbers' calling codes (code → regions), its UNKNOWN type and our flag of each type."""
    import phonenumbers
    from phonenumbers import PhoneNumberType as T

    names = {T.MOBILE: "phone_mobile", T.FIXED_LINE: "phone_fixed_line", T.TOLL_FREE: "phone_toll_free",
             T.FIXED_LINE_OR_MOBILE: "phone_fixed_or_mobile", T.VOIP: "phone_voip"}
    return phonenumbers.COUNTRY_CODE_TO_REGION_CODE, T.UNKNOWN, names


_E164 = re.compile(r"\+([1-9]\d{6,14})")


def _split_e164(digits: str) -> tuple[int, str] | None:
    """(calling code, national significant number) of an E.164 number's digits, as phonenumbers.parse
    reads them; None when no calling code starts them or nothing follows it."""
    regions = _library()[0]
    for size in (1, 2, 3):
        cc = int(digits[:size])
        if cc in regions:
            rest = digits[size:]
            if not rest:
                return None
            zeros = len(rest) - len(rest.lstrip("0"))
            return cc, "0" * zeros + str(int(rest))  # national_significant_number's text
    return None


@lru_cache(maxsize=4096)
def _possible(cc: int, length: int) -> bool:
    """phonenumbers.is_possible_number, which depends only on the calling code and the length."""
    import phonenumbers

    return phonenumbers.is_possible_number(phonenumbers.PhoneNumber(country_code=cc, national_number=int("9" * length)))


# phonenumbers.number_type, with each region's patterns compiled once: the library looks every
# pattern up by its text on every call (~12 µs a number; an import checks one per lead). The same
# steps in the same order (tests/quality/test_phone_type.py compares both on every region's numbers).
_TYPE_ORDER = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")


def _desc(desc) -> Any:
    """A number description as (possible lengths, compiled pattern), or None when it matches nothing."""
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length), re.compile(desc.national_number_pattern)


def _matches(desc, national: str) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    if lengths and len(national) not in lengths:
        return False
    return pattern.fullmatch(national) is not None


@cache
def _type_plan(region: str | None, cc: int) -> Any:
    """A region's (general, [(pattern, type)…] in number_type's order, fixed line, mobile,
    same fixed and mobile pattern, leading digits, UNKNOWN), or None without metadata."""
    from phonenumbers import PhoneMetadata, PhoneNumberType as T
    from phonenumbers.phonemetadata import REGION_CODE_FOR_NON_GEO_ENTITY

    if region == REGION_CODE_FOR_NON_GEO_ENTITY:
        meta = PhoneMetadata.metadata_for_nongeo_region(cc, None)
    else:
        meta = PhoneMetadata.metadata_for_region(region, None) if region else None
    if meta is None:
        return None
    kinds = {"premium_rate": T.PREMIUM_RATE, "toll_free": T.TOLL_FREE, "shared_cost": T.SHARED_COST, "voip": T.VOIP,
             "personal_number": T.PERSONAL_NUMBER, "pager": T.PAGER, "uan": T.UAN, "voicemail": T.VOICEMAIL}
    specials = [(desc, kinds[k]) for k in _TYPE_ORDER if (desc := _desc(getattr(meta, k))) is not None]
    return (_desc(meta.general_desc), specials,
            _desc(meta.fixed_line), _desc(meta.mobile), bool(meta.same_mobile_and_fixed_line_pattern),
            re.compile(meta.leading_digits) if meta.leading_digits is not None else None,
            (T.UNKNOWN, T.FIXED_LINE, T.MOBILE, T.FIXED_LINE_OR_MOBILE))


def _type_of(national: str, plan) -> int:
    """phonenumbers' _number_type_helper."""
    general, specials, fixed, mobile, same, _leading, (unknown, fixed_line, mobile_kind, either) = plan
    if not _matches(general, national):
        return unknown
    size = len(national)
    for (lengths, pattern), kind in specials:
        if (not lengths or size in lengths) and pattern.fullmatch(national) is not None:
            return kind
    if _matches(fixed, national):
        if same or _matches(mobile, national):
            return either
        return fixed_line
    if not same and _matches(mobile, national):
        return mobile_kind
    return unknown


def _kind(cc: int, national: str) -> int:
    """phonenumbers.number_type of the number +`cc` `national` (its national significant number)."""
    plans = _code_plans(cc)
    if plans is None:  # one region (or none) for the code
        plan = _type_plan(_one_region(cc), cc)
        return _library()[1] if plan is None else _type_of(national, plan)
    unknown = _library()[1]
    for plan in plans:  # phonenumbers' _region_code_for_number_from_list
        leading = plan[5]
        if leading is not None:
            if leading.match(national):
                return _type_of(national, plan)
        else:
            kind = _type_of(national, plan)
            if kind != unknown:
                return kind
    return unknown  # no region of the code: no metadata, UNKNOWN


@cache
def _one_region(cc: int) -> str | None:
    regions = _library()[0].get(cc)
    return regions[0] if regions else None


@cache
def _code_plans(cc: int) -> tuple | None:
    """The type plans of a calling code's regions in phonenumbers' order (those with metadata),
    or None when the code has one region or none."""
    regions = _library()[0].get(cc)
    if regions is None or len(regions) == 1:
        return None
    return tuple(plan for region in regions if (plan := _type_plan(region.upper(), cc)) is not None)


def number_type(number) -> int:
    """`phonenumbers.number_type(number)`, from patterns compiled once."""
    from phonenumbers import national_significant_number

    return _kind(number.country_code, national_significant_number(number))


# What an import's reading side found for one row (ingest.rows.Row.flags): (its e-mail, that e-mail's
# flags, its phone, that phone's flags or None when they depend on the lead's country).
RowFlags = tuple[str | None, tuple[str, ...], str | None, tuple[str, ...] | None]


def row_flags(email: str | None, phone: str | None) -> RowFlags:
    """The flags of a normalised row's e-mail and phone, computed where they are read: an import then
    stores its leads' flags without a second pass over them. A phone with its `+` code reads the
    same in every region; any other text waits for the lead's country (None)."""
    pf = _one(tuple(phone_flags(phone))) if phone and phone[:1] == "+" else None
    return email, _one(tuple(email_flags(email))), phone, pf


_TUPLES: dict[tuple[str, ...], tuple[str, ...]] = {}


def _one(flags: tuple[str, ...]) -> tuple[str, ...]:
    """One object per distinct tuple of flags (a few dozen): rows pickled to the importer then refer
    to it instead of each carrying a copy."""
    return _TUPLES.setdefault(flags, flags)


def fold_flags(rows: Iterable[Any], new: dict[int, dict[str, Any]], changed: dict[int, dict[str, Any]],
               existing: dict[int, dict[str, Any]]) -> dict[int, str | None]:
    """Set `flags` in the values of a fold's new leads, from the flags its rows carry (`Row.flags`),
    and return the flags of its changed leads whose e-mail, phone or country changed (the others
    keep theirs). An e-mail or phone no row carries is checked here; the result is `lead_flags`'."""
    emails: dict[str, tuple[str, ...]] = {}
    phones: dict[str, tuple[str, ...]] = {}
    for row in rows:
        carried = row.flags
        if carried is not None:
            email, ef, phone, pf = carried
            if email:
                emails[email] = ef
            if phone and pf is not None:
                phones[phone] = pf

    def of(values: dict[str, Any]) -> str | None:
        email, phone = values.get("email"), values.get("phone")
        ef = emails.get(email) if email else ()
        if ef is None:
            ef = tuple(email_flags(email))
        pf = phones.get(phone) if phone else ()
        if pf is None:
            pf = tuple(phone_flags(phone, values.get("country")))
        return " ".join(sorted({*ef, *pf})) or None

    for values in new.values():
        values["flags"] = of(values)
    return {lid: of(values) for lid, values in changed.items()
            if any(values.get(k) != existing[lid].get(k) for k in ("email", "phone", "country"))}


def store_flags(conn, flags: dict[int, str | None]) -> None:
    """Write these leads' flags (lead id → flags)."""
    if flags:
        t = LEADS
        conn.execute(t.update().where(t.c.id == bindparam("b_id")).values(flags=bindparam("b_flags")),
                     [{"b_id": lid, "b_flags": f} for lid, f in flags.items()])


CHUNK = 5000  # leads per read and write of refresh_flags


def lead_flags(lead: dict[str, Any]) -> str | None:
    """`leads.flags` for a lead: its flags as sorted words, or None when it has none."""
    flags = sorted(set(email_flags(lead.get("email")) + phone_flags(lead.get("phone"), lead.get("country"))))
    return " ".join(flags) or None


def refresh_flags(conn, *, lead_ids: Iterable[int] | None = None, batch: int | None = None) -> int:
    """Compute and store the flags of these leads (all leads when neither is given; `batch`: the
    leads an import created or changed); returns how many leads' flags changed. Set-wise, in
    slices of CHUNK leads by id (one read and one executemany of the changes each), so memory
    stays flat whatever the store's size."""
    t = LEADS
    query = select(t.c.id, t.c.email, t.c.phone, t.c.country, t.c.flags).where(t.c.erased_at.is_(None))
    if batch is not None:
        changed = select(BATCH_CHANGES.c.lead_id).where(BATCH_CHANGES.c.batch_id == batch)
        query = query.where(or_(t.c.batch_id == batch, t.c.id.in_(changed)))
    update = t.update().where(t.c.id == bindparam("b_id")).values(flags=bindparam("b_flags"))

    def slices():
        if lead_ids is not None:
            ids = sorted(set(lead_ids))
            for i in range(0, len(ids), 500):
                yield conn.execute(query.where(t.c.id.in_(ids[i:i + 500]))).all()
            return
        last = 0
        while rows := conn.execute(query.where(t.c.id > last).order_by(t.c.id).limit(CHUNK)).all():
            yield rows
            last = rows[-1][0]

    changed_count = 0
    for rows in slices():
        updates = []
        for lid, email, phone, country, old in rows:
            new = lead_flags({"email": email, "phone": phone, "country": country})
            if new != old:
                updates.append({"b_id": lid, "b_flags": new})
        if updates:
            conn.execute(update, updates)
            changed_count += len(updates)
    return changed_count


def flag_counts(store) -> dict[str, int]:
    """How many leads carry each flag."""
    t = LEADS
    out: dict[str, int] = {}
    with store.connect() as conn:
        for flags, n in conn.execute(select(t.c.flags, func.count()).where(t.c.flags.is_not(None))
                                     .group_by(t.c.flags)):
            for f in flags.split():
                out[f] = out.get(f, 0) + n
    return out
