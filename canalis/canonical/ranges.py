"""The ranges canonical values must fall in, so that no single value can wedge a later step.

- Amounts and quantities are finite decimals the store can hold (NUMERIC(18, 4): less than 10^14 in absolute
  value). `1e400` or `NaN` is refused, never stored to overflow a sum later.
- Prices, order totals, unit prices, reserved stock and discounts are never negative. Interaction amounts (a
  refund) and stock on hand or available (stock sold before it was received) may be.
- Birth dates lie between 1900-01-01 and today.
- Currencies are ISO 4217 codes in use (from `pycountry`).
- Scores are finite floats.

A value out of range fails the record's validation with the reason: the record goes to quarantine.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Annotated

import pycountry
from pydantic import AfterValidator, Field

from canalis.store.types import Money as MoneyColumn

_MONEY = MoneyColumn.impl
STORE_LIMIT = Decimal(10) ** (_MONEY.precision - _MONEY.scale)
"""Amounts and quantities must be smaller than this in absolute value (what NUMERIC(18, 4) holds)."""

EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def storable(value: Decimal) -> Decimal:
    """A finite decimal the store's amount columns can hold."""
    if not value.is_finite():
        raise ValueError(f"'{value}' is not a finite number")
    if abs(value) >= STORE_LIMIT:
        raise ValueError(f"{value:.4g} is out of range (amounts and quantities must be below {STORE_LIMIT:.0e})")
    return value


def not_negative(value: Decimal) -> Decimal:
    """A storable decimal that is zero or more."""
    value = storable(value)
    if value < 0:
        raise ValueError(f"{value} is negative; this value cannot be")
    return value


def birth_date(value: date) -> date:
    """A birth date in the past, on or after 1900-01-01 (a day of slack for time zones ahead of UTC)."""
    latest = datetime.now(UTC).date() + timedelta(days=1)
    # the reason leaves the date out: it is a personal value, and reasons are shown in run metadata
    if value < EARLIEST_BIRTH_DATE:
        raise ValueError(f"the birth date is before {EARLIEST_BIRTH_DATE.isoformat()}")
    if value > latest:
        raise ValueError("the birth date is in the future")
    return value


@cache
def currency_codes() -> frozenset[str]:
    """ISO 4217 alphabetic codes of the currencies in use."""
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def currency_code(value: str) -> str:
    """An ISO 4217 currency code (upper case, as every mapping writes it)."""
    if value not in currency_codes():
        raise ValueError(f"'{value}' is not an ISO 4217 currency code")
    return value


Amount = Annotated[Decimal, AfterValidator(storable)]
"""An amount of money, of either sign."""

NonNegativeAmount = Annotated[Decimal, AfterValidator(not_negative)]
"""A price, total or discount: zero or more."""

Quantity = Annotated[Decimal, AfterValidator(storable)]
"""A count of units, of either sign (stock on hand may be negative)."""

NonNegativeQuantity = Annotated[Decimal, AfterValidator(not_negative)]
"""A count of units sold, reserved...: zero or more."""

BirthDate = Annotated[date, AfterValidator(birth_date)]

CurrencyCode = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(currency_code)]

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
