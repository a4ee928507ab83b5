"""What a consistency rule reports: one finding per inconsistent entity and set of channels."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warn"]


@dataclass(frozen=True)
class Finding:
    """One inconsistency seen now: which rule, which entity, which channels disagree, and how."""

    code: str
    entity_type: str
    entity_key: str
    channels: list[str]
    details: dict[str, Any] = field(default_factory=dict)
    severity: Severity = "warn"

    @property
    def identity(self) -> tuple[str, str, str, tuple[str, ...]]:
        """What makes two findings the same inconsistency: rule, entity and, where they define it, the channels.

        A customer-level rule finds at most one inconsistency per customer; the systems involved may change as
        channels are fixed (a pause written to the CRM) without it becoming a new inconsistency.
        """
        channels = () if self.code in PER_CUSTOMER_CODES else tuple(sorted(set(self.channels)))
        return (self.code, self.entity_type, self.entity_key, channels)


PER_CUSTOMER_CODES = frozenset({"customer_attribute_conflict", "consent_conflict", "complaint_targeted_by_promotion"})

RuleCheck = Callable[..., Iterator[Finding]]
"""(connection, settings, now) -> findings; customer rules also take `scope=` (a CustomerScope or None)."""


@dataclass(frozen=True)
class Rule:
    """A consistency rule of the catalogue."""

    code: str
    severity: Severity
    entity_type: str
    description: str
    check: RuleCheck
    tables: tuple[str, ...] = ()
