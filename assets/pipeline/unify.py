"""Unify: resolve source customer records into unified customers with the identity engine."""

from __future__ import annotations

from typing import Any

from mappings.identity import IdentityConfig, ResolutionReport
from mappings.identity.persistence import resolve_customers
from mappings.store import Store


def unify_customers(store: Store, identity_settings: dict[str, Any], *, full: bool = False) -> ResolutionReport:
    """Resolve new and changed customer records (all of them when `full`) into unified customers."""
    config = IdentityConfig.model_validate(identity_settings or {})
    return resolve_customers(store.engine, config=config, full=full)
