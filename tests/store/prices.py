"""Price rows for store tests: numbered, each with its own content hash."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal


def numbered_price(n: int) -> dict:
    return {
        "price_key": f"shop:SKU-{n}:web",
        "source": "shop",
        "sku": f"SKU-{n}",
        "price_list": "web",
        "amount": Decimal("9.90"),
        "currency": "EUR",
        "tax_included": True,
        "loaded_at": datetime(2026, 1, 1, tzinfo=UTC),
        "content_hash": f"h-{n}",
    }
