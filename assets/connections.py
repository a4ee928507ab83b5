"""The connections file: which connectors run, under which names, with which settings and mapping."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.sdk.base import Connector
from connectors.sdk.errors import ConfigError
from connectors.sdk.registry import RegisteredConnector, discover, get_connector
from mappings.store.database import canalis_home

CONFIG_ENV = "CANALIS_CONFIG"
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


class ConnectionConfig(BaseModel):
    """One configured connection: a connector under a name, with its channel, mapping and settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connector: str = Field(description="registered connector name, e.g. file_drop or hubspot")
    channel: str = Field(description="customer channel this system stands for: web, store, crm, email, marketing...")
    mapping: str | None = Field(default=None, description="mapping file name or path; default the connector's own")
    settings: dict[str, Any] = Field(default_factory=dict, description="connector settings (no secret values)")
    streams: list[str] | None = Field(default=None, description="streams to read; default all")
    enabled: bool = True


class CanalisConfig(BaseModel):
    """The whole connections file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connections: dict[str, ConnectionConfig] = Field(default_factory=dict)
    identity: dict[str, Any] = Field(default_factory=dict, description="identity-resolution settings")
    quality: dict[str, Any] = Field(default_factory=dict, description="data-quality check limits")
    publish: dict[str, Any] = Field(default_factory=dict, description="systems of record and channel policies")
    consistency: dict[str, Any] = Field(default_factory=dict, description="inconsistency rule settings")
    kpis: dict[str, Any] = Field(default_factory=dict, description="KPI settings")
    path: Path | None = Field(default=None, exclude=True)

    @field_validator("connections")
    @classmethod
    def _names(cls, value: dict[str, ConnectionConfig]) -> dict[str, ConnectionConfig]:
        import re

        for name in value:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"connection name '{name}' must be lower-case letters, digits and underscores")
        return value

    def enabled_connections(self) -> dict[str, ConnectionConfig]:
        return {name: connection for name, connection in self.connections.items() if connection.enabled}


def config_path() -> Path:
    """The connections file in force: CANALIS_CONFIG, else canalis.yaml in the Canalis home."""
    explicit = os.environ.get(CONFIG_ENV)
    return Path(explicit).expanduser().resolve() if explicit else canalis_home() / "canalis.yaml"


def load_config(path: Path | None = None) -> CanalisConfig:
    """Read and validate the connections file; a missing file means no connections."""
    path = path or config_path()
    if not path.is_file():
        return CanalisConfig(path=path)
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    try:
        config = CanalisConfig.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}", setting=where) from None
    return config.model_copy(update={"path": path})


def build_connector(
    name: str, connection: ConnectionConfig, registry: dict[str, RegisteredConnector] | None = None
) -> Connector:
    """A ready connector for a configured connection; fails fast naming the bad setting."""
    connector_class = get_connector(connection.connector, registry)
    return connector_class.from_config(connection.settings, connection=name)


def mapping_name(connection: ConnectionConfig, registry: dict[str, RegisteredConnector] | None = None) -> str:
    """The mapping file a connection uses."""
    if connection.mapping:
        return connection.mapping
    connector_class = get_connector(connection.connector, registry if registry is not None else discover())
    return connector_class.default_mapping or connector_class.name
