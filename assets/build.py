"""Assembles the whole code location: resources, generated assets, checks, jobs and schedules."""

from __future__ import annotations

from dagster import AssetSpec, Definitions, map_asset_specs

from canalis.assets.alerts import build_alert_sensors
from canalis.assets.automation import build_automation_sensor, downstream_condition
from canalis.assets.broken import build_broken_connection
from canalis.assets.canonical import build_canonical_assets, build_quarantine_check
from canalis.assets.consistency import build_consistency_assets
from canalis.assets.jobs import (
    build_file_drop_job,
    build_file_drop_sensor,
    build_jobs,
    build_publish_sensor,
    build_schedules,
)
from canalis.assets.kpis import build_kpi_assets
from canalis.assets.publishing import PUBLISH_ASSETS, build_publish_assets
from canalis.assets.raw import build_raw_asset
from canalis.assets.resources import connection_resource, resource_key, store_resource
from canalis.assets.translator import CanalisTranslator
from canalis.assets.unified import build_unified_assets, build_unified_checks
from canalis.canonical.entities import ENTITIES
from canalis.config.check import connection_problems
from canalis.config.connections import CanalisConfig, load_config
from canalis.config.wiring import build_mappers, canonical_feeds, streams_of
from canalis.connectors.registry import RegisteredConnector, discover
from canalis.deploy.backfill import backfill_jobs
from canalis.sdk.errors import ConfigError


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
    assets = []
    checks = []
    sensors = []
    broken = {
        name: problems
        for name, connection in config.enabled_connections().items()
        if (problems := connection_problems(name, connection, registry, config.folder))
    }
    for name, problems in sorted(broken.items()):
        connection = config.connections[name]
        assets.append(
            build_broken_connection(name, connection, registry.get(connection.connector), problems, translator)
        )
    config = without_connections(config, set(broken))
    connections = config.enabled_connections()

    resources: dict[str, object] = {"store": store_resource()}
    for name, connection in connections.items():
        registered = registry[connection.connector]
        resources[resource_key(name)] = connection_resource(name, connection, registered.connector)
        schedule = connection.schedule or config.schedule
        owners = config.owners if connection.owners is None else connection.owners
        for stream in streams_of(connection, registered):
            assets.append(
                build_raw_asset(name, connection, registered, stream, translator, schedule=schedule, owners=owners)
            )

    mappers = build_mappers(config, registry)
    feeds = canonical_feeds(config, registry, mappers)
    if feeds:
        assets.append(build_canonical_assets(feeds, mappers, translator))
    for entity, entity_feeds in sorted(feeds.items()):
        key = translator.canonical_key(ENTITIES[entity].primary_table)
        checks.append(build_quarantine_check(key, sorted(entity_feeds), config.quality.max_quarantine_share))

    if "customer_record" in feeds:
        assets.extend(build_unified_assets(translator, config.identity, "interaction" in feeds))
        checks.extend(build_unified_checks(config.identity.max_cluster_size, config.quality.max_unresolved_share))

    if connections:
        publish_assets, publish_checks = build_publish_assets(config, translator)
        assets.extend(publish_assets)
        checks.extend(publish_checks)
        sensors.append(build_publish_sensor())
    if "customer_record" in feeds:
        assets.extend(build_kpi_assets(config, translator))
        consistency_assets, consistency_checks = build_consistency_assets(config, translator)
        assets.extend(consistency_assets)
        checks.extend(consistency_checks)

    publish_keys = PUBLISH_ASSETS if connections else ()
    jobs = build_jobs(publish_keys)
    folders = _file_drop_folders(connections, registry)
    file_drop_sensor = build_file_drop_sensor(folders)
    if file_drop_sensor is not None:
        sensors.append(file_drop_sensor)
        jobs.append(build_file_drop_job([translator.raw_group(name) for name in folders], publish_keys))
    sensors.append(build_automation_sensor(PUBLISH_ASSETS if connections else ()))
    sensors.extend(build_alert_sensors(config.alerts))
    jobs.extend(backfill_jobs(config, registry, resource_key))  # first loads of event streams, month by month
    return Definitions(
        assets=automate(assets, config.owners, translator),
        asset_checks=checks,
        jobs=jobs,
        schedules=build_schedules(),
        sensors=sensors,
        resources=resources,
    )


def automate(assets: list, owners: list[str], translator: CanalisTranslator) -> list:
    """Everything downstream of the raw assets eager, except publishing to channels; the file's owners by default;
    then the translator's last word on each spec."""

    def adjust(spec: AssetSpec) -> AssetSpec:
        changes: dict = {"owners": spec.owners or owners}
        if spec.key not in PUBLISH_ASSETS and spec.key.path[0] != "raw" and spec.automation_condition is None:
            changes["automation_condition"] = downstream_condition()
        return translator.get_asset_spec(spec.replace_attributes(**changes))

    return map_asset_specs(adjust, assets)


def without_connections(config: CanalisConfig, names: set[str]) -> CanalisConfig:
    """The configuration without some connections, and without publishing settings that name them."""
    if not names:
        return config
    publish = config.publish
    update: dict = {"systems_of_record": {e: c for e, c in publish.systems_of_record.items() if c not in names}}
    if "channels" in publish.model_fields_set:  # left out, channels are inferred from the connections
        update["channels"] = {c: policy for c, policy in publish.channels.items() if c not in names}
    publish = publish.model_copy(update=update)
    connections = {name: connection for name, connection in config.connections.items() if name not in names}
    return config.model_copy(update={"connections": connections, "publish": publish})


def _file_drop_folders(connections, registry: dict[str, RegisteredConnector]) -> dict:
    """The folders of the file-drop connections (settings that fail to load are left to the run to report)."""
    folders = {}
    for name, connection in connections.items():
        if connection.connector != "file_drop":
            continue
        try:
            folders[name] = registry["file_drop"].connector.from_config(connection.settings, connection=name).folder
        except ConfigError:
            continue
    return folders
