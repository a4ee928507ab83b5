"""Dagster resources: the canonical store and one resource per configured connection."""

from __future__ import annotations

import json
import os
from typing import Any

from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from assets.connections import ConnectionConfig, build_connector
from connectors.sdk.base import Connector
from connectors.sdk.settings import describe_settings
from mappings.store import Store
from mappings.store.database import DATABASE_URL_ENV

_MIGRATED: set[str] = set()  # database URLs this process has already brought to the newest schema


class StoreResource(ConfigurableResource):
    """The canonical store. The database URL comes from CANALIS_DATABASE_URL, else SQLite under the Canalis home."""

    database_url: str | None = Field(default=None, description="SQLAlchemy URL; empty for the embedded SQLite")

    def get_store(self) -> Store:
        """A store on the configured database, migrated to the newest schema (once per process and database)."""
        store = Store(self.database_url or None)
        if store.url not in _MIGRATED:
            store.migrate()
            _MIGRATED.add(store.url)
        return store


def store_resource() -> StoreResource:
    """The store resource, reading the database URL through EnvVar when it is set so the UI never shows it."""
    if os.environ.get(DATABASE_URL_ENV):
        return StoreResource(database_url=EnvVar(DATABASE_URL_ENV))
    return StoreResource()


class ConnectionResource(ConfigurableResource):
    """One configured connection. Secret settings are not held here: they are read from their environment variables."""

    connection: str = Field(description="connection name")
    connector: str = Field(description="registered connector name")
    channel: str = Field(description="customer channel the system stands for")
    settings_json: str = Field(default="{}", description="non-secret settings as JSON")
    secret_variables: list[str] = Field(default_factory=list, description="environment variables holding secrets")

    def build(self) -> Connector:
        """The connector, with settings validated (a bad setting fails naming it)."""
        config = ConnectionConfig(
            connector=self.connector, channel=self.channel, settings=json.loads(self.settings_json)
        )
        return build_connector(self.connection, config)


def connection_resource(name: str, config: ConnectionConfig, connector_class: type[Connector]) -> ConnectionResource:
    """A resource for a connection; secret settings are named by environment variable only."""
    secrets = [row.env for row in describe_settings(connector_class.settings_model) if row.secret and row.env]
    return ConnectionResource(
        connection=name,
        connector=config.connector,
        channel=config.channel,
        settings_json=json.dumps(config.settings, sort_keys=True),
        secret_variables=secrets,
    )


def resource_key(connection: str) -> str:
    """The resource key of a connection."""
    return f"connection_{connection}"


def settings_preview(config: ConnectionConfig) -> dict[str, Any]:
    """Connection settings safe to show: environment references shown by name."""
    return {
        key: (f"${{{value['env']}}}" if isinstance(value, dict) and "env" in value else value)
        for key, value in config.settings.items()
    }
