"""Dates from ISO, day-first (France) or month-first text, or date objects; ambiguous or impossible -> invalid."""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from canalis.mappings.normalize.names import ascii_fold
from canalis.mappings.normalize.result import Normalized, as_text, empty

MONTHS: dict[str, int] = {
    "janvier": 1, "janv": 1, "jan": 1, "january": 1,
    "fevrier": 2, "fevr": 2, "fev": 2, "feb": 2, "february": 2,
    "mars": 3, "mar": 3, "march": 3,
    "avril": 4, "avr": 4, "apr": 4, "april": 4,
    "mai": 5, "may": 5,
    "juin": 6, "jun": 6, "june": 6,
    "juillet": 7, "juil": 7, "jul": 7, "july": 7,
    "aout": 8, "aug": 8, "august": 8,
    "septembre": 9, "sept": 9, "sep": 9, "september": 9,
    "octobre": 10, "oct": 10, "october": 10,
    "novembre": 11, "nov": 11, "november": 11,
    "decembre": 12, "dec": 12, "december": 12,
}  # fmt: skip

_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$")
_YMD = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_NUMERIC = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
_TEXT_DMY = re.compile(r"^(\d{1,2})(?:er)?\s+([a-z]+)\.?,?\s+(\d{4})$")
_TEXT_MDY = re.compile(r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")


def _build(year: int, month: int, day: int) -> tuple[date | None, str | None]:
    try:
        return date(year, month, day), None
    except ValueError:
        return None, "impossible_date"


@lru_cache(maxsize=65536)
def _parse_text(text: str, day_first: bool) -> tuple[date | None, str | None]:
    if match := _ISO.match(text) or _YMD.match(text) or _COMPACT.match(text):
        return _build(int(match[1]), int(match[2]), int(match[3]))
    if match := _NUMERIC.match(text):
        first, second, year_text = int(match[1]), int(match[2]), match[3]
        if len(year_text) == 2:
            return None, "ambiguous_year"
        day, month = (first, second) if day_first else (second, first)
        return _build(int(year_text), month, day)
    folded = ascii_fold(text).strip()
    if match := _TEXT_DMY.match(folded):
        month = MONTHS.get(match[2])
        return _build(int(match[3]), month, int(match[1])) if month else (None, "unknown_month")
    if match := _TEXT_MDY.match(folded):
        month = MONTHS.get(match[1])
        return _build(int(match[3]), month, int(match[2])) if month else (None, "unknown_month")
    return None, "unrecognised_format"


def parse_date(raw: Any, *, day_first: bool = True) -> Normalized[date]:
    """A date from ISO (1985-03-12), day-first 12/03/1985 (month-first when day_first=False), 12 mars 1985...

    Two-digit years are ambiguous and impossible dates (31/02) invalid; neither is guessed.
    """
    if isinstance(raw, datetime):
        return Normalized(raw.date(), True, None, raw)
    if isinstance(raw, date):
        return Normalized(raw, True, None, raw)
    text = as_text(raw)
    if text is None:
        return empty(raw)
    value, reason = _parse_text(text, day_first)
    return Normalized(value, value is not None, reason, raw)
