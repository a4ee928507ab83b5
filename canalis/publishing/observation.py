"""What the channels show right now, for the fields a plan touches: the store's view, brought up to date by reading
what each channel changed since the store last read it.

The fresh part is read through the connectors from each stream's stored cursor and mapped in memory into a
scratch database; nothing is written to the store's raw or canonical tables, and no cursor moves (the next sync
reads those records as usual). The apply uses it before writing, to refuse a plan whose channel moved and to skip
changes already there, and after writing, to verify what stuck.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from canalis.canonical.chunks import map_chunk
from canalis.canonical.entities import TABLES
from canalis.mappings.declarative.engine import Mapper
from canalis.publishing.observed import observed_prices, observed_promotions, observed_stock
from canalis.publishing.plan import PRICE_FIELDS, PROMOTION_FIELDS, price_key, stock_key
from canalis.publishing.policy import PublishConfig
from canalis.sdk import Connector, StreamState, record_id
from canalis.store import Store, tables, upsert
from canalis.store.schema import metadata

FieldKey = tuple[str, str, str, str]
"""(channel, entity, record key, field) of one value a plan sets."""

MAPPED_ENTITY = {"prices": "price", "stock_levels": "stock_level", "promotions": "promotion", "consents": "consent"}
"""The canonical entity each publishable table is mapped as."""


def current_values(
    conn: Connection, config: PublishConfig, wanted: Iterable[FieldKey], now: datetime
) -> dict[FieldKey, Any]:
    """The values a database holds for the wanted fields; a field whose record it does not hold is left out."""
    wanted = set(wanted)
    entities = {key[1] for key in wanted}
    found: dict[FieldKey, Any] = {}
    if "prices" in entities:
        for (channel, sku), price in observed_prices(conn, config).items():
            for name in PRICE_FIELDS:
                found[(channel, "prices", price_key(sku), name)] = getattr(price, name)
    if "stock_levels" in entities:
        for (channel, sku, location), stock in observed_stock(conn, config).items():
            found[(channel, "stock_levels", stock_key(sku, location), "available")] = stock.available
    if "promotions" in entities:
        for (channel, code), promotion in observed_promotions(conn, config, now).items():
            for name in PROMOTION_FIELDS:
                found[(channel, "promotions", code, name)] = getattr(promotion, name)
    if "consents" in entities:
        c = tables.consents
        channels = sorted({key[0] for key in wanted if key[1] == "consents"})
        for row in conn.execute(sa.select(c.c.source, c.c.consent_key, c.c.status).where(c.c.source.in_(channels))):
            found[(row.source, "consents", row.consent_key, "status")] = row.status
    return {key: value for key, value in found.items() if key in wanted}


def observe(
    store: Store,
    config: PublishConfig,
    wanted: Iterable[FieldKey],
    connectors: Mapping[str, Connector],
    mappers: Mapping[str, Mapper],
    now: datetime,
) -> dict[FieldKey, Any]:
    """The wanted fields as the channels show them now: the store's values, overlaid with what each channel changed
    since its streams were last read (channels without a connector or mapper keep the store's view)."""
    wanted = set(wanted)
    with store.engine.connect() as conn:
        values = current_values(conn, config, wanted, now)
    by_channel: dict[str, set[str]] = defaultdict(set)
    for channel, entity, _, _ in wanted:
        if channel in connectors and channel in mappers:
            by_channel[channel].add(entity)
    if by_channel:
        values.update(_fresh_values(store, config, wanted, by_channel, connectors, mappers, now))
    return values


def _fresh_values(
    store: Store,
    config: PublishConfig,
    wanted: set[FieldKey],
    by_channel: Mapping[str, set[str]],
    connectors: Mapping[str, Connector],
    mappers: Mapping[str, Mapper],
    now: datetime,
) -> dict[FieldKey, Any]:
    """Read each channel's streams from their stored cursors, map them into a scratch database and read it."""
    with tempfile.TemporaryDirectory(prefix="canalis-observe-") as folder:
        scratch = Store(f"sqlite:///{Path(folder) / 'observed.db'}")
        try:
            metadata.create_all(scratch.engine, tables=list(TABLES.values()))
            for channel, entities in sorted(by_channel.items()):
                _read_channel(store, scratch, connectors[channel], mappers[channel], sorted(entities), now)
            with scratch.engine.connect() as conn:
                return current_values(conn, config, wanted, now)
        finally:
            scratch.close()


def _read_channel(
    store: Store, scratch: Store, connector: Connector, mapper: Mapper, entities: list[str], now: datetime
) -> None:
    mapped = [MAPPED_ENTITY[entity] for entity in entities]
    streams = sorted({stream for entity in mapped for stream in mapper.streams_for(entity)})
    for name in streams:
        stream = connector.stream(name)
        state = StreamState.from_stored(store.get_state(connector.connection, name))
        for page in connector.read(name, state):
            pairs = [(record_id(stream, record), record) for record in page.records]
            result = map_chunk(mapper, name, mapped, pairs, now)
            with scratch.begin() as conn:
                for table_name, rows in result.rows.items():
                    if rows:
                        upsert(conn, TABLES[table_name], rows)
