"""quality.flags reads a phone's type from patterns it compiles once: the same answers as phonenumbers."""
from __future__ import annotations

import random
import re

import phonenumbers
import pytest
from hypothesis import given, settings, strategies as st
from phonenumbers import PhoneNumberType as T

from leadctl.quality.flags import number_type, phone_flags

_NAMES = {T.MOBILE: "phone_mobile", T.FIXED_LINE: "phone_fixed_line", T.TOLL_FREE: "phone_toll_free",
          T.FIXED_LINE_OR_MOBILE: "phone_fixed_or_mobile", T.VOIP: "phone_voip"}
_CODES = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _e164_number(phone: str) -> phonenumbers.PhoneNumber | None:
    """An E.164 text's number as flags.phone_flags has always built it (the digits after the calling
    code, leading zeros kept: `+10000000` is 1 and 0000000, where phonenumbers.parse reads 0)."""
    m = re.fullmatch(r"\+([1-9]\d{6,14})", phone)
    if m is None:
        return None
    digits = m.group(1)
    for size in (1, 2, 3):
        cc = int(digits[:size])
        if cc in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            rest = digits[size:]
            if not rest:
                return None
            zeros = len(rest) - len(rest.lstrip("0"))
            return phonenumbers.PhoneNumber(country_code=cc, national_number=int(rest),
                                            italian_leading_zero=True if zeros else None,
                                            number_of_leading_zeros=zeros if zeros > 1 else None)
    return None


def reference_flags(phone: str | None, region: str | None = None) -> list[str]:
    """The flags by phonenumbers' own functions (number_type, is_possible_number): the reference."""
    if not phone:
        return []
    number = _e164_number(phone)
    if number is None:
        try:
            number = phonenumbers.parse(phone, (region or "").upper() or None)
        except phonenumbers.NumberParseException:
            return ["phone_invalid"]
    kind = phonenumbers.number_type(number)
    if kind == T.UNKNOWN:
        return ["phone_possible"] if phonenumbers.is_possible_number(number) else ["phone_invalid"]
    return [_NAMES.get(kind, "phone_other")]


def _examples() -> list[phonenumbers.PhoneNumber]:
    """Every region's (and non-geographic code's) example number of every type, and each with one
    digit changed at random: valid numbers of every type and near misses."""
    out = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in range(12):
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                out.append(number)
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            out.append(number)
    rnd = random.Random(18)
    for number in list(out):
        digits = list(phonenumbers.national_significant_number(number))
        digits[rnd.randrange(len(digits))] = rnd.choice("0123456789")
        out.append(phonenumbers.parse(f"+{number.country_code}{''.join(digits)}", None))
    return out


def test_every_regions_numbers_get_phonenumbers_type():
    numbers = _examples()
    assert len(numbers) > 2000
    assert {phonenumbers.number_type(n) for n in numbers} >= {T.MOBILE, T.FIXED_LINE, T.TOLL_FREE, T.VOIP,
                                                                T.FIXED_LINE_OR_MOBILE, T.UNKNOWN}
    for number in numbers:
        assert number_type(number) == phonenumbers.number_type(number), number
        text = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        assert phone_flags(text) == reference_flags(text), text


@settings(max_examples=400, deadline=None)
@given(code=st.sampled_from(_CODES), national=st.text("0123456789", max_size=16),
       region=st.sampled_from([None, "US", "FR", "GB", "DE"]))
def test_any_plus_number_gets_phonenumbers_flags(code, national, region):
    text = f"+{code}{national}"
    assert phone_flags(text, region) == reference_flags(text, region)


@pytest.mark.parametrize("text, region", [
    ("+1", None), ("+10000000", None), ("+390000000", None), ("+3900612345", None), ("+80012345678", None),
    ("+999123456", None), ("(415) 555-0123", "US"), ("020 7946 0958", "GB"), ("12345", None), ("abc", "FR"),
])
def test_other_texts_read_as_phonenumbers_reads_them(text, region):
    assert phone_flags(text, region) == reference_flags(text, region)
