"""`canalis check`: every problem of the connections file, found without reading any data.

Checked: the file's shape (unknown keys in every section, wrong values), each enabled connection's connector,
settings and secrets (present in the environment), streams, and mapping file (found, valid, written for the
connector, reading only streams and fields the connector declares, compiled), and the publish section's
references to connections. Each problem names its path in the file and, where there is one, the connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from canalis.config.connections import CanalisConfig, ConnectionConfig, config_path, document_problems, read_document
from canalis.config.wiring import Registry, mapping_path, unknown_connector
from canalis.connectors.registry import discover
from canalis.mappings.declarative.engine import Mapper
from canalis.mappings.declarative.spec import MappingSpec, load_mapping
from canalis.sdk.base import Connector
from canalis.sdk.errors import CanalisError, ConfigError, ConfigProblem
from canalis.sdk.settings import did_you_mean, load_settings
from canalis.sdk.streams import Stream, field_declared


@dataclass
class ConnectionSummary:
    """What the check found a connection to be, for the report."""

    name: str
    connector: str
    streams: list[str] = field(default_factory=list)
    mapping: Path | None = None


@dataclass
class CheckReport:
    """The outcome of checking a connections file: every problem, and the connections that were understood."""

    path: Path
    problems: list[ConfigProblem] = field(default_factory=list)
    connections: list[ConnectionSummary] = field(default_factory=list)
    config: CanalisConfig | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def error(self) -> ConfigError:
        """The problems as one error."""
        return ConfigError.of(self.problems)


def check_config(
    path: Path | None = None, *, registry: Registry | None = None, environ: Mapping[str, str] | None = None
) -> CheckReport:
    """Check the connections file (CANALIS_CONFIG or the home's) and list every problem it has."""
    path = path or config_path()
    report = CheckReport(path=path)
    try:
        document = read_document(path)
    except ConfigError as error:
        report.problems.append(ConfigProblem("", str(error)))
        return report
    registry = registry if registry is not None else discover()
    shape_problems = document_problems(document)
    report.problems.extend(shape_problems)
    folder = path.parent
    for name, raw in (document.get("connections") or {}).items():
        try:
            connection = ConnectionConfig.model_validate(raw)
        except ValidationError:
            continue  # its shape problems are listed already
        if connection.enabled:
            report.problems.extend(_connection_problems(str(name), connection, registry, folder, environ, report))
    if not shape_problems:
        report.config = CanalisConfig.model_validate({**document, "path": path})
        report.problems.extend(_publish_problems(report.config, registry))
    return report


def connection_problems(
    name: str,
    connection: ConnectionConfig,
    registry: Registry,
    folder: Path,
    environ: Mapping[str, str] | None = None,
) -> list[ConfigProblem]:
    """Everything wrong with one connection (connector, settings and secrets, streams, mapping), without I/O."""
    return _connection_problems(name, connection, registry, folder, environ, CheckReport(path=folder))


def _connection_problems(
    name: str,
    connection: ConnectionConfig,
    registry: Registry,
    folder: Path,
    environ: Mapping[str, str] | None,
    report: CheckReport,
) -> list[ConfigProblem]:
    unknown = unknown_connector(name, connection, registry)
    if unknown is not None:
        return [unknown]
    connector = registry[connection.connector].connector
    summary = ConnectionSummary(name, connection.connector)
    report.connections.append(summary)
    problems: list[ConfigProblem] = []
    try:
        load_settings(connector.settings_model, connection.settings, connection=name, environ=environ)
    except ConfigError as error:
        problems.extend(error.problems)
    declared = connector.stream_names(connection.settings)
    summary.streams = list(connection.streams) if connection.streams is not None else declared
    for position, stream in enumerate(connection.streams or []):
        if stream not in declared:
            problems.append(
                ConfigProblem(
                    f"connections.{name}.streams.{position}",
                    f"connector '{connection.connector}' declares no stream '{stream}'"
                    f"{did_you_mean(stream, declared)} (streams: {', '.join(declared)})",
                    name,
                )
            )
    problems.extend(_mapping_problems(name, connection, connector, folder, summary))
    return problems


def _mapping_problems(
    name: str, connection: ConnectionConfig, connector: type[Connector], folder: Path, summary: ConnectionSummary
) -> list[ConfigProblem]:
    where = f"connections.{name}.mapping"
    try:
        path = mapping_path(connection, connector, folder)
    except ConfigError as error:
        return [ConfigProblem(where, str(error), name)]
    summary.mapping = path
    if not path.is_file():
        shipped = ", ".join(sorted(connector.shipped_mappings())) or "none"
        return [ConfigProblem(where, f"mapping file {path} not found (shipped with the connector: {shipped})", name)]
    try:
        spec = load_mapping(path)
    except ConfigError as error:
        return [ConfigProblem(where, str(error), name)]
    mismatches = mapping_mismatches(spec, connector, summary.streams)
    problems = [ConfigProblem(where, f"{path.name}: {message}", name) for message in mismatches]
    if not problems:
        try:
            Mapper(spec, connection=name, channel=connection.channel)
        except CanalisError as error:
            problems.append(ConfigProblem(where, f"{path.name}: does not compile: {error}", name))
    return problems


def mapping_mismatches(spec: MappingSpec, connector: type[Connector], stream_names: list[str]) -> list[str]:
    """Where a mapping does not fit its connector: another connector's file, undeclared streams or fields.

    `stream_names` are the connection's streams, which for some connectors come from their settings.
    """
    found: list[str] = []
    if spec.connector != connector.name:
        found.append(f"connector: written for connector '{spec.connector}', not '{connector.name}'")
    streams = {stream.name: stream for stream in connector.streams}
    for stream_name, stream_mapping in spec.streams.items():
        stream = streams.get(stream_name)
        if stream is None:
            if stream_name not in stream_names:
                found.append(
                    f"streams.{stream_name}: connector '{connector.name}' declares no such stream"
                    f"{did_you_mean(stream_name, streams)} (streams: {', '.join(streams)})"
                )
            continue
        for number, target in enumerate(stream_mapping.targets):
            for place, source in _source_paths(target):
                if not _declared(stream, source):
                    found.append(
                        f"streams.{stream_name}.targets.{number}.{place}: stream '{stream_name}' declares no "
                        f"field '{source}'{did_you_mean(source, stream.declared_fields() or ())}"
                    )
    return found


ITEM_EXTRAS = {"item._index": None, "item.value": ""}
"""What the mapping engine gives each item of an `each` list besides its own fields: its position (in no record)
and, for an item that is not an object, the item itself."""


def _source_paths(target: Any) -> list[tuple[str, str]]:
    """Every (place in the target, record path) a target reads; paths under `item.` are inside `each`."""
    paths: list[tuple[str, str]] = []
    if target.each:
        paths.append(("each", target.each))
    for key in target.when or {}:
        paths.append((f"when.{key}", key))
    for field_name, rule in target.fields.items():
        for source in rule.source_paths():
            if target.each and source in ITEM_EXTRAS:
                if ITEM_EXTRAS[source] is None:
                    continue
                source = target.each
            elif target.each and source.startswith("item."):
                source = f"{target.each}.{source.removeprefix('item.')}"
            paths.append((f"fields.{field_name}", source))
    return paths


def _declared(stream: type[Stream], path: str) -> bool:
    declared = stream.declared_fields()
    return declared is None or field_declared(path, declared)


def _publish_problems(config: CanalisConfig, registry: Registry) -> list[ConfigProblem]:
    """Channel policies and systems of record that name no connection, or entities a channel cannot take."""
    from canalis.publishing.policy import publish_problems

    problems = publish_problems(config)
    connections = config.enabled_connections()
    for name, policy in config.publish.channels.items():
        connection = connections.get(name)
        if connection is None or connection.connector not in registry:
            continue
        connector = registry[connection.connector].connector
        writable = sorted(stream.name for stream in connector.streams if stream.writable)
        writes = ", ".join(writable) or "nothing"
        for entity in policy.publish:
            if entity not in writable:
                problems.append(
                    ConfigProblem(
                        f"publish.channels.{name}.publish",
                        f"connector '{connector.name}' cannot write {entity} (writes: {writes})",
                        name,
                    )
                )
    return problems
