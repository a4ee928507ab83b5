"""The connections file: which connectors run under which names, and every other section, each a typed model.

Every section rejects unknown keys, naming their full path (`publish.channels.web_shopify.roundng`), and
every default is declared once, in its section's model.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from canalis.config.alerts import AlertSettings
from canalis.config.replay import ReplaySettings
from canalis.config.yaml_text import parse_yaml
from canalis.consistency.settings import ConsistencySettings
from canalis.identity.config import IdentityConfig
from canalis.kpis.settings import KpiSettings
from canalis.publishing.policy import PublishConfig
from canalis.sdk.errors import ConfigError, ConfigProblem
from canalis.sdk.settings import validation_problems
from canalis.store.database import canalis_home

CONFIG_ENV = "CANALIS_CONFIG"
CONFIG_FILE_NAME = "canalis.yaml"
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"


class ConnectionConfig(BaseModel):
    """One configured connection: a connector under a name, with its channel, mapping and settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connector: str = Field(description="registered connector name, e.g. file_drop or hubspot")
    channel: str = Field(description="customer channel this system stands for: web, store, crm, email, marketing...")
    mapping: str | None = Field(
        default=None,
        description="empty: the connector's own mapping; a name: a variant the connector ships (e.g. `pos`); "
        "a path ending in .yaml: your own file, relative to the connections file's folder",
    )
    settings: dict[str, Any] = Field(default_factory=dict, description="connector settings (no secret values)")
    streams: list[str] | None = Field(default=None, description="streams to read; default all")
    enabled: bool = Field(default=True, description="false keeps the connection in the file but out of every run")
    schedule: str | None = Field(
        default=None, description="cron of this connection's reads (UTC); default the file's `schedule`"
    )
    owners: list[str] | None = Field(
        default=None, description="owners of this connection's assets (emails or team:name); default the file's"
    )
    tags: dict[str, str] = Field(default_factory=dict, description="tags of this connection's assets")
    replay: ReplaySettings = Field(
        default_factory=ReplaySettings,
        description="how many of this connection's quarantined records each run retries (by id, else by window)",
    )
    full_previews: bool = Field(
        default=False,
        description="show this connection's raw records unmasked in Dagster previews (emails, phones, names and "
        "street addresses are masked by default: run history keeps them for good)",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        return None if value is None else valid_cron(value)

    @field_validator("owners")
    @classmethod
    def _owners(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else valid_owners(value)


def valid_cron(value: str) -> str:
    """A cron string Dagster accepts (five fields), else ValueError."""
    from dagster._utils.schedules import is_valid_cron_string

    if not is_valid_cron_string(value):
        raise ValueError(f"'{value}' is not a cron schedule of five fields, e.g. '0 * * * *'")
    return value


def valid_owners(value: list[str]) -> list[str]:
    """Owners as Dagster takes them: an email address, or team:<name>."""
    for owner in value:
        if not (re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", owner) or re.fullmatch(r"team:[\w.-]+", owner)):
            raise ValueError(f"owner '{owner}' is neither an email address nor team:<name>")
    return value


class QualitySettings(BaseModel):
    """The `quality` section: limits of the data-quality checks that are not another section's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_quarantine_share: float = Field(
        default=0.05, ge=0, le=1, description="largest share of a canonical table's feeding records in quarantine"
    )
    max_unresolved_share: float = Field(
        default=0.95, ge=0, le=1, description="largest share of source customer records that match no other"
    )


class CanalisConfig(BaseModel):
    """The whole connections file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connections: dict[str, ConnectionConfig] = Field(default_factory=dict)
    schedule: str = Field(default="0 * * * *", description="cron of the connections' reads (UTC), unless they set one")
    owners: list[str] = Field(default_factory=list, description="owners of Canalis's assets (emails or team:name)")
    identity: IdentityConfig = Field(default_factory=IdentityConfig, description="identity resolution")
    quality: QualitySettings = Field(default_factory=QualitySettings, description="data-quality check limits")
    publish: PublishConfig = Field(default_factory=PublishConfig, description="systems of record, channel policies")
    consistency: ConsistencySettings = Field(
        default_factory=ConsistencySettings, description="inconsistency rule settings"
    )
    kpis: KpiSettings = Field(default_factory=KpiSettings, description="KPI settings")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="where run and check failures are sent")
    path: Path | None = Field(default=None, exclude=True, description="the file this was read from")

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        return valid_cron(value)

    @field_validator("owners")
    @classmethod
    def _owners(cls, value: list[str]) -> list[str]:
        return valid_owners(value)

    @field_validator("connections")
    @classmethod
    def _names(cls, value: dict[str, ConnectionConfig]) -> dict[str, ConnectionConfig]:
        for name in value:
            if not re.match(NAME_PATTERN, name):
                raise ValueError(f"connection name '{name}' must be lower-case letters, digits and underscores")
        return value

    def enabled_connections(self) -> dict[str, ConnectionConfig]:
        return {name: connection for name, connection in self.connections.items() if connection.enabled}

    @property
    def folder(self) -> Path:
        """The folder relative paths in the file are read from: the file's own, else the working directory."""
        return self.path.parent if self.path is not None else Path.cwd()


def config_path() -> Path:
    """The connections file in force: CANALIS_CONFIG, else canalis.yaml in the Canalis home."""
    explicit = os.environ.get(CONFIG_ENV)
    return Path(explicit).expanduser().resolve() if explicit else canalis_home() / CONFIG_FILE_NAME


def read_document(path: Path) -> dict[str, Any]:
    """The connections file as YAML; a missing file is an empty document."""
    if not path.is_file():
        return {}
    try:
        document = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path}: the connections file must be a mapping of sections")
    return document


def parse_config(document: dict[str, Any], path: Path | None = None) -> CanalisConfig:
    """Validate a connections document; a ConfigError lists every problem at its full path."""
    problems = document_problems(document)
    if problems:
        raise ConfigError.of(problems)
    return CanalisConfig.model_validate({**document, "path": path})


def document_problems(document: dict[str, Any]) -> list[ConfigProblem]:
    """Every problem of the document's shape: unknown keys, wrong types and values, bad connection names."""
    problems: list[ConfigProblem] = []
    try:
        CanalisConfig.model_validate(document)
    except ValidationError as error:
        for problem in validation_problems(error, "", CanalisConfig):
            parts = problem.where.split(".")
            connection = parts[1] if len(parts) > 1 and parts[0] == "connections" else None
            problems.append(ConfigProblem(problem.where, problem.message, connection))
    return problems


def load_config(path: Path | None = None) -> CanalisConfig:
    """Read and validate the connections file (CANALIS_CONFIG or the home's); a missing file means no connections."""
    path = path or config_path()
    return parse_config(read_document(path), path)
