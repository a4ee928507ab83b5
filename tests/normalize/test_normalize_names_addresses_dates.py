"""Names, addresses, countries, postcodes and dates on tricky inputs."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from canalis.mappings.normalize import (
    fold_name,
    fold_place,
    normalize_country,
    normalize_postcode,
    normalize_street,
    parse_date,
    phonetic_key,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jean-François", "jean francois"),
        ("  JEAN   françois ", "jean francois"),
        ("d'Artagnan", "artagnan"),
        ("De La Fontaine", "fontaine"),
        ("van der Berg", "berg"),
        ("Le Goff", "goff"),
        ("O\u2019Brien", "o brien"),
        ("Müller", "muller"),
        ("Œdipe Strauß", "oedipe strauss"),
        ("Łukasz Ørsted", "lukasz orsted"),
        ("M. Jean Dupont", "jean dupont"),
        ("Mme Hélène", "helene"),
        ("Le", "le"),
        ("", ""),
        (None, ""),
    ],
)
def test_fold_name(raw: str | None, expected: str) -> None:
    assert fold_name(raw) == expected


def test_phonetic_key_groups_sound_alikes() -> None:
    assert phonetic_key("dupont") == phonetic_key("dupond")
    assert phonetic_key("philippe") == phonetic_key("filipe")
    assert phonetic_key("martin") != phonetic_key("bernard")
    assert phonetic_key("") == ""


@pytest.mark.parametrize(
    ("raw", "code"),
    [("France", "FR"), ("france ", "FR"), ("FR", "FR"), ("FRA", "FR"), ("250", "FR"), ("Allemagne", "DE"),
     ("Germany", "DE"), ("Deutschland", "DE"), ("Royaume-Uni", "GB"), ("UK", "GB"), ("United Kingdom", "GB"),
     ("États-Unis", "US"), ("Suisse", "CH"), ("Belgique", "BE"), ("Pays-Bas", "NL"), ("España", "ES")],
)  # fmt: skip
def test_country_names_and_codes(raw: str, code: str) -> None:
    result = normalize_country(raw)
    assert result.valid
    assert result.value == code


@pytest.mark.parametrize("raw", ["Atlantis", "XX", "12"])
def test_unknown_country(raw: str) -> None:
    result = normalize_country(raw)
    assert not result.valid
    assert result.reason == "unknown_country"


@pytest.mark.parametrize(
    ("raw", "country", "expected", "valid"),
    [("75011", "FR", "75011", True), ("6000", "FR", "06000", True), ("F-75011", "France", "75011", True),
     ("sw1a1aa", "GB", "SW1A 1AA", True), ("1012ab", "NL", "1012 AB", True), ("1000", "BE", "1000", True),
     ("ABCDE", "FR", "ABCDE", False), ("750111", "FR", "750111", False), ("12345", None, "12345", True)],
)  # fmt: skip
def test_postcodes(raw: str, country: str | None, expected: str, valid: bool) -> None:
    result = normalize_postcode(raw, country)
    assert (result.value, result.valid) == (expected, valid)


def test_zero_padding_is_noted() -> None:
    assert normalize_postcode("6000", "FR").reason == "zero_padded"


@pytest.mark.parametrize(
    ("a", "b"),
    [("12, av. Victor-Hugo", "12 avenue Victor Hugo"), ("3 bis Bd St Germain", "3bis boulevard Saint-Germain"),
     ("12 r. de la République", "12 rue République"), ("5 Station Rd", "5 station road"),
     ("221B Baker St", "221b Baker Street"), ("8 pl. du Marché", "8 place du marché"),
     ("4 imp. des Lilas", "4 impasse des lilas"), ("7 all. des Tilleuls", "7 allée des tilleuls")],
)  # fmt: skip
def test_street_keys_expand_abbreviations(a: str, b: str) -> None:
    assert normalize_street(a) == normalize_street(b)
    assert normalize_street(a)


def test_st_is_saint_before_a_name_and_street_at_the_end() -> None:
    assert normalize_street("10 rue St Denis") == "10 rue saint denis"
    assert normalize_street("10 Abbey St") == "10 abbey street"
    assert normalize_street(None) == ""


def test_city_key() -> None:
    assert fold_place("ST-ÉTIENNE CEDEX 2") == fold_place("Saint-Etienne") == "saint etienne"
    assert fold_place("Paris 11e") == "paris"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1985-03-12", date(1985, 3, 12)), ("12/03/1985", date(1985, 3, 12)), ("12.03.1985", date(1985, 3, 12)),
     ("12-03-1985", date(1985, 3, 12)), ("19850312", date(1985, 3, 12)), ("1985/03/12", date(1985, 3, 12)),
     ("12 mars 1985", date(1985, 3, 12)), ("1er janvier 2000", date(2000, 1, 1)),
     ("March 12, 1985", date(1985, 3, 12)), ("12 Feb 1985", date(1985, 2, 12)),
     ("2020-01-01T10:00:00Z", date(2020, 1, 1)), (date(1990, 5, 6), date(1990, 5, 6)),
     (datetime(1990, 5, 6, 12, 0), date(1990, 5, 6))],
)  # fmt: skip
def test_dates(raw: object, expected: date) -> None:
    result = parse_date(raw)
    assert result.valid, result.reason
    assert result.value == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [("31/02/1985", "impossible_date"), ("2021-13-01", "impossible_date"), ("12/03/85", "ambiguous_year"),
     ("03/25/1985", "impossible_date"), ("next tuesday", "unrecognised_format"), ("12 brumaire 1985", "unknown_month"),
     ("", "empty")],
)  # fmt: skip
def test_invalid_dates(raw: str, reason: str) -> None:
    result = parse_date(raw)
    assert not result.valid
    assert result.value is None
    assert result.reason == reason


def test_month_first_when_asked() -> None:
    assert parse_date("03/25/1985", day_first=False).value == date(1985, 3, 25)
    assert parse_date("03/04/1985", day_first=False).value == date(1985, 3, 4)
    assert parse_date("03/04/1985").value == date(1985, 4, 3)
