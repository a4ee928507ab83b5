"""What a generated world looks like: its seed, size and fixed clock, and the summary of what was made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

DEFAULT_NOW = datetime(2026, 1, 15, 9, 0, 0, tzinfo=UTC)

SYSTEMS: tuple[str, ...] = (
    "salesforce",
    "hubspot",
    "shopify",
    "square",
    "odoo",
    "brevo",
    "mailbox",
    "freshdesk",
    "mailchimp",
)

INCONSISTENCY_KINDS: tuple[str, ...] = (
    "price_mismatch",
    "promo_missing",
    "promo_expired_but_active",
    "promo_value_mismatch",
    "stock_oversell_risk",
    "customer_attribute_conflict",
    "duplicate_in_channel",
    "consent_conflict",
    "complaint_targeted_by_promotion",
)


@dataclass(frozen=True)
class WorldSpec:
    """How to generate a world; the same spec always gives the same world."""

    seed: int = 42
    customers: int = 300
    inject_inconsistencies: bool = True
    now: datetime = DEFAULT_NOW
    locale: str = "fr_FR"
    history_days: int = 730
    chunk_size: int = 2000
    products: int = 120
    faults_per_kind: int = 3


@dataclass
class WorldSummary:
    """What a generation run produced."""

    seed: int
    customers: int
    data_dir: str
    store_path: str
    objects: dict[str, dict[str, int]] = field(default_factory=dict)
    truth_records: int = 0
    inconsistencies: dict[str, int] = field(default_factory=dict)
    maildir_messages: int = 0
    seconds: float = 0.0

    def total_objects(self) -> int:
        """How many vendor objects were stored in all."""
        return sum(sum(types.values()) for types in self.objects.values())
