"""Canalis as a Dagster component: `dg scaffold defs canalis.assets.component.CanalisComponent <name>`.

The component builds what the connections file builds (raw, canonical, unified, check, plan and publish assets,
jobs, schedule and sensors). Its `defs.yaml` either names a connections file (`connections_file`), which is then
the source of truth, or holds the connections and sections inline (`connections`, `publish`, ...), which are.
A code location holds one Canalis component (its canonical tables and jobs are shared by every connection).
Rename, regroup or re-own assets with `post_processing` in the YAML, or override `get_asset_spec` in a subclass.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml
from dagster import AssetSpec, Definitions
from dagster.components import (
    Component,
    ComponentLoadContext,
    Model,
    Resolvable,
    Scaffolder,
    ScaffoldRequest,
    scaffold_with,
)
from pydantic import BaseModel, Field

from canalis.assets.build import build_definitions
from canalis.assets.translator import CanalisTranslator
from canalis.config.connections import CONFIG_FILE_NAME, CanalisConfig, load_config, parse_config
from canalis.connectors.registry import get_connector
from canalis.sdk.errors import ConfigError

SECTIONS = ("identity", "quality", "publish", "consistency", "kpis", "alerts")
DEMO_CONNECTIONS = Path(__file__).resolve().parents[1] / "dagster_home" / CONFIG_FILE_NAME


class ScaffoldParams(BaseModel):
    """What `dg scaffold defs ... --json-params` may say: one connection to start from, or a connections file."""

    connector: str | None = Field(default=None, description="a registered connector: scaffold one connection of it")
    connection: str | None = Field(default=None, description="the connection's name (default: the connector's)")
    channel: str = Field(default="web", description="the customer channel the connection stands for")


class CanalisScaffolder(Scaffolder[ScaffoldParams]):
    """Writes a working defs.yaml: one connection with its mapping copied beside it to edit, or a connections file."""

    @classmethod
    def get_scaffold_params(cls) -> type[ScaffoldParams]:
        return ScaffoldParams

    def scaffold(self, request: ScaffoldRequest[ScaffoldParams]) -> None:
        folder = request.target_path
        folder.mkdir(parents=True, exist_ok=True)
        params = request.params or ScaffoldParams()
        if params.connector is None:
            (folder / CONFIG_FILE_NAME).write_text(_starter_connections(), encoding="utf-8")
            attributes: dict[str, Any] = {"connections_file": CONFIG_FILE_NAME}
        else:
            connector = get_connector(params.connector)
            name = params.connection or connector.name
            shutil.copyfile(connector.mapping_path(), folder / "mapping.yaml")
            connection = {"connector": connector.name, "channel": params.channel, "mapping": "mapping.yaml"}
            connection["settings"] = _starter_settings(connector.name)
            attributes = {"connections": {name: connection}}
        document = {"type": request.type_name, "attributes": attributes}
        (folder / "defs.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


@scaffold_with(CanalisScaffolder)
class CanalisComponent(Component, Model, Resolvable):
    """Canalis: connections read into one canonical store, customers unified, inconsistencies found, channels
    published to from approved plans."""

    connections_file: str | None = Field(
        default=None, description="a connections file, relative to this defs.yaml; it is then the source of truth"
    )
    connections: dict[str, dict[str, Any]] | None = Field(
        default=None, description="the connections, as in a connections file (when no connections_file is named)"
    )
    schedule: str | None = Field(default=None, description="cron of the connections' reads (UTC)")
    owners: list[str] | None = Field(default=None, description="owners of the assets (emails or team:name)")
    identity: dict[str, Any] | None = Field(default=None, description="identity resolution settings")
    quality: dict[str, Any] | None = Field(default=None, description="data-quality check limits")
    publish: dict[str, Any] | None = Field(default=None, description="systems of record, channel policies, gates")
    consistency: dict[str, Any] | None = Field(default=None, description="inconsistency rule settings")
    kpis: dict[str, Any] | None = Field(default=None, description="KPI settings")
    alerts: dict[str, Any] | None = Field(default=None, description="where run and check failures are sent")

    def canalis_config(self, folder: Path) -> CanalisConfig:
        """The configuration this component stands for; relative paths are read from its folder."""
        inline = {name: getattr(self, name) for name in ("connections", "schedule", "owners", *SECTIONS)}
        given = {name: value for name, value in inline.items() if value is not None}
        if self.connections_file is not None:
            if given:
                raise ConfigError(f"give either connections_file or inline settings ({', '.join(given)}), not both")
            path = Path(self.connections_file)
            return load_config(path if path.is_absolute() else folder / path)
        return parse_config(given, folder / "defs.yaml")

    def get_asset_spec(self, spec: AssetSpec) -> AssetSpec:
        """Override to change any asset's group, owners, tags, automation or description."""
        return spec

    def build_defs(self, context: ComponentLoadContext) -> Definitions:
        component = self

        class Translator(CanalisTranslator):
            def get_asset_spec(self, spec: AssetSpec) -> AssetSpec:
                return component.get_asset_spec(super().get_asset_spec(spec))

        return build_definitions(self.canalis_config(context.path), translator=Translator())


STARTER = """# Canalis connections (see the README's "The connections file"); `canalis check` validates this file.
connections:
  web_shop_export:
    connector: file_drop
    channel: web
    settings:
      path: "sample:web_shop"
"""


def _starter_connections() -> str:
    """The demo's connections file when Canalis runs from its repository, else one sample connection."""
    return DEMO_CONNECTIONS.read_text(encoding="utf-8") if DEMO_CONNECTIONS.is_file() else STARTER


def _starter_settings(connector: str) -> dict[str, Any]:
    """Settings that work on the local sandbox or the shipped samples, when the demo has a connection of this kind."""
    if DEMO_CONNECTIONS.is_file():
        demo = yaml.safe_load(DEMO_CONNECTIONS.read_text(encoding="utf-8")) or {}
        for connection in (demo.get("connections") or {}).values():
            if connection.get("connector") == connector:
                return dict(connection.get("settings") or {})
    return {}
