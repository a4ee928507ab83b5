"""The fields the built-in connectors declare are true and complete: every shipped mapping reads only declared
fields, and every record read from the sandbox holds only declared fields."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from canalis.config.check import mapping_mismatches
from canalis.config.connections import CanalisConfig
from canalis.config.wiring import build_connector
from canalis.connectors.registry import builtin_connectors, discover, shipped_mapping, shipped_mappings
from canalis.mappings.declarative.spec import load_mapping
from canalis.sandbox.environment import sandbox_environment
from canalis.sandbox.serve import ensure_world, set_shopify_plan
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec
from canalis.sdk.base import Connector
from canalis.sdk.streams import field_declared

ROOT = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((ROOT / "dagster_home" / "canalis.yaml").read_text(encoding="utf-8"))
REGISTRY = discover(include_plugins=False)
SHIPPED = shipped_mappings(REGISTRY)
# Connectors whose streams take their shape from the connection (files dropped, tables configured).
OPEN_SHAPED = {"file_drop", "sql_erp"}
# The demo's sandbox connections, plus the other read paths of Salesforce and Shopify (bulk exports).
CONNECTIONS: dict[str, dict[str, Any]] = {
    **{name: value for name, value in DEMO["connections"].items() if value["connector"] not in OPEN_SHAPED},
    "crm_salesforce_bulk": {
        "connector": "salesforce",
        "channel": "crm",
        "settings": {
            "login_url": "${CANALIS_SANDBOX_URL}/salesforce",
            "bulk_threshold": 0,
            "bulk_poll_seconds": 0.01,
        },
    },
    "web_shopify_bulk": {
        "connector": "shopify",
        "channel": "web",
        "settings": {"shop": "${CANALIS_SANDBOX_URL}/shopify", "bulk_threshold": 1, "bulk_poll_seconds": 0.01},
    },
}


# --- shipped mappings --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_a_shipped_mapping_reads_only_fields_its_connector_declares(name: str) -> None:
    spec = load_mapping(SHIPPED[name])
    connector = REGISTRY[spec.connector].connector
    assert mapping_mismatches(spec, connector, connector.stream_names({})) == []


def test_every_readable_stream_declares_its_fields_unless_the_connection_shapes_it() -> None:
    connectors = builtin_connectors()
    assert {connector.name for connector in connectors} >= OPEN_SHAPED | {"hubspot", "imap", "square"}
    for connector in connectors:
        for stream in connector.streams:
            if stream.readable:
                declared = stream.declared_fields()
                where = f"{connector.name}.{stream.name}"
                assert (declared is None) == (connector.name in OPEN_SHAPED), where
                assert declared is None or stream.primary_key in declared, where


def test_a_misspelt_field_is_reported_with_its_stream_and_path(tmp_path: Path) -> None:
    document = yaml.safe_load(shipped_mapping("hubspot").read_text(encoding="utf-8"))
    fields = document["streams"]["contacts"]["targets"][0]["fields"]
    fields["email"]["from"] = "properties.emial"
    lines = next(target for target in document["streams"]["deals"]["targets"] if target.get("each"))
    lines["fields"]["sku"]["from"] = "item.properties.hs_skuu"
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    connector = REGISTRY["hubspot"].connector

    found = mapping_mismatches(load_mapping(path), connector, connector.stream_names({}))

    assert len(found) == 2, found
    assert found[0].startswith("streams.contacts.targets.0.fields.email: stream 'contacts' declares no field ")
    assert "'properties.emial' (did you mean 'properties.email'?)" in found[0]
    expected = "streams.deals.targets.1.fields.sku: stream 'deals' declares no field 'line_items.properties.hs_skuu'"
    assert found[1].startswith(expected)


def test_paths_are_matched_through_lists_and_wildcards() -> None:
    declared = frozenset({"properties.email", "properties.hs_email_optout_*", "attributes.*", "lines.sku", "ids"})
    for path in ("properties", "properties.email", "properties.hs_email_optout_7700101", "attributes.SMS"):
        assert field_declared(path, declared), path
    for path in ("lines.0.sku", "lines.sku", "ids", "ids.3"):
        assert field_declared(path, declared), path
    for path in ("properties.emial", "properties.hs_email_optout", "lines.qty", "lines._index", "email.value"):
        assert not field_declared(path, declared), path


# --- records read from the sandbox ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    """One small world served in-process (HTTP emulators and the IMAP mailbox) for every connector."""
    data_dir = tmp_path_factory.mktemp("declared-fields")
    ensure_world(WorldSpec(seed=7, customers=40), data_dir)
    set_shopify_plan(data_dir, "plus")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = SandboxServer(data_dir, imap=True).start()
    try:
        with pytest.MonkeyPatch.context() as patch:
            for name, value in sandbox_environment(server.base_url, server.credentials()).items():
                patch.setenv(name, value)
            yield server
    finally:
        server.stop()


def leaf_paths(value: Any, prefix: str = "") -> Iterator[str]:
    """Every leaf path of a record, list positions left out (an empty object or list is a leaf)."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from leaf_paths(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for item in value:
            yield from leaf_paths(item, prefix)
    elif prefix:
        yield prefix


def read_all(connector: Connector, stream: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for page in connector.read(stream):
        assert not page.rejected, f"{connector.name}.{stream}: {page.rejected[0].error}"
        records += page.records
    return records


def add_blacklist_entry(connector: Connector) -> None:
    """The world holds no Odoo email blacklist entry: write one (a denied consent) so consents has a record."""
    email = next(record["email"] for record in read_all(connector, "partners") if record.get("email"))
    record = {"key": "declared-fields", "email": email, "status": "denied", "purpose": "marketing", "channel": "email"}
    (result,) = connector.write("consents", [record])
    assert result.status == "applied", result


@pytest.mark.parametrize("name", sorted(CONNECTIONS))
def test_records_read_from_the_sandbox_hold_only_declared_fields(sandbox: SandboxServer, name: str) -> None:
    settings = dict(CONNECTIONS[name]["settings"])
    if CONNECTIONS[name]["connector"] == "odoo":
        settings["allow_writes"] = True
    connection = CanalisConfig.model_validate({"connections": {name: {**CONNECTIONS[name], "settings": settings}}})
    undeclared: set[str] = set()
    with build_connector(name, connection.connections[name]) as connector:
        if connector.name == "odoo":
            add_blacklist_entry(connector)
        for stream in connector.declared_streams():
            if not stream.readable:
                continue
            declared = stream.declared_fields()
            assert declared is not None, f"{connector.name}.{stream.name} declares no fields"
            records = read_all(connector, stream.name)
            assert records, f"{connector.name}.{stream.name}: the sandbox gave no record to check"
            for record in records:
                for path in leaf_paths(record):
                    if not field_declared(path, declared):
                        undeclared.add(f"{connector.name} stream '{stream.name}' holds undeclared field '{path}'")
    assert not undeclared, "\n".join(sorted(undeclared))
