"""The steps a chaos scenario runs, the same as a sync and a publish run: read every stream, map, resolve
identities and attach the timeline, plan, apply the approved plan."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from canalis.canonical.canonicalize import canonicalize_entities
from canalis.config.connections import CanalisConfig
from canalis.config.wiring import build_connector, build_mappers, canonical_feeds, streams_of
from canalis.connectors.registry import discover
from canalis.identity.persistence import resolve_customers
from canalis.ingest.replay import heal_after_read
from canalis.ingest.stream import ingest_stream
from canalis.publishing import PublishConfig, load_publish_config
from canalis.publishing.apply import apply_stored_plan
from canalis.publishing.plans import latest_plan, propose_plan
from canalis.publishing.reconcile import reconcile_sent
from canalis.store import Store
from canalis.timeline import attach_interactions

STEPS = ("read", "canonical", "identity", "plan", "apply")
"""Every step, in the order a sync then a publish run takes them."""


def publish_config(config: CanalisConfig) -> PublishConfig:
    """The connections file's publish policy, applying plans without waiting (the harness stands for the approver)."""
    return load_publish_config(config).model_copy(update={"mode": "apply", "require_approval": False})


def read(store: Store, config: CanalisConfig, *, full: bool, run_id: str) -> None:
    registry = discover()
    for name, connection in config.enabled_connections().items():
        with build_connector(name, connection, registry) as connector:
            for stream in streams_of(connection, registry[connection.connector]):
                ingest_stream(store, connector, stream, full_refresh=full, run_id=run_id)
                heal_after_read(store, connector, stream, settings=connection.replay, full_refresh=full, run_id=run_id)


def canonical(store: Store, config: CanalisConfig, *, full: bool, run_id: str) -> None:
    registry = discover()
    mappers = build_mappers(config, registry)
    canonicalize_entities(store, mappers, list(canonical_feeds(config, registry, mappers)), full=full, run_id=run_id)


def identity(store: Store, config: CanalisConfig, *, full: bool, run_id: str) -> None:
    with store.lock("identity"):
        resolve_customers(store.engine, config=config.identity, full=full)
    attach_interactions(store)


def plan(store: Store, config: CanalisConfig, *, full: bool, run_id: str) -> None:
    with store.lock("publish"), store.begin() as conn:
        propose_plan(conn, publish_config(config), created_by=f"run:{run_id}", now=datetime.now(UTC))


def apply(store: Store, config: CanalisConfig, *, full: bool, run_id: str) -> None:
    """Apply the newest approved plan; with none, still settle the writes a dead run announced."""
    publish = publish_config(config)
    connectors = {name: build_connector(name, config.connections[name]) for name in sorted(publish.channels)}
    mappers = build_mappers(config)
    try:
        with store.lock("publish"):
            with store.engine.connect() as conn:
                approved = latest_plan(conn, "approved")
            if approved is None:
                reconcile_sent(store, publish, connectors, mappers, run_id=run_id)
            else:
                apply_stored_plan(store, publish, approved.plan_id, connectors, mappers, run_id=run_id)
    finally:
        for connector in connectors.values():
            connector.close()


STEP_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "read": read,
    "canonical": canonical,
    "identity": identity,
    "plan": plan,
    "apply": apply,
}


def run_steps(store: Store, config: CanalisConfig, steps: Sequence[str], *, full: bool, run_id: str) -> None:
    for step in steps:
        STEP_FUNCTIONS[step](store, config, full=full, run_id=run_id)
