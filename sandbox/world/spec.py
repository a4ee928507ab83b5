"""What a generated world looks like: its seed, size and clock, and the summary of what was made.

A world is generated around its `now`: by default the latest 09:00 UTC, so what it injects (promotions running
today, complaints still open) holds when Canalis looks at it with the real clock, and every world of a day is the
same; give `now` to pin a world for reproducible runs (`canalis sandbox serve --now ...`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


def latest_morning() -> datetime:
    """The latest 09:00 UTC: the default clock of a world (whole days apart, so worlds differ only by their dates)."""
    moment = datetime.now(UTC)
    morning = moment.replace(hour=9, minute=0, second=0, microsecond=0)
    return morning if morning <= moment else morning - timedelta(days=1)


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
    now: datetime = field(default_factory=latest_morning)
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
