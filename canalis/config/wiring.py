"""How the connections file wires things together: each connection's connector, streams and mapping, and which
streams feed each canonical entity. Nothing here reads data or opens a connection."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from canalis.config.connections import CanalisConfig, ConnectionConfig
from canalis.connectors.registry import RegisteredConnector, discover, get_connector
from canalis.mappings.declarative.engine import Mapper
from canalis.mappings.declarative.spec import MappingSpec, load_mapping
from canalis.sdk.base import Connector
from canalis.sdk.errors import ConfigError, ConfigProblem

Registry = dict[str, RegisteredConnector]


def build_connector(name: str, connection: ConnectionConfig, registry: Registry | None = None) -> Connector:
    """A ready connector for a configured connection; a bad setting fails naming it. Close it after use."""
    connector_class = get_connector(connection.connector, registry)
    return connector_class.from_config(connection.settings, connection=name)


def mapping_path(connection: ConnectionConfig, connector: type[Connector], folder: Path) -> Path:
    """The mapping file of a connection: its own YAML (relative to `folder`), a variant its connector ships, or
    the connector's default mapping."""
    mapping = connection.mapping
    if mapping is None:
        return connector.mapping_path()
    if mapping.endswith((".yaml", ".yml")):
        path = Path(mapping).expanduser()
        return path if path.is_absolute() else folder / path
    return connector.mapping_path(mapping)


def streams_of(connection: ConnectionConfig, registered: RegisteredConnector) -> list[str]:
    """The streams read for a connection: the configured subset, else every readable stream it declares."""
    declared = registered.connector.stream_names(connection.settings)
    if connection.streams is None:
        return declared
    unknown = sorted(set(connection.streams) - set(declared))
    if unknown:
        raise ConfigError(
            f"stream '{unknown[0]}' is not declared by connector '{connection.connector}' "
            f"(streams: {', '.join(declared)})",
            setting="streams",
        )
    return list(connection.streams)


def build_mappers(config: CanalisConfig, registry: Registry | None = None) -> dict[str, Mapper]:
    """One mapper per enabled connection, from its mapping file (each file read and compiled once)."""
    registry = registry if registry is not None else discover()
    specs: dict[Path, MappingSpec] = {}
    mappers: dict[str, Mapper] = {}
    for name, connection in config.enabled_connections().items():
        path = mapping_path(connection, get_connector(connection.connector, registry), config.folder)
        if path not in specs:
            specs[path] = load_mapping(path)
        mappers[name] = Mapper(specs[path], connection=name, channel=connection.channel)
    return mappers


def canonical_feeds(
    config: CanalisConfig, registry: Registry, mappers: dict[str, Mapper]
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


def unknown_connector(name: str, connection: ConnectionConfig, registry: Registry) -> ConfigProblem | None:
    """A problem when a connection names a connector nobody registered."""
    if connection.connector in registry:
        return None
    from canalis.sdk.settings import did_you_mean

    return ConfigProblem(
        f"connections.{name}.connector",
        f"unknown connector '{connection.connector}'{did_you_mean(connection.connector, registry)} "
        f"(known: {', '.join(sorted(registry))})",
        name,
    )
