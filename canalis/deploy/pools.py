"""Dagster concurrency pools: one per vendor API for reads, sized from the vendor's documented limits.

A step reading a vendor API paces itself at the connection's `requests_per_second`. Several steps on several
workers each pace themselves, so the fleet stays inside a vendor's budget only if the number of steps running at
once is capped: the pool's limit is the vendor's documented budget divided by one step's pace (at least one),
and never more than the vendor's documented cap on concurrent requests. Sources with no API budget (files, a
database, a mailbox) get one pool per connection. Writes go through `canalis_publish` (one apply step at a time)
and, per connection written, through `canalis_write_<connection>`, sized the same way from the vendor's documented
write budget: the apply step takes a slot in each connection's write pool before it writes there
(`canalis.deploy.write_slots`), so another writer (a second publish pool slot, a run of another code location on
the same instance) never doubles a connection's write rate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from canalis.config.connections import CanalisConfig
from canalis.connectors.registry import RegisteredConnector
from canalis.sdk.base import Connector


class VendorBudget(BaseModel):
    """What a vendor documents about how hard one account may call its API, for reads and for writes."""

    model_config = ConfigDict(frozen=True)

    requests_per_second: float | None = Field(description="sustained calls per second per account; None if none")
    concurrent_requests: int = Field(ge=1, description="calls in flight at once per account")
    source: str = Field(description="where the figures come from")
    writes_per_second: float | None = Field(description="sustained write calls per second per account; None if none")
    concurrent_writes: int = Field(ge=1, description="write calls in flight at once per account")
    write_source: str = Field(description="where the write figures come from")


VENDOR_BUDGETS: dict[str, VendorBudget] = {
    "hubspot": VendorBudget(
        requests_per_second=10,
        concurrent_requests=10,
        source="HubSpot: 100 calls per 10 s per private app (Free/Starter; 190 on Professional/Enterprise)",
        writes_per_second=10,
        concurrent_writes=10,
        write_source="HubSpot: writes count against the same 100 calls per 10 s of the private app",
    ),
    "salesforce": VendorBudget(
        requests_per_second=None,
        concurrent_requests=25,
        source="Salesforce: 25 concurrent long-running calls per org; a daily call allowance, no per-second cap",
        writes_per_second=None,
        concurrent_writes=25,
        write_source="Salesforce: writes share the 25 concurrent long-running calls per org",
    ),
    "shopify": VendorBudget(
        requests_per_second=2,
        concurrent_requests=2,
        source="Shopify: leaky bucket of 40 calls leaking 2/s per app and shop (GraphQL: 50 cost points/s)",
        writes_per_second=2,
        concurrent_writes=2,
        write_source="Shopify: mutations drain the same bucket leaking 2 calls/s per app and shop",
    ),
    "square": VendorBudget(
        requests_per_second=10,
        concurrent_requests=10,
        source="Square: 429 RATE_LIMITED past an undisclosed per-application rate; 10/s is the safe pace",
        writes_per_second=10,
        concurrent_writes=1,
        write_source="Square: one catalog or inventory update per seller at a time; another is refused with 429",
    ),
    "brevo": VendorBudget(
        requests_per_second=10,
        concurrent_requests=10,
        source="Brevo: 10 calls/s on the contacts endpoints of the standard plans",
        writes_per_second=10,
        concurrent_writes=10,
        write_source="Brevo: contact updates count against the same 10 calls/s",
    ),
    "freshdesk": VendorBudget(
        requests_per_second=1,
        concurrent_requests=2,
        source="Freshdesk: 50 to 700 calls per minute by plan; the smallest plan's 50/min rounds up to 1/s",
        writes_per_second=1,
        concurrent_writes=2,
        write_source="Freshdesk: writes count against the same per-minute allowance",
    ),
    "odoo": VendorBudget(
        requests_per_second=None,
        concurrent_requests=2,
        source="Odoo: self-hosted or Odoo.sh; a server has a few HTTP workers, two of which Canalis may take",
        writes_per_second=None,
        concurrent_writes=1,
        write_source="Odoo: a write holds its records' row locks; one writer per database avoids lock conflicts",
    ),
}
PUBLISH_POOL = "canalis_publish"
SERIAL_POOLS = ("canalis_canonical", "canalis_identity", "canalis_consistency", "canalis_plans", PUBLISH_POOL)
"""Pools of steps that take a store lock for their whole length: one at a time, whoever asks."""


def read_pool(connection: str, connector: str) -> str:
    """The pool a connection's reads go through: its vendor API's, else the connection's own."""
    return f"canalis_api_{connector}" if connector in VENDOR_BUDGETS else f"canalis_{connection}"


def write_pool(connection: str) -> str:
    """The pool a connection's writes go through (each connection is an account of its own)."""
    return f"canalis_write_{connection}"


def step_pace(connector: type[Connector], settings: Mapping[str, object]) -> float:
    """The calls per second one step of a connection makes, reading or writing (0: unpaced)."""
    value = settings.get("requests_per_second")
    if value is None:
        field = connector.settings_model.model_fields.get("requests_per_second")
        value = field.default if field is not None else 0.0
    try:
        return max(float(value), 0.0)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0


def budget_limit(per_second: float | None, in_flight: int, pace: float) -> int:
    """Steps that may run at once, each at `pace` calls/s, within a budget of calls per second and in flight."""
    if per_second is None:
        return in_flight  # no per-second budget: the cap on calls in flight bounds it
    if pace <= 0:
        return 1  # an unpaced step can use the whole budget alone
    return max(1, min(in_flight, math.floor(per_second / pace)))


def vendor_limit(budget: VendorBudget, pace: float) -> int:
    """Read steps that may run at once against one vendor account without exceeding its budget."""
    return budget_limit(budget.requests_per_second, budget.concurrent_requests, pace)


def write_limit(budget: VendorBudget, pace: float) -> int:
    """Write steps that may run at once against one connection's account without exceeding its write budget."""
    return budget_limit(budget.writes_per_second, budget.concurrent_writes, pace)


class PoolLimit(BaseModel):
    """One pool and its limit, with why."""

    model_config = ConfigDict(frozen=True)

    pool: str
    limit: int = Field(ge=1)
    reason: str


def sized(pool: str, limit: int, source: str, per_second: float | None, pace: float) -> PoolLimit:
    """A vendor pool's limit with its reason: the documented budget and the pace of one step."""
    paced = f"{pace:g}/s per step" if pace else "steps unpaced"
    if per_second is not None and (pace == 0 or pace > per_second):
        paced += f" (one step alone may exceed {per_second:g}/s: set requests_per_second)"
    return PoolLimit(pool=pool, limit=limit, reason=f"{source}; {paced}")


def pool_limits(config: CanalisConfig, registry: Mapping[str, RegisteredConnector]) -> list[PoolLimit]:
    """Every pool the configured connections' steps use, with its limit: reads, writes, serial store steps."""
    from canalis.publishing.policy import load_publish_config

    paces: dict[str, float] = {}
    limits: dict[str, PoolLimit] = {}
    connections = config.enabled_connections()
    for name, connection in sorted(connections.items()):
        registered = registry.get(connection.connector)
        if registered is None:
            continue
        if connection.connector not in VENDOR_BUDGETS:
            pool = read_pool(name, connection.connector)
            limits[pool] = PoolLimit(pool=pool, limit=1, reason=f"{name}: one read of the connection at a time")
            continue
        pace = step_pace(registered.connector, connection.settings)
        paces[connection.connector] = max(paces.get(connection.connector, 0.0), pace)
    for connector, pace in sorted(paces.items()):
        budget = VENDOR_BUDGETS[connector]
        pool = f"canalis_api_{connector}"
        limits[pool] = sized(pool, vendor_limit(budget, pace), budget.source, budget.requests_per_second, pace)
    for name in sorted(load_publish_config(config).channels):
        connection = connections.get(name)
        registered = registry.get(connection.connector) if connection is not None else None
        if connection is None or registered is None:
            continue
        pool = write_pool(name)
        budget = VENDOR_BUDGETS.get(connection.connector)
        if budget is None:
            limits[pool] = PoolLimit(pool=pool, limit=1, reason=f"{name}: one write to the connection at a time")
            continue
        pace = step_pace(registered.connector, connection.settings)
        limit = write_limit(budget, pace)
        limits[pool] = sized(pool, limit, f"{name}: {budget.write_source}", budget.writes_per_second, pace)
    for pool in SERIAL_POOLS:
        limits[pool] = PoolLimit(pool=pool, limit=1, reason="holds a store lock for its whole length")
    return sorted(limits.values(), key=lambda row: row.pool)
