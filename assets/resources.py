"""Dagster resources: the canonical store and one resource per configured connection."""

from __future__ import annotations

import json
import os

from dagster import ConfigurableResource, EnvVar, InitResourceContext
from pydantic import Field, PrivateAttr

from canalis.config.connections import ConnectionConfig
from canalis.config.wiring import build_connector
from canalis.sdk.base import Connector
from canalis.sdk.settings import describe_settings
from canalis.store import Store
from canalis.store.database import DATABASE_URL_ENV


class StoreResource(ConfigurableResource):
    """The canonical store. The database URL comes from CANALIS_DATABASE_URL, else SQLite under the Canalis home.

    One engine (and connection pool) per resource and process, created and migrated when a step starts, and
    disposed when it ends.
    """

    database_url: str | None = Field(default=None, description="SQLAlchemy URL; empty for the embedded SQLite")
    _store: Store | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self.get_store()

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None

    def get_store(self) -> Store:
        """The store on the configured database, migrated to the newest schema."""
        if self._store is None:
            store = Store(self.database_url or None)
            store.migrate()
            self._store = store
        return self._store


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
        """The connector, with settings validated (a bad setting fails naming it); the caller closes it."""
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
