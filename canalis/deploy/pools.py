"""Dagster concurrency pools: one per vendor API for reads, sized from the vendor's documented limits.

A step reading a vendor API paces itself at the connection's `requests_per_second`. Several steps on several
workers each pace themselves, so the fleet stays inside a vendor's budget only if the number of steps running at
once is capped: the pool's limit is the vendor's documented budget divided by one step's pace (at least one),
and never more than the vendor's documented cap on concurrent requests. Sources with no API budget (files, a
database, a mailbox) get one pool per connection. Writes all go through `canalis_publish`, one at a time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from canalis.config.connections import CanalisConfig
from canalis.connectors.registry import RegisteredConnector
from canalis.sdk.base import Connector


class VendorBudget(BaseModel):
    """What a vendor documents about how hard one account may call its API."""

    model_config = ConfigDict(frozen=True)

    requests_per_second: float | None = Field(description="sustained calls per second per account; None if none")
    concurrent_requests: int = Field(ge=1, description="calls in flight at once per account")
    source: str = Field(description="where the figures come from")


VENDOR_BUDGETS: dict[str, VendorBudget] = {
    "hubspot": VendorBudget(
        requests_per_second=10,
        concurrent_requests=10,
        source="HubSpot: 100 calls per 10 s per private app (Free/Starter; 190 on Professional/Enterprise)",
    ),
    "salesforce": VendorBudget(
        requests_per_second=None,
        concurrent_requests=25,
        source="Salesforce: 25 concurrent long-running calls per org; a daily call allowance, no per-second cap",
    ),
    "shopify": VendorBudget(
        requests_per_second=2,
        concurrent_requests=2,
        source="Shopify: leaky bucket of 40 calls leaking 2/s per app and shop (GraphQL: 50 cost points/s)",
    ),
    "square": VendorBudget(
        requests_per_second=10,
        concurrent_requests=10,
        source="Square: 429 RATE_LIMITED past an undisclosed per-application rate; 10/s is the safe pace",
    ),
    "brevo": VendorBudget(
        requests_per_second=10,
        concurrent_requests=10,
        source="Brevo: 10 calls/s on the contacts endpoints of the standard plans",
    ),
    "freshdesk": VendorBudget(
        requests_per_second=1,
        concurrent_requests=2,
        source="Freshdesk: 50 to 700 calls per minute by plan; the smallest plan's 50/min rounds up to 1/s",
    ),
    "odoo": VendorBudget(
        requests_per_second=None,
        concurrent_requests=2,
        source="Odoo: self-hosted or Odoo.sh; a server has a few HTTP workers, two of which Canalis may take",
    ),
}
PUBLISH_POOL = "canalis_publish"
SERIAL_POOLS = ("canalis_canonical", "canalis_identity", "canalis_consistency", "canalis_plans", PUBLISH_POOL)
"""Pools of steps that take a store lock for their whole length: one at a time, whoever asks."""


def read_pool(connection: str, connector: str) -> str:
    """The pool a connection's reads go through: its vendor API's, else the connection's own."""
    return f"canalis_api_{connector}" if connector in VENDOR_BUDGETS else f"canalis_{connection}"


def step_pace(connector: type[Connector], settings: Mapping[str, object]) -> float:
    """The calls per second one read step of a connection makes (0: unpaced)."""
    value = settings.get("requests_per_second")
    if value is None:
        field = connector.settings_model.model_fields.get("requests_per_second")
        value = field.default if field is not None else 0.0
    try:
        return max(float(value), 0.0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def vendor_limit(budget: VendorBudget, pace: float) -> int:
    """Read steps that may run at once against one vendor account without exceeding its budget."""
    if budget.requests_per_second is None or pace <= 0:
        # no per-second budget: the cap on calls in flight bounds it; an unpaced step can use the whole budget alone
        return budget.concurrent_requests if budget.requests_per_second is None else 1
    return max(1, min(budget.concurrent_requests, math.floor(budget.requests_per_second / pace)))


class PoolLimit(BaseModel):
    """One pool and its limit, with why."""

    model_config = ConfigDict(frozen=True)

    pool: str
    limit: int = Field(ge=1)
    reason: str


def pool_limits(config: CanalisConfig, registry: Mapping[str, RegisteredConnector]) -> list[PoolLimit]:
    """Every pool the configured connections' steps use, with its limit."""
    paces: dict[str, float] = {}
    limits: dict[str, PoolLimit] = {}
    for name, connection in sorted(config.enabled_connections().items()):
        registered = registry.get(connection.connector)
        if registered is None:
            continue
        pool = read_pool(name, connection.connector)
        if connection.connector not in VENDOR_BUDGETS:
            limits[pool] = PoolLimit(pool=pool, limit=1, reason=f"{name}: one read of the connection at a time")
            continue
        pace = step_pace(registered.connector, connection.settings)
        paces[connection.connector] = max(paces.get(connection.connector, 0.0), pace)
    for connector, pace in sorted(paces.items()):
        budget = VENDOR_BUDGETS[connector]
        limit = vendor_limit(budget, pace)
        paced = f"{pace:g}/s per step" if pace else "steps unpaced"
        if budget.requests_per_second is not None and (pace == 0 or pace > budget.requests_per_second):
            paced += f" (one step alone may exceed {budget.requests_per_second:g}/s: set requests_per_second)"
        pool = f"canalis_api_{connector}"
        limits[pool] = PoolLimit(pool=pool, limit=limit, reason=f"{budget.source}; {paced}")
    for pool in SERIAL_POOLS:
        limits[pool] = PoolLimit(pool=pool, limit=1, reason="holds a store lock for its whole length")
    return sorted(limits.values(), key=lambda row: row.pool)
