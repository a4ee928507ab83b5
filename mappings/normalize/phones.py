"""Phone numbers to E.164 with phonenumbers; a fast path handles the common national and international forms."""

from __future__ import annotations

import re
from functools import cache, lru_cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat

from canalis.mappings.normalize.result import Normalized, as_text, empty

_DROP_SEPARATORS = str.maketrans("", "", " \t\n\r.-()/\u00a0\u202f")
_TRUNK_IN_BRACKETS = re.compile(r"^(\+\d{1,3})\s*\(0\)")


@lru_cache(maxsize=512)
def _fast_region(region: str) -> tuple[str, bool, bool] | None:
    """(country code, national prefix is "0", "00" dials abroad) for a region the fast path can read exactly."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None:
        return None
    prefix_zero = metadata.national_prefix == "0" and metadata.national_prefix_for_parsing in (None, "0")
    if metadata.national_prefix_transform_rule:
        return None
    return str(metadata.country_code), prefix_zero, metadata.international_prefix == "00"


@lru_cache(maxsize=1)
def _country_codes() -> frozenset[str]:
    return frozenset(str(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE)


def _fast(digits: str, region: str) -> tuple[str, bool, str | None] | None:
    """Read the usual forms without phonenumbers.parse; None when the slow path must decide.

    Gives exactly what the slow path gives: (E.164, True, None) for a valid number, (E.164, False,
    "invalid_number") for a number of possible length allotted to no one, (digits, False, "impossible_number")
    for a number of impossible length.
    """
    info = _fast_region(region)
    if info is None:
        return None
    region_code, prefix_zero, zeros_international = info
    if digits.startswith("+") or (zeros_international and digits.startswith("00")):
        body = digits[1:] if digits[0] == "+" else digits[2:]
        if not body.isdigit():
            return None
        codes = _country_codes()
        code = next((body[:k] for k in (1, 2, 3) if body[:k] in codes), None)
        if code is None:
            return None
        national = body[len(code) :]
    elif prefix_zero and digits.startswith("0"):
        code, national = region_code, digits[1:]
        if not national.isdigit():
            return None
    elif digits.isdigit() and digits.startswith(region_code) and digits[0] != "0":
        # The region's country code without "+" (33612345678), when the digits are no national number
        # themselves: phonenumbers reads it the same way.
        national = digits[len(region_code) :]
        if not national or national[0] == "0" or is_valid_national(int(region_code), digits) is not False:
            return None
        found = _check(region_code, national)
        return (found[0], True, None) if found is not None and found[1] else None
    else:
        return None
    if not national or national[0] == "0" or not 2 <= len(national) <= 17:
        return None
    found = _check(code, national)
    if found is not None and found[1]:
        return found[0], True, None
    if not _plain_prefix(int(code)):
        return None  # phonenumbers may strip a national prefix (NANP "1") and find a valid number
    if found is None:
        return digits, False, "impossible_number"
    return found[0], False, "invalid_number"


@cache
def _plain_prefix(code: int) -> bool:
    """Whether the main region of a country code has no national prefix but "0" (nothing else to strip)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
    metadata = PhoneMetadata.metadata_for_region(regions[0].upper(), None) if regions and regions[0].isalpha() else None
    if metadata is None:
        return False
    return metadata.national_prefix in (None, "0") and metadata.national_prefix_for_parsing in (None, "0")


_TYPES: tuple[str, ...] = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
    "fixed_line", "mobile",
)  # fmt: skip
_Desc = tuple[frozenset[int], re.Pattern[str]] | None


def _desc(desc: object) -> _Desc:
    pattern = getattr(desc, "national_number_pattern", None)
    if desc is None or not pattern:
        return None
    return frozenset(getattr(desc, "possible_length", ()) or ()), re.compile(pattern)


def _matches(national: str, desc: _Desc) -> bool:
    if desc is None:
        return False
    lengths, pattern = desc
    if lengths and len(national) not in lengths:
        return False
    return pattern.fullmatch(national) is not None


class _Plan:
    """One region's numbering plan compiled for validity checks: per length, one pattern for all types."""

    __slots__ = ("by_length", "general", "leading")

    def __init__(self, metadata: PhoneMetadata) -> None:
        self.leading = re.compile(metadata.leading_digits) if metadata.leading_digits is not None else None
        self.general = _desc(metadata.general_desc)
        types = [d for d in (_desc(getattr(metadata, t)) for t in _TYPES) if d is not None]
        lengths = set().union(*(d[0] for d in types)) if types else set()
        self.by_length: dict[int, re.Pattern[str]] = {}
        for length in lengths | (self.general[0] if self.general else set()):
            fitting = [d[1].pattern for d in types if not d[0] or length in d[0]]
            if fitting:
                self.by_length[length] = re.compile("|".join(f"(?:{p})" for p in fitting))
        unrestricted = [d[1].pattern for d in types if not d[0]]
        self.by_length[-1] = re.compile("|".join(f"(?:{p})" for p in unrestricted)) if unrestricted else None

    def valid(self, national: str) -> bool:
        if not _matches(national, self.general):
            return False
        pattern = self.by_length.get(len(national), self.by_length[-1])
        return pattern is not None and pattern.fullmatch(national) is not None


@cache
def _plans(code: int) -> tuple[tuple[_Plan, ...], bool] | None:
    """Compiled numbering plans of the regions sharing a country code (None: let phonenumbers decide)."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
    if not regions or any(not r.isalpha() for r in regions):
        return None
    plans = []
    for region in regions:
        metadata = PhoneMetadata.metadata_for_region(region.upper(), None)
        if metadata is not None:
            plans.append(_Plan(metadata))
    return tuple(plans), len(regions) == 1


def is_valid_national(code: int, national: str) -> bool | None:
    """phonenumbers.is_valid_number for a number without leading zero, from precompiled plans.

    Same rules as phonenumbers (the region is the only one of its code, else the first whose leading digits
    or patterns fit; then the general pattern and one type pattern must match). None when unsure.
    """
    found = _plans(code)
    if found is None:
        return None
    plans, single = found
    for plan in plans:
        if not single:
            if plan.leading is not None:
                if not plan.leading.match(national):
                    continue
            elif not plan.valid(national):
                continue
        return plan.valid(national)
    return False


@cache
def _possible_lengths(code: int) -> frozenset[int] | None:
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code)
    if not regions or not regions[0].isalpha():
        return None
    metadata = PhoneMetadata.metadata_for_region(regions[0].upper(), None)
    if metadata is None or metadata.general_desc is None:
        return None
    general = metadata.general_desc
    return frozenset(general.possible_length or ()) | frozenset(general.possible_length_local_only or ())


def is_possible_national(code: int, national: str) -> bool | None:
    """phonenumbers.is_possible_number from the lengths of the code's main region (None when unsure)."""
    lengths = _possible_lengths(code)
    return None if lengths is None else len(national) in lengths


@lru_cache(maxsize=32768)  # per-value caches are bounded so memory stays flat over long streams
def _check(code: str, national: str) -> tuple[str, bool] | None:
    """Validity of a number given as country code and national number (cached: spellings share it)."""
    valid = is_valid_national(int(code), national)
    if valid:
        return f"+{code}{national}", True
    number = PhoneNumber(country_code=int(code), national_number=int(national))
    if valid is None and phonenumbers.is_valid_number(number):
        return f"+{code}{national}", True
    possible = is_possible_national(int(code), national)
    if possible is not None:
        return (f"+{code}{national}", False) if possible else None
    if phonenumbers.is_possible_number(number):
        return f"+{code}{national}", False
    return None


@lru_cache(maxsize=32768)
def _normalize_text(text: str, region: str) -> tuple[str | None, bool, str | None]:
    if "(0" in text:
        text = _TRUNK_IN_BRACKETS.sub(r"\1", text)
    compact = text.translate(_DROP_SEPARATORS)
    fast = _fast(compact, region)
    if fast is not None:
        return fast
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as error:
        number, problem = None, f"unparseable: {error}"
    else:
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, PhoneNumberFormat.E164), True, None
        problem = "invalid_number" if phonenumbers.is_possible_number(number) else "impossible_number"
    if compact.isdigit() and compact[0] != "0" and 10 <= len(compact) <= 15:
        # An international number written without "+" or "00" (as some SMS tools export them).
        fallback = _normalize_text("+" + compact, region)
        if fallback[1]:
            return fallback
    if number is not None and problem == "invalid_number":
        return phonenumbers.format_number(number, PhoneNumberFormat.E164), False, problem
    return compact, False, problem


def phone_key(raw: str | None, region: str = "FR") -> tuple[str | None, bool]:
    """(E.164, valid) for matching: valid numbers, and possible-but-unallotted ones marked not valid.

    Unlike normalize_phone, digits starting with the region's country code that are no valid national
    number are read as international (33694541813 -> +33694541813), as SMS tools export them, so that an
    unallotted number compares equal however it was written.
    """
    if not raw:
        return None, False
    text = raw.strip()
    if not text:
        return None, False
    info = _fast_region(region.upper())
    bare = info is not None and text.isdigit() and text[0] != "0" and text.startswith(info[0])
    if bare and info is not None and is_valid_national(int(info[0]), text) is False:
        text = "+" + text
    value, valid, reason = _normalize_text(text, region)
    if valid:
        return value, True
    if reason == "invalid_number" and value and value.startswith("+"):
        return value, False
    return None, False


def phone_of_text(text: str, default_region: str = "FR") -> tuple[str | None, bool, str | None]:
    """(value, valid, reason) of an already stripped, non-empty text: what normalize_phone gives, unwrapped."""
    if not any(map(str.isdigit, text)):
        return text, False, "no_digits"
    return _normalize_text(text, (default_region or "FR").upper())


def normalize_phone(raw: Any, default_region: str = "FR") -> Normalized[str]:
    """A phone number in E.164 (+33612345678); national forms are read in `default_region`.

    A number of possible length that no numbering plan allots is invalid ("invalid_number") but still
    written in E.164, so that two spellings of it compare equal; unparseable input keeps its digits.
    """
    text = as_text(raw)
    if text is None:
        return empty(raw)
    if not any(map(str.isdigit, text)):
        return Normalized(text, False, "no_digits", raw)
    value, valid, reason = _normalize_text(text, (default_region or "FR").upper())
    return Normalized(value, valid, reason, raw)
