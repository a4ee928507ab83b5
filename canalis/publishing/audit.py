"""Rows of the write audit: one per announced, applied, failed or settled vendor write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from canalis.publishing.plans import StoredChange
from canalis.sdk import WriteResult


def audit_row(
    change: StoredChange,
    status: str,
    run_id: str | None,
    now: datetime,
    *,
    result: WriteResult | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """The `write_audit` row recording `status` for one planned change (and the vendor's answer, when there is one)."""
    return {
        "run_id": run_id,
        "channel": change.channel,
        "entity_type": change.entity,
        "entity_key": change.record_key,
        "field": change.field,
        "old_value": change.old_value,
        "new_value": change.new_value,
        "status": status,
        "idempotency_key": change.idempotency_key,
        "vendor_response_id": result.vendor_id if result else None,
        "error": (result.error if result else None) or note,
        "created_at": now,
    }
