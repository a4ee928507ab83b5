"""Postal details: ISO country codes from names or codes, postcodes per country, street and city comparison keys."""

from __future__ import annotations

import gettext
import re
from functools import lru_cache
from typing import Any

import pycountry

from canalis.mappings.normalize.names import ascii_fold
from canalis.mappings.normalize.result import Normalized, as_text, empty

_COUNTRY_ALIASES: dict[str, str] = {
    "uk": "GB", "u k": "GB", "great britain": "GB", "grande bretagne": "GB", "angleterre": "GB",
    "england": "GB", "scotland": "GB", "ecosse": "GB", "wales": "GB", "pays de galles": "GB",
    "royaume uni": "GB", "united kingdom": "GB", "usa": "US", "u s a": "US", "us": "US", "etats unis": "US",
    "etats unis d amerique": "US", "united states": "US", "united states of america": "US", "america": "US",
    "holland": "NL", "hollande": "NL", "pays bas": "NL", "russia": "RU", "russie": "RU", "south korea": "KR",
    "coree du sud": "KR", "vietnam": "VN", "czech republic": "CZ", "republique tcheque": "CZ",
    "ivory coast": "CI", "cote d ivoire": "CI", "turkey": "TR", "turquie": "TR", "iran": "IR", "syria": "SY",
    "bolivia": "BO", "venezuela": "VE", "tanzania": "TZ", "moldova": "MD", "laos": "LA", "taiwan": "TW",
    "macedonia": "MK", "kosovo": "XK", "fr": "FR", "metropolitan france": "FR", "france metropolitaine": "FR",
    "deutschland": "DE", "espana": "ES", "italia": "IT", "belgie": "BE", "schweiz": "CH", "svizzera": "CH",
    "nederland": "NL", "osterreich": "AT", "portugal": "PT", "polska": "PL", "sverige": "SE", "danmark": "DK",
    "norge": "NO", "suomi": "FI", "eire": "IE", "ireland": "IE", "irlande": "IE", "luxemburg": "LU",
}  # fmt: skip


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", ascii_fold(text)).split())


@lru_cache(maxsize=1)
def _country_names() -> dict[str, str]:
    names: dict[str, str] = {}
    try:
        french = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["fr"])
    except OSError:  # pragma: no cover - pycountry always ships its locales
        french = gettext.NullTranslations()
    for country in pycountry.countries:
        code = country.alpha_2
        for attr in ("name", "official_name", "common_name"):
            name = getattr(country, attr, None)
            if name:
                names.setdefault(_key(name), code)
                names.setdefault(_key(french.gettext(name)), code)
        names.setdefault(country.alpha_3.lower(), code)
        names.setdefault(country.numeric, code)
    names.update(_COUNTRY_ALIASES)
    return names


@lru_cache(maxsize=4096)
def _country(text: str) -> str | None:
    if len(text) == 2 and text.isalpha():
        code = text.upper()
        if code == "UK":
            return "GB"
        return code if pycountry.countries.get(alpha_2=code) or code == "XK" else None
    return _country_names().get(_key(text))


def country_code(raw: str | None) -> str | None:
    """ISO alpha-2 code of a country name or code, or None: the fast form used for matching."""
    if not raw:
        return None
    text = raw.strip()
    return _country(text) if text else None


def postcode_key(raw: str | None, country: str | None) -> str | None:
    """The normalised postcode when valid for the ISO country code, else None."""
    if not raw:
        return None
    text = raw.strip()
    if not text:
        return None
    value, valid, _ = _postcode(text, country)
    return value if valid else None


def postcode_fits(raw: str, country: str) -> bool:
    """Whether a postcode is written as a valid one of the country, without repair (no restored leading zero);
    True for a country whose postcodes are not known here."""
    compact = re.sub(r"[\s\-.]", "", raw.strip().upper())
    rule = _POSTCODES.get(country)
    return rule is None or bool(re.fullmatch(rule[0], compact))


def normalize_country(raw: Any) -> Normalized[str]:
    """ISO 3166-1 alpha-2 code from a code (FR, FRA, 250) or a name in French or English (Allemagne, Germany)."""
    text = as_text(raw)
    if text is None:
        return empty(raw)
    code = _country(text)
    if code is None:
        return Normalized(text, False, "unknown_country", raw)
    return Normalized(code, True, None, raw)


# Postcode patterns on the compact (upper-case, no space) form, and how to print the valid ones.
_POSTCODES: dict[str, tuple[str, str]] = {
    "FR": (r"\d{5}", "{}"), "DE": (r"\d{5}", "{}"), "ES": (r"\d{5}", "{}"), "IT": (r"\d{5}", "{}"),
    "US": (r"\d{5}(\d{4})?", "us"), "BE": (r"\d{4}", "{}"), "CH": (r"\d{4}", "{}"), "AT": (r"\d{4}", "{}"),
    "LU": (r"(L)?\d{4}", "lu"), "DK": (r"\d{4}", "{}"), "NO": (r"\d{4}", "{}"), "NL": (r"\d{4}[A-Z]{2}", "nl"),
    "PT": (r"\d{7}", "pt"), "SE": (r"\d{5}", "se"), "PL": (r"\d{5}", "pl"), "MC": (r"980\d{2}", "{}"),
    "GB": (r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}", "gb"), "CA": (r"[A-Z]\d[A-Z]\d[A-Z]\d", "ca"),
    "IE": (r"[A-Z]\d[\dW][A-Z\d]{4}", "ie"),
}  # fmt: skip
# Countries whose numeric postcodes lose their leading zero when they pass through a spreadsheet.
_ZERO_PADDED: dict[str, int] = {"FR": 5, "DE": 5, "IT": 5, "ES": 5, "US": 5}


def _format_postcode(compact: str, style: str) -> str:
    match style:
        case "us":
            return compact if len(compact) == 5 else f"{compact[:5]}-{compact[5:]}"
        case "lu":
            return compact.removeprefix("L")
        case "nl":
            return f"{compact[:4]} {compact[4:]}"
        case "pt":
            return f"{compact[:4]}-{compact[4:]}"
        case "se" | "pl":
            return f"{compact[:3]} {compact[3:]}" if style == "se" else f"{compact[:2]}-{compact[2:]}"
        case "gb" | "ca" | "ie":
            return f"{compact[:-3]} {compact[-3:]}"
    return compact


@lru_cache(maxsize=65536)
def _postcode(text: str, country: str | None) -> tuple[str, bool, str | None]:
    compact = re.sub(r"[\s\-.]", "", text.upper())
    if country in ("FR", "MC") and compact.startswith("F") and compact[1:].isdigit():
        compact = compact[1:]
    if country is None or country not in _POSTCODES:
        if re.fullmatch(r"[A-Z0-9]{2,10}", compact):
            return compact, True, None
        return compact, False, "invalid_postcode"
    pattern, style = _POSTCODES[country]
    note = None
    width = _ZERO_PADDED.get(country)
    if width and compact.isdigit() and len(compact) == width - 1:
        compact, note = "0" + compact, "zero_padded"
    if not re.fullmatch(pattern, compact):
        return compact, False, "invalid_postcode"
    return _format_postcode(compact, style), True, note


def normalize_postcode(raw: Any, country: str | None = "FR") -> Normalized[str]:
    """A postcode in the country's usual form (75011, SW1A 1AA, 1012 AB); a lost leading zero is restored."""
    text = as_text(raw)
    if text is None:
        return empty(raw)
    code = normalize_country(country).value if country else None
    value, valid, reason = _postcode(text, code if isinstance(code, str) and len(code) == 2 else None)
    return Normalized(value, valid, reason, raw)


# Street words and their abbreviations, French and English, mapped to one spelling.
STREET_WORDS: dict[str, str] = {
    "av": "avenue", "ave": "avenue", "avn": "avenue", "aven": "avenue",
    "bd": "boulevard", "bld": "boulevard", "blvd": "boulevard", "boul": "boulevard", "bvd": "boulevard",
    "r": "rue", "pl": "place", "ch": "chemin", "chem": "chemin", "che": "chemin", "all": "allee",
    "imp": "impasse", "rte": "route", "rt": "route", "fbg": "faubourg", "fg": "faubourg", "crs": "cours",
    "sq": "square", "qu": "quai", "pas": "passage", "pass": "passage", "res": "residence", "resid": "residence",
    "lot": "lotissement", "ham": "hameau", "zi": "zone industrielle", "za": "zone artisanale",
    "ste": "sainte", "mal": "marechal", "gal": "general", "gen": "general", "pdt": "president",
    "rd": "road", "str": "street", "ln": "lane", "dr": "drive", "cl": "close", "cres": "crescent",
    "ct": "court", "gdns": "gardens", "pk": "park", "ter": "ter", "terr": "terrace", "mt": "mount",
}  # fmt: skip
# Words left out of the street key: articles and prepositions that people write or omit at will.
STREET_STOPWORDS: frozenset[str] = frozenset(
    {"de", "du", "des", "d", "la", "le", "les", "l", "the", "of", "n", "no", "numero"}
)
_NUMBER_SUFFIX = re.compile(r"\b(\d+)\s*(bis|ter|quater|[a-d])\b")


@lru_cache(maxsize=262144)
def _street(text: str) -> str:
    folded = re.sub(r"[^a-z0-9]+", " ", ascii_fold(text).replace("n°", " "))
    folded = _NUMBER_SUFFIX.sub(r"\1\2", folded)
    tokens = folded.split()
    out: list[str] = []
    last = len(tokens) - 1
    for index, word in enumerate(tokens):
        if word == "st":  # "Saint" before a name, "Street" closing an English street line
            word = "street" if index == last and index > 0 else "saint"
        word = STREET_WORDS.get(word, word)
        if word not in STREET_STOPWORDS:
            out.append(word)
    return " ".join(out)


def normalize_street(raw: Any) -> str:
    """Comparison key of a street line: folded, abbreviations expanded.

    "12, av. Victor-Hugo" -> "12 avenue victor hugo".

    "St" is "saint" before a name and "street" at the end of an English street line. Empty input gives "".
    """
    text = as_text(raw)
    return _street(text) if text else ""


@lru_cache(maxsize=65536)
def _place(text: str) -> str:
    folded = re.sub(r"[^a-z0-9]+", " ", ascii_fold(text))
    tokens = []
    for token in folded.split():
        if token in ("cedex", "cdx") or token.isdigit() or re.fullmatch(r"\d+(e|er|eme)", token):
            continue
        tokens.append({"st": "saint", "ste": "sainte"}.get(token, token))
    return " ".join(tokens)


def fold_place(raw: Any) -> str:
    """Comparison key of a city name ("ST-ETIENNE CEDEX 2" -> "saint etienne")."""
    text = as_text(raw)
    return _place(text) if text else ""
