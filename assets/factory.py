"""Builds the Dagster definitions from the connections file and the connector registry.

For each enabled connection and stream: a raw asset. For each canonical entity some mapping fills: a canonical
asset depending on the raw assets that feed it. Then the unified customers and the cross-channel timeline.
"""

from collections import defaultdict

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    multi_asset,
)
from sqlalchemy import func, select, tuple_

from assets.connections import CanalisConfig, ConnectionConfig, mapping_name
from assets.metadata import bullet_list, counter_table, markdown_table
from assets.pipeline.canonicalize import canonicalize_entities
from assets.pipeline.ingest import ingest_stream
from assets.resources import ConnectionResource, StoreResource, resource_key
from assets.translator import CanalisTranslator
from connectors.sdk.errors import ConfigError
from connectors.sdk.registry import RegisteredConnector
from connectors.sdk.streams import Stream
from mappings.canonical.entities import ENTITIES, TABLES
from mappings.declarative.engine import Mapper
from mappings.declarative.spec import MappingSpec, load_mapping
from mappings.store import tables

FULL_REFRESH_TAG = "canalis/full_refresh"
QUARANTINE_WARN_SHARE = 0.05


def is_full_refresh(context: AssetExecutionContext) -> bool:
    """Whether the run asked to ignore cursors and re-read everything."""
    return context.run.tags.get(FULL_REFRESH_TAG) == "true"


def build_raw_asset(
    name: str,
    connection: ConnectionConfig,
    registered: RegisteredConnector,
    stream_name: str,
    translator: CanalisTranslator,
) -> AssetsDefinition:
    """The raw asset of one connection stream: reads it into the landing table, resuming from its cursor."""
    connector_class = registered.connector
    stream = next((s for s in connector_class.streams if s.name == stream_name), None)
    if stream is None:  # a stream defined by the connection's settings

        class stream(Stream):
            name = stream_name
            primary_key = "(from settings)"
            description = "A stream defined in the connection's settings."

    key = translator.raw_key(name, stream_name)

    @asset(
        key=key,
        group_name=translator.raw_group(name),
        kinds=translator.raw_kinds(connector_class),
        description=translator.raw_description(name, connector_class, stream),
        required_resource_keys={"store", resource_key(name)},
        metadata={
            "connection": name,
            "connector": connector_class.name,
            "channel": connection.channel,
            "primary_key": stream.primary_key,
            "cursor_field": stream.cursor_field or "(file content)",
            "origin": registered.origin,
        },
        op_tags={"canalis/connection": name},
    )
    def _raw(context: AssetExecutionContext) -> MaterializeResult:
        store = context.resources.store.get_store()
        connection_resource: ConnectionResource = getattr(context.resources, resource_key(name))
        connector = connection_resource.build()
        report = ingest_stream(
            store, connector, stream_name, full_refresh=is_full_refresh(context), run_id=context.run.run_id
        )
        context.log.info(
            f"{name}.{stream_name}: read {report.records_read}, new {report.inserted}, updated {report.updated}, "
            f"unchanged {report.unchanged}, quarantined {report.quarantined}"
        )
        return MaterializeResult(
            metadata={
                "records_read": report.records_read,
                "new": report.inserted,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "quarantined": report.quarantined,
                "pages": report.pages,
                "cursor": report.cursor or "",
                "full_refresh": report.full_refresh,
                "seconds": round(report.seconds, 3),
                "records_per_second": round(report.records_read / report.seconds, 1) if report.seconds else 0.0,
                "stored_by": "writer process" if report.writer_process else "reading process",
                "preview": markdown_table(report.preview),
                "quarantine_reasons": bullet_list(report.quarantine_reasons),
                "dagster/row_count": store.count(tables.raw_records, source=name, stream=stream_name),
            }
        )

    return _raw


def build_canonical_assets(
    feeds: dict[str, list[tuple[str, str]]], mappers: dict[str, Mapper], translator: CanalisTranslator
) -> AssetsDefinition:
    """The canonical tables as one multi-asset: each changed raw record is read once and mapped to every table."""
    specs = []
    key_to_entity: dict[AssetKey, str] = {}
    for entity, entity_feeds in sorted(feeds.items()):
        definition = ENTITIES[entity]
        table = definition.primary_table
        key = translator.canonical_key(table)
        key_to_entity[key] = entity
        specs.append(
            AssetSpec(
                key=key,
                group_name=translator.canonical_group(),
                kinds={"sql"},
                description=f"{definition.description}, mapped to the canonical `{table}` table.",
                deps=[translator.raw_key(connection, stream) for connection, stream in entity_feeds],
                metadata={
                    "table": table,
                    "entity": entity,
                    "sources": ", ".join(sorted({connection for connection, _ in entity_feeds})),
                },
                skippable=True,
            )
        )

    @multi_asset(name="canonical", specs=specs, can_subset=True, required_resource_keys={"store"})
    def _canonical(context: AssetExecutionContext):
        store = context.resources.store.get_store()
        selected = [key_to_entity[key] for key in sorted(context.selected_asset_keys) if key in key_to_entity]
        reports = canonicalize_entities(
            store, mappers, selected, full=is_full_refresh(context), run_id=context.run.run_id
        )
        for key in sorted(context.selected_asset_keys):
            entity = key_to_entity[key]
            report = reports[entity]
            context.log.info(
                f"{entity}: mapped {report.mapped} from {report.raw_records} raw records, "
                f"quarantined {report.quarantined}"
            )
            yield MaterializeResult(
                asset_key=key,
                metadata={
                    "raw_records_processed": report.raw_records,
                    "mapped": report.mapped,
                    "new": report.counts.inserted,
                    "updated": report.counts.updated,
                    "unchanged": report.counts.unchanged,
                    "quarantined": report.quarantined,
                    "by_source": counter_table(report.by_source, "source"),
                    "quarantined_by_source": counter_table(report.quarantined_by_source, "source"),
                    "quarantine_reasons": bullet_list(report.quarantine_reasons),
                    "preview": markdown_table(report.preview),
                    "seconds": round(report.seconds, 3),
                    "dagster/row_count": store.count(TABLES[ENTITIES[entity].primary_table]),
                },
            )

    return _canonical


def build_quarantine_check(
    entity_key: AssetKey, feeds: list[tuple[str, str]], max_share: float = QUARANTINE_WARN_SHARE
) -> AssetChecksDefinition:
    """A check that warns when the streams feeding a canonical asset hold too many records in quarantine."""

    @asset_check(
        asset=entity_key,
        name="quarantine_share",
        required_resource_keys={"store"},
        description=f"Share of the feeding streams' records held in quarantine stays under {max_share:.0%}.",
    )
    def _check(context) -> AssetCheckResult:
        store = context.resources.store.get_store()
        q, raw = tables.quarantine, tables.raw_records
        with store.engine.connect() as conn:
            held_rows = conn.execute(
                select(q.c.source, q.c.stream, func.count())
                .where(tuple_(q.c.source, q.c.stream).in_(feeds), q.c.resolved_at.is_(None))
                .group_by(q.c.source, q.c.stream)
            ).all()
            landed = conn.execute(
                select(func.count()).select_from(raw).where(tuple_(raw.c.source, raw.c.stream).in_(feeds))
            ).scalar_one()
        held = sum(row[2] for row in held_rows)
        # read-stage rejections never reached the landing table, so they count on both sides
        read_rejections = _read_rejections(store, feeds)
        total = landed + read_rejections
        share = held / total if total else 0.0
        return AssetCheckResult(
            passed=share <= max_share,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "quarantined": held,
                "records": total,
                "share": round(share, 4),
                "limit": max_share,
                "by_stream": markdown_table(
                    [{"source": row[0], "stream": row[1], "quarantined": row[2]} for row in held_rows]
                ),
            },
        )

    return _check


def _read_rejections(store, feeds: list[tuple[str, str]]) -> int:
    """Records rejected when read (they never reached the landing table)."""
    q = tables.quarantine
    with store.engine.connect() as conn:
        return conn.execute(
            select(func.count()).where(tuple_(q.c.source, q.c.stream).in_(feeds), q.c.stage == "read")
        ).scalar_one()


def build_mappers(config: CanalisConfig, registry: dict[str, RegisteredConnector]) -> dict[str, Mapper]:
    """One mapper per enabled connection, from its mapping file."""
    specs: dict[str, MappingSpec] = {}
    mappers: dict[str, Mapper] = {}
    for name, connection in config.enabled_connections().items():
        mapping = mapping_name(connection, registry)
        if mapping not in specs:
            specs[mapping] = load_mapping(
                mapping if config.path is None or "/" not in mapping else config.path.parent / mapping
            )
        mappers[name] = Mapper(specs[mapping], connection=name, channel=connection.channel)
    return mappers


def _mapping_location(mapping: str, config: CanalisConfig):
    """A mapping name (shipped file) or a YAML path, relative paths read from the connections file's folder."""
    from pathlib import Path

    if not mapping.endswith((".yaml", ".yml")):
        return mapping
    path = Path(mapping).expanduser()
    if not path.is_absolute() and config.path is not None:
        path = config.path.parent / path
    return path


def streams_of(connection: ConnectionConfig, registered: RegisteredConnector) -> list[str]:
    """The streams read for a connection: the configured subset, else every readable stream it declares."""
    declared = registered.connector.stream_names(connection.settings)
    if connection.streams is None:
        return declared
    unknown = sorted(set(connection.streams) - set(declared))
    if unknown:
        raise ConfigError(
            f"connection stream '{unknown[0]}' is not declared (streams: {', '.join(declared)})",
            setting="streams",
        )
    return list(connection.streams)


def canonical_feeds(
    config: CanalisConfig, registry: dict[str, RegisteredConnector], mappers: dict[str, Mapper]
) -> dict[str, list[tuple[str, str]]]:
    """For each entity, the (connection, stream) pairs whose mapping fills it."""
    feeds: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, connection in config.enabled_connections().items():
        read = set(streams_of(connection, registry[connection.connector]))
        for entity in sorted(mappers[name].entities()):
            for stream in mappers[name].streams_for(entity):
                if stream in read:
                    feeds[entity].append((name, stream))
    return dict(feeds)


__all__ = [
    "FULL_REFRESH_TAG",
    "MetadataValue",
    "StoreResource",
    "build_canonical_assets",
    "build_mappers",
    "build_quarantine_check",
    "build_raw_asset",
    "canonical_feeds",
    "streams_of",
]
