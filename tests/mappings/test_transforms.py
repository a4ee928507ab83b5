"""Named transforms: exact decimals, aware timestamps, lookups, and clear reasons when a value is bad."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from canalis.mappings import normalize
from canalis.mappings.declarative import transforms
from canalis.mappings.declarative.transforms import TRANSFORMS, TransformError


def t(name: str, value, **args):
    return TRANSFORMS[name](value, **args)


def test_decimal_is_exact_and_reads_decimal_commas() -> None:
    assert t("decimal", "19.90") == Decimal("19.90")
    assert t("decimal", "1 234,50", decimal_comma=True) == Decimal("1234.50")
    assert t("minor_units", "1999") == Decimal("19.99")
    with pytest.raises(TransformError, match="'douze' is not a number"):
        t("decimal", "douze")
    with pytest.raises(TransformError):
        t("decimal", "NaN")


def test_datetime_parses_to_aware_utc() -> None:
    assert t("datetime", "2026-10-05T08:30:00Z") == datetime(2026, 10, 5, 8, 30, tzinfo=UTC)
    assert t("datetime", "2026-01-05T10:00:00.000+0000") == datetime(2026, 1, 5, 10, tzinfo=UTC)
    paris = t("datetime", "12/07/2026 10:00", format="%d/%m/%Y %H:%M", timezone="Europe/Paris")
    assert paris == datetime(2026, 7, 12, 8, 0, tzinfo=UTC)
    with pytest.raises(TransformError, match="not a timestamp"):
        t("datetime", "yesterday")
    with pytest.raises(TransformError, match="unknown time zone"):
        t("datetime", "2026-01-01", timezone="Mars/Olympus")


def test_dates_emails_phones_and_countries() -> None:
    assert t("date", "1985-03-12") == date(1985, 3, 12)
    with pytest.raises(TransformError, match="1990-13-45"):
        t("date", "1990-13-45")
    assert t("email", "  Camille.Dubois@Example.FR ") == "camille.dubois@example.fr"
    with pytest.raises(TransformError, match="not a valid email"):
        t("email", "not-an-email")
    assert t("phone_e164", "06 12 34 56 01") == "+33612345601"
    assert t("phone_e164", "06.12.34.56.01") == "+33612345601"
    assert t("country_code", "France") == "FR"


def test_lookup_boolean_and_prefix() -> None:
    assert t("lookup", "Yes", values={"yes": "granted", "no": "denied"}) == "granted"
    assert t("lookup", "maybe", values={"yes": "granted"}, default="unknown") == "unknown"
    with pytest.raises(TransformError, match="not one of"):
        t("lookup", "maybe", values={"yes": "granted"})
    assert t("boolean", "oui") is True and t("boolean", "0") is False
    with pytest.raises(TransformError):
        t("boolean", "perhaps")
    assert t("strip_prefix", "gid://shopify/Customer/42", prefix="gid://shopify/Customer/") == "42"


def test_phone_digits_without_plus_can_be_read_as_international() -> None:
    assert t("phone_e164", "4915112345678", international_digits=True) == "+4915112345678"
    assert t("phone_e164", "0612345601", international_digits=True) == "+33612345601"


def test_scale_multiplies_exactly() -> None:
    assert t("scale", "0.1", factor=100) == Decimal("10.0")
    assert t("scale", "19.90", factor="0.5") == Decimal("9.950")


EMAILS = [
    None, "", "   ", " Ada@Example.ORG ", "a.d.a+news@gmail.com", "léa.dubois@exemple.fr", "mailto:x@y.fr",
    "<b@c.de>", "not-an-email", "a@b", "a@localhost", "a..b@c.fr", "x@example.invalid", 12, "ÉLODIE@Exemple.Fr",
]  # fmt: skip


@pytest.mark.parametrize("value", EMAILS)
def test_email_transform_gives_what_normalize_email_gives(value) -> None:
    """The transform skips normalize_email's wrapping, not its work: same value, same refusal, same words."""
    text = transforms._text(value)
    try:
        expected = transforms._normalized(normalize.normalize_email(text), "email")
    except transforms.TransformError as error:
        with pytest.raises(transforms.TransformError) as refused:
            transforms.email(value)
        assert str(refused.value) == str(error)
    else:
        assert transforms.email(value) == expected


PHONES = [
    None, "", "  ", "+33 6 12 34 56 78", "06 12 34 56 78", "0612345678", "33612345678", "+33 (0)6 12 34 56 78",
    "0033612345678", "+1 415 555 0100", "12", "abc", "+999 123", "06-12-34-56-78 ", 612345678, "+44 20 7946 0958",
]  # fmt: skip


@pytest.mark.parametrize("value", PHONES)
@pytest.mark.parametrize("args", [{}, {"region": "GB"}, {"international_digits": True}])
def test_phone_transform_gives_what_normalize_phone_gives(value, args) -> None:
    """The transform skips normalize_phone's wrapping, not its work: same value, same refusal, same words."""
    text = transforms._text(value)
    if args.get("international_digits") and text and text.isdigit() and not text.startswith("0"):
        text = "+" + text
    try:
        expected = transforms._normalized(
            normalize.normalize_phone(text, default_region=args.get("region", "FR")), "phone number"
        )
    except transforms.TransformError as error:
        with pytest.raises(transforms.TransformError) as refused:
            transforms.phone_e164(value, **args)
        assert str(refused.value) == str(error)
    else:
        assert transforms.phone_e164(value, **args) == expected
