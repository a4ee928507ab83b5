"""Assembles the whole code location: resources, generated assets, checks, jobs and schedules."""

from __future__ import annotations

from dagster import Definitions

from assets.connections import CanalisConfig, load_config
from assets.consistency import build_consistency_assets
from assets.factory import (
    FULL_REFRESH_TAG,
    QUARANTINE_WARN_SHARE,
    build_canonical_assets,
    build_mappers,
    build_quarantine_check,
    build_raw_asset,
    canonical_feeds,
    streams_of,
)
from assets.jobs import build_file_drop_sensor, build_jobs, build_schedules
from assets.kpis import build_kpi_assets
from assets.publishing import build_publish_assets
from assets.resources import connection_resource, resource_key, store_resource
from assets.translator import CanalisTranslator
from assets.unified import build_unified_assets, build_unified_checks
from connectors.sdk.registry import RegisteredConnector, discover
from mappings.canonical.entities import ENTITIES

DEFAULT_MAX_CLUSTER_SIZE = 20


def build_definitions(
    config: CanalisConfig | None = None,
    *,
    registry: dict[str, RegisteredConnector] | None = None,
    translator: CanalisTranslator | None = None,
) -> Definitions:
    """Definitions for the configured connections (the connections file when `config` is None)."""
    config = config or load_config()
    registry = registry if registry is not None else discover()
    translator = translator or CanalisTranslator()
    connections = config.enabled_connections()
    for name, connection in connections.items():
        if connection.connector not in registry:
            from connectors.sdk.errors import ConfigError

            raise ConfigError(
                f"connection '{name}': unknown connector '{connection.connector}' "
                f"(known: {', '.join(sorted(registry))})",
                setting="connector",
                connection=name,
            )

    resources: dict[str, object] = {"store": store_resource()}
    assets = []
    checks = []
    for name, connection in connections.items():
        registered = registry[connection.connector]
        resources[resource_key(name)] = connection_resource(name, connection, registered.connector)
        for stream in streams_of(connection, registered):
            assets.append(build_raw_asset(name, connection, registered, stream, translator))

    mappers = build_mappers(config, registry)
    feeds = canonical_feeds(config, registry, mappers)
    if feeds:
        assets.append(build_canonical_assets(feeds, mappers, translator))
    for entity, entity_feeds in sorted(feeds.items()):
        key = translator.canonical_key(ENTITIES[entity].primary_table)
        max_share = float(config.quality.get("max_quarantine_share", QUARANTINE_WARN_SHARE))
        checks.append(build_quarantine_check(key, sorted(entity_feeds), max_share))

    if "customer_record" in feeds:
        assets.extend(build_unified_assets(translator, config.identity, "interaction" in feeds, FULL_REFRESH_TAG))
        max_cluster = int(config.identity.get("max_cluster_size", DEFAULT_MAX_CLUSTER_SIZE))
        checks.extend(build_unified_checks(max_cluster))

    if connections:
        publish_assets, publish_checks = build_publish_assets(config, translator)
        assets.extend(publish_assets)
        checks.extend(publish_checks)
    if "customer_record" in feeds:
        assets.extend(build_kpi_assets(config, translator))
        consistency_assets, consistency_checks = build_consistency_assets(config, translator)
        assets.extend(consistency_assets)
        checks.extend(consistency_checks)

    sensor = build_file_drop_sensor(_file_drop_folders(connections, registry))
    return Definitions(
        assets=assets,
        asset_checks=checks,
        jobs=build_jobs(FULL_REFRESH_TAG),
        schedules=build_schedules(),
        sensors=[sensor] if sensor else [],
        resources=resources,
    )


def _file_drop_folders(connections, registry: dict[str, RegisteredConnector]) -> dict:
    """The folders of the file-drop connections (settings that fail to load are left to the run to report)."""
    from connectors.sdk.errors import ConfigError

    folders = {}
    for name, connection in connections.items():
        if connection.connector != "file_drop":
            continue
        try:
            folders[name] = registry["file_drop"].connector.from_config(connection.settings, connection=name).folder
        except ConfigError:
            continue
    return folders
