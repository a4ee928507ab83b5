"""The connector registry: built-in connectors plus plugins found through the `canalis.connectors` entry points."""

from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path

from canalis.sdk.base import Connector
from canalis.sdk.declarative import declarative_connector
from canalis.sdk.errors import ConfigError

ENTRY_POINT_GROUP = "canalis.connectors"
DISABLE_PLUGINS_ENV = "CANALIS_DISABLE_PLUGINS"
DECLARATION_FILE = "connector.yaml"

log = logging.getLogger("canalis.registry")


@dataclass(frozen=True)
class RegisteredConnector:
    """A connector class and where it came from."""

    connector: type[Connector]
    origin: str  # "built-in" or the distribution that provides the plugin


BUILTIN_MODULES = (
    "file_drop",
    "salesforce",
    "hubspot",
    "odoo",
    "sql_erp",
    "imap",
    "brevo",
    "shopify",
    "square",
    "freshdesk",
)


def builtin_connectors() -> list[type[Connector]]:
    """The connectors that ship with Canalis (each package names its class in `CONNECTOR`, or declares its
    connector in a `connector.yaml` next to its `__init__.py`).

    A built-in that fails to import is logged and left out, like a broken plugin, so one connector cannot take
    the whole code location down; the test suite checks that every built-in loads. They are found once per
    process: the modules are imported once anyway, and the declared ones are built from their YAML only once.
    """
    return list(_builtin_connectors())


@cache
def _builtin_connectors() -> tuple[type[Connector], ...]:
    found: list[type[Connector]] = []
    for name in BUILTIN_MODULES:
        try:
            module = importlib.import_module(f"canalis.connectors.{name}")
        except ModuleNotFoundError as error:
            if error.name == f"canalis.connectors.{name}":
                continue
            log.error("built-in connector %s could not be imported: %s", name, error)
            continue
        except Exception as error:  # a bug in one connector must not hide the others
            log.error("built-in connector %s could not be imported: %s", name, error)
            continue
        connector = getattr(module, "CONNECTOR", None)
        declaration = Path(module.__file__ or "").parent / DECLARATION_FILE
        if connector is None and declaration.is_file():
            try:
                connector = declarative_connector(declaration, module=module.__name__)
            except ConfigError as error:
                log.error("built-in connector %s has a wrong %s: %s", name, DECLARATION_FILE, error)
                continue
        if connector is None:
            log.error("built-in connector package %s names no CONNECTOR and holds no %s", name, DECLARATION_FILE)
            continue
        found.append(connector)
    return tuple(found)


def discover(*, include_plugins: bool | None = None) -> dict[str, RegisteredConnector]:
    """Every connector by name; plugins are skipped when CANALIS_DISABLE_PLUGINS=1 or include_plugins=False."""
    registry: dict[str, RegisteredConnector] = {
        cls.name: RegisteredConnector(cls, "built-in") for cls in builtin_connectors()
    }
    if include_plugins is None:
        include_plugins = os.environ.get(DISABLE_PLUGINS_ENV, "") not in ("1", "true", "yes")
    if not include_plugins:
        return registry
    for entry_point in _plugin_entry_points(tuple(sys.path)):
        try:
            loaded = entry_point.load()
        except Exception as error:  # a broken plugin must not take the code location down
            log.warning("connector plugin %s could not be loaded: %s", entry_point.value, error)
            continue
        if not (isinstance(loaded, type) and issubclass(loaded, Connector)):
            log.warning("entry point %s does not name a Connector subclass; ignored", entry_point.value)
            continue
        if loaded.name in registry and registry[loaded.name].connector is loaded:
            continue
        if loaded.name in registry and registry[loaded.name].origin == "built-in":
            log.warning("plugin %s reuses the built-in name '%s'; ignored", entry_point.value, loaded.name)
            continue
        distribution = entry_point.dist.name if entry_point.dist else entry_point.value
        registry[loaded.name] = RegisteredConnector(loaded, distribution)
    return registry


@cache
def _plugin_entry_points(search_path: tuple[str, ...]) -> tuple:
    """The `canalis.connectors` entry points installed on a search path (scanning every distribution's metadata
    takes a fifth of a second, and the registry is asked for at every connector built)."""
    del search_path  # the cache key: a process that changes sys.path scans again
    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def get_connector(name: str, registry: dict[str, RegisteredConnector] | None = None) -> type[Connector]:
    """The connector class called `name`, or a ConfigError listing the known ones."""
    registry = registry if registry is not None else discover()
    if name not in registry:
        raise ConfigError(f"unknown connector '{name}' (known: {', '.join(sorted(registry))})", setting="connector")
    return registry[name].connector


def shipped_mappings(registry: dict[str, RegisteredConnector] | None = None) -> dict[str, Path]:
    """Every mapping the registered connectors ship: `<connector>` for a default, `<connector>:<variant>` else."""
    registry = registry if registry is not None else discover()
    found: dict[str, Path] = {}
    for name, registered in sorted(registry.items()):
        for variant, path in registered.connector.shipped_mappings().items():
            found[name if variant == "default" else f"{name}:{variant}"] = path
    return found


def shipped_mapping(connector: str, variant: str | None = None) -> Path:
    """The path of a mapping a registered connector ships (its default one unless a variant is named)."""
    return get_connector(connector).mapping_path(variant)
