"""The outcome of normalising one value: the clean value, whether it is valid, why not, and the raw input."""

from __future__ import annotations

from typing import Any, Generic, NamedTuple, TypeVar

T = TypeVar("T")


class Normalized(NamedTuple, Generic[T]):
    """A normalised value.

    `value` is the canonical form when `valid`; when not valid it is the trimmed input for text values (never a
    guess) or None for dates. `reason` says why a value is invalid (or notes a repair such as zero padding).
    A named tuple, as one is made for every value normalised; it is true only when the value is valid.
    """

    value: T | None
    valid: bool
    reason: str | None
    raw: Any

    def __bool__(self) -> bool:
        return self.valid


def empty(raw: Any) -> Normalized[Any]:
    """The result for a missing or blank input."""
    return Normalized(None, False, "empty", raw)


def as_text(raw: Any) -> str | None:
    """The input as stripped text, or None when it is missing or blank."""
    if raw is None:
        return None
    text = raw if isinstance(raw, str) else str(raw)
    text = text.strip()
    return text or None
