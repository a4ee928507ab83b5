"""Named transforms for declarative mappings: trim, lower, email, phone_e164, date, decimal, lookup...

A transform takes a value (and its arguments) and returns the new value, or raises TransformError with a
reason. Plugins add their own with `register_transform`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, get_type_hints
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from canalis.mappings import normalize
from canalis.mappings.normalize.emails import email_of_text
from canalis.mappings.normalize.phones import phone_of_text


class TransformError(ValueError):
    """A value could not be transformed; the message says why."""


Transform = Callable[..., Any]
TRANSFORMS: dict[str, Transform] = {}


def register_transform(name: str) -> Callable[[Transform], Transform]:
    """Register a transform under a name usable in mapping files."""

    def decorator(function: Transform) -> Transform:
        TRANSFORMS[name] = function
        return function

    return decorator


def checked_arguments(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """A transform's arguments as its signature types them; ValueError naming the argument when one is wrong.

    Every transform's parameters after the value are its arguments (those starting with `_` are internal). A
    transform may also check argument values with a `check(args)` hook (a time zone that exists...).
    """
    function = TRANSFORMS[name]
    model = _arguments_model(function)
    try:
        checked = model.model_validate(args)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "arguments"
        if first["type"] == "extra_forbidden":
            known = ", ".join(model.model_fields) or "none"
            raise ValueError(f"transform '{name}' has no argument '{where}' (arguments: {known})") from None
        if first["type"] == "missing":
            raise ValueError(f"transform '{name}' needs the argument '{where}'") from None
        raise ValueError(f"transform '{name}' argument '{where}': {first['msg']}") from None
    values = {key: getattr(checked, key) for key in args}
    check = getattr(function, "check", None)
    if check is not None:
        try:
            check(values)
        except ValueError as error:
            raise ValueError(f"transform '{name}': {error}") from None
    return values


_ARGUMENT_MODELS: dict[Callable[..., Any], type[BaseModel]] = {}


def _arguments_model(function: Callable[..., Any]) -> type[BaseModel]:
    """A pydantic model of a transform's arguments, from its signature (unannotated ones take anything)."""
    model = _ARGUMENT_MODELS.get(function)
    if model is not None:
        return model
    hints = get_type_hints(function)
    parameters = list(inspect.signature(function).parameters.values())[1:]
    fields: dict[str, Any] = {}
    for parameter in parameters:
        if parameter.name.startswith("_") or parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.default is inspect.Parameter.empty:
            default: Any = ...
        elif parameter.default is ...:  # a sentinel for "not given" (lookup's default): optional, not required
            default = Field(default_factory=lambda: ...)
        else:
            default = parameter.default
        fields[parameter.name] = (hints.get(parameter.name, Any), default)
    config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    model = create_model(f"{function.__name__}_arguments", __config__=config, **fields)
    _ARGUMENT_MODELS[function] = model
    return model


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@register_transform("trim")
def trim(value: Any) -> str | None:
    """Strip surrounding spaces; empty text becomes null."""
    return _text(value)


@register_transform("lower")
def lower(value: Any) -> str | None:
    text = _text(value)
    return text.lower() if text else None


@register_transform("upper")
def upper(value: Any) -> str | None:
    text = _text(value)
    return text.upper() if text else None


@register_transform("title")
def title(value: Any) -> str | None:
    text = _text(value)
    return text.title() if text else None


@register_transform("string")
def string(value: Any) -> str | None:
    return None if value is None else str(value)


def _normalized(result: normalize.Normalized, what: str) -> Any:
    if result.raw not in (None, "") and (result.value is None or not result.valid):
        reason = (result.reason or "invalid").replace("_", " ")
        raise TransformError(f"'{result.raw}' is not a valid {what} ({reason})")
    return result.value


@register_transform("email")
def email(value: Any) -> str | None:
    """Normalise an email (trim, lower-case, syntax check)."""
    text = _text(value)
    if text is None:
        return None
    normalised, valid, reason = email_of_text(text)  # normalize_email without its wrapping: one per record
    if not valid:
        raise TransformError(f"'{text}' is not a valid email ({(reason or 'invalid').replace('_', ' ')})")
    return normalised


@register_transform("phone_e164")
def phone_e164(value: Any, region: str = "FR", international_digits: bool = False) -> str | None:
    """Normalise a phone number to E.164, reading national numbers in `region`.

    With `international_digits`, a bare run of digits not starting with 0 is read as country code + number
    (systems that store 33612345678 for +33 6 12 34 56 78).
    """
    text = _text(value)
    if text is None:
        return None
    if international_digits and text.isdigit() and not text.startswith("0"):
        text = "+" + text
    normalised, valid, reason = phone_of_text(text, region)  # normalize_phone without its wrapping
    if normalised is None or not valid:
        raise TransformError(f"'{text}' is not a valid phone number ({(reason or 'invalid').replace('_', ' ')})")
    return normalised


def _check_region(args: dict[str, Any]) -> None:
    region = args.get("region")
    if region is not None and region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"region '{region}' is not a region phone numbers are read in (ISO 3166-1 alpha-2)")


phone_e164.check = _check_region  # type: ignore[attr-defined]


@register_transform("country_code")
def country_code(value: Any) -> str | None:
    """A country name or code as ISO 3166-1 alpha-2."""
    return _normalized(normalize.normalize_country(_text(value)), "country")


@register_transform("postcode")
def postcode(value: Any, country: str | None = None) -> str | None:
    return _normalized(normalize.normalize_postcode(_text(value), country), "postcode")


@register_transform("date")
def to_date(value: Any, format: str | None = None) -> date | None:
    """Parse a date; with `format` (strptime) only that layout is accepted."""
    text = _text(value)
    if text is None:
        return None
    if format:
        try:
            return datetime.strptime(text, format).date()
        except ValueError:
            raise TransformError(f"'{text}' is not a date in the format {format}") from None
    return _normalized(normalize.parse_date(text), "date")


@register_transform("datetime")
def to_datetime(value: Any, format: str | None = None, timezone: str = "UTC") -> datetime | None:
    """Parse a timestamp to aware UTC; naive values are read in `timezone`; epoch seconds accepted."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise TransformError(f"{value} is not a timestamp in epoch seconds (out of range)") from None
    return _parse_timestamp(str(value).strip(), format, timezone)


@lru_cache(maxsize=8192)  # per distinct text: the same timestamp often comes twice in a record (record, consent)
def _parse_timestamp(text: str, format: str | None, timezone: str) -> datetime:
    """Aware UTC time of a timestamp text (datetimes are immutable, so a cached one is safe to share)."""
    try:
        zone = ZoneInfo(timezone)
    except ZoneInfoNotFoundError:
        raise TransformError(f"unknown time zone '{timezone}'") from None
    try:
        if format:
            parsed = datetime.strptime(text, format)
        else:
            cleaned = text.replace(" ", "T", 1)
            if cleaned.endswith("Z"):
                cleaned = cleaned[:-1] + "+00:00"
            if len(cleaned) > 5 and cleaned[-5] in "+-" and ":" not in cleaned[-5:] and "T" in cleaned:
                cleaned = f"{cleaned[:-2]}:{cleaned[-2:]}"
            parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        expected = f"the format {format}" if format else "ISO 8601"
        raise TransformError(f"'{text}' is not a timestamp in {expected}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def _check_timezone(args: dict[str, Any]) -> None:
    zone = args.get("timezone")
    if zone is not None and zone not in _time_zones():
        raise ValueError(f"unknown time zone '{zone}'")


def _time_zones() -> set[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = available_timezones() | {"UTC"}
    return _ZONES


_ZONES: set[str] | None = None
to_datetime.check = _check_timezone  # type: ignore[attr-defined]


@register_transform("decimal")
def to_decimal(value: Any, decimal_comma: bool = False, places: int | None = None) -> Decimal | None:
    """An exact decimal from text or int (floats are refused: they are not exact)."""
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = repr(value)
    text = str(value).strip().replace("\u00a0", "").replace(" ", "")
    if decimal_comma:
        text = text.replace(".", "").replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise TransformError(f"'{value}' is not a number") from None
    if not number.is_finite():
        raise TransformError(f"'{value}' is not a finite number")
    if places is not None:
        number = number.quantize(Decimal(1).scaleb(-places))
    return number


@register_transform("scale")
def scale(value: Any, factor: str | int | float) -> Decimal | None:
    """Multiply an exact decimal by a factor (e.g. 100 to turn a 0.1 rate into 10 percentage points)."""
    number = to_decimal(value)
    return None if number is None else number * Decimal(str(factor))


@register_transform("minor_units")
def minor_units(value: Any, exponent: int = 2) -> Decimal | None:
    """An amount in minor units (cents) as a decimal amount."""
    if value is None or value == "":
        return None
    try:
        return Decimal(int(str(value).strip())).scaleb(-exponent)
    except ValueError:
        raise TransformError(f"'{value}' is not a whole number of minor units") from None


@register_transform("integer")
def integer(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        raise TransformError(f"'{value}' is not a whole number") from None


@register_transform("float")
def to_float(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value).strip().replace(",", "."))
    except ValueError:
        raise TransformError(f"'{value}' is not a number") from None


TRUE_WORDS = {"1", "true", "yes", "y", "oui", "o", "t", "on", "x"}
FALSE_WORDS = {"0", "false", "no", "n", "non", "f", "off"}


@register_transform("boolean")
def boolean(value: Any) -> bool | None:
    """yes/no, true/false, 1/0, oui/non as a boolean."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise TransformError(f"'{value}' is not a yes/no value")


@register_transform("lookup")
def lookup(
    value: Any,
    values: dict[Any, Any],
    default: Any = ...,
    case_sensitive: bool = False,
    _folded: dict[str, Any] | None = None,
) -> Any:
    """Replace a value through a table; unknown values fail unless a default is given."""
    key = "" if value is None else str(value).strip()
    folded = _folded if _folded is not None else None if case_sensitive else _fold_keys(values)
    table = values if case_sensitive else folded
    probe = key if case_sensitive else key.lower()
    if probe in table:
        return table[probe]
    if default is not ...:
        return default
    raise TransformError(f"'{key}' is not one of {', '.join(map(str, values))}")


def _fold_keys(values: dict[str, Any]) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in values.items()}


def _prepare_lookup(args: dict[str, Any]) -> dict[str, Any]:
    """Fold the table's keys once, when the mapping is compiled, rather than on every value."""
    if args.get("case_sensitive") or not isinstance(args.get("values"), dict):
        return args
    return {**args, "_folded": _fold_keys(args["values"])}


lookup.prepare = _prepare_lookup  # type: ignore[attr-defined]


@register_transform("strip_prefix")
def strip_prefix(value: Any, prefix: str) -> str | None:
    """Remove a prefix such as an id namespace (gid://shop/Customer/)."""
    text = _text(value)
    return text.removeprefix(prefix) if text else None


@register_transform("split_take")
def split_take(value: Any, separator: str = " ", index: int = 0) -> str | None:
    """Split text and keep one part (e.g. the first word of a full name)."""
    text = _text(value)
    if text is None:
        return None
    parts = text.split(separator)
    return parts[index].strip() if -len(parts) <= index < len(parts) else None


@register_transform("truncate")
def truncate(value: Any, length: int) -> str | None:
    text = _text(value)
    return text[:length] if text else None
