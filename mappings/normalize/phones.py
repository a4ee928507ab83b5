"""Phone numbers to E.164 with phonenumbers; a fast path handles the common national and international forms."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumber, PhoneNumberFormat

from mappings.normalize.result import Normalized, as_text, empty

_SEPARATORS = re.compile(r"[\s.\-()/\u00a0]")
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


def _fast(digits: str, region: str) -> tuple[str | None, bool] | None:
    """Parse the usual forms without phonenumbers.parse; None when the slow path must decide.

    Returns (E.164, True) for a valid number and (E.164, False) for a number of possible length that is not
    allotted, exactly as the slow path would.
    """
    info = _fast_region(region)
    if info is None:
        return None
    region_code, prefix_zero, zeros_international = info
    if digits.startswith("+"):
        body = digits[1:]
    elif digits.startswith("00") and zeros_international:
        body = digits[2:]
    elif prefix_zero and digits.startswith("0"):
        body = region_code + digits[1:]
    else:
        return None
    if not body.isdigit():
        return None
    codes = _country_codes()
    code = next((body[:k] for k in (1, 2, 3) if body[:k] in codes), None)
    if code is None:
        return None
    national = body[len(code) :]
    if not national or national[0] == "0" or not 4 <= len(national) <= 14:
        return None
    return _check(code, national)


@lru_cache(maxsize=262144)
def _check(code: str, national: str) -> tuple[str, bool] | None:
    """Validity of a number given as country code and national number (cached: spellings share it)."""
    number = PhoneNumber(country_code=int(code), national_number=int(national))
    if phonenumbers.is_valid_number(number):
        return f"+{code}{national}", True
    if phonenumbers.is_possible_number(number):
        return f"+{code}{national}", False
    return None


@lru_cache(maxsize=65536)
def _normalize_text(text: str, region: str) -> tuple[str | None, bool, str | None]:
    compact = _SEPARATORS.sub("", _TRUNK_IN_BRACKETS.sub(r"\1", text))
    fast = _fast(compact, region)
    if fast is not None:
        return fast[0], fast[1], None if fast[1] else "invalid_number"
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
    """(E.164, valid) for matching: valid numbers, and possible-but-unallotted ones marked not valid."""
    if not raw:
        return None, False
    text = raw.strip()
    if not text:
        return None, False
    value, valid, reason = _normalize_text(text, region)
    if valid:
        return value, True
    if reason == "invalid_number" and value and value.startswith("+"):
        return value, False
    return None, False


def normalize_phone(raw: Any, default_region: str = "FR") -> Normalized[str]:
    """A phone number in E.164 (+33612345678); national forms are read in `default_region`.

    A number of possible length that no numbering plan allots is invalid ("invalid_number") but still
    written in E.164, so that two spellings of it compare equal; unparseable input keeps its digits.
    """
    text = as_text(raw)
    if text is None:
        return empty(raw)
    if not any(ch.isdigit() for ch in text):
        return Normalized(text, False, "no_digits", raw)
    value, valid, reason = _normalize_text(text, (default_region or "FR").upper())
    return Normalized(value, valid, reason, raw)
