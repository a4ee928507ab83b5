"""Ground truth: on a sandbox world, every injected inconsistency is found, and a clean world gives no finding."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from canalis.config.connections import CanalisConfig
from canalis.consistency import CONSISTENCY_TABLES, Finding, check_consistency, settings_for
from canalis.sandbox.environment import sandbox_environment
from canalis.sandbox.objectstore import ObjectStore, TruthInconsistency
from canalis.sandbox.serve import set_shopify_plan
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec
from canalis.sandbox.world.generate import generate_world, store_path
from canalis.sandbox.world.spec import INCONSISTENCY_KINDS
from canalis.store import Store, tables
from canalis.store.schema import metadata
from canalis.sync import sync_all

ROOT = Path(__file__).resolve().parents[2]
CUSTOMERS = 150
CUSTOMER_KINDS = {"customer_attribute_conflict", "duplicate_in_channel", "consent_conflict"}
CUSTOMER_KINDS |= {"complaint_targeted_by_promotion"}

pytestmark = pytest.mark.slow


@dataclass
class Outcome:
    """A synced world: what the rules found, what was injected, and who each truth person is in Canalis."""

    findings: list[Finding]
    truth: list[TruthInconsistency]
    customers_of: dict[str, set[str]]
    connection_of: dict[str, str]


def _config() -> CanalisConfig:
    demo = yaml.safe_load((ROOT / "dagster_home" / "canalis.yaml").read_text(encoding="utf-8"))
    vendors = {name: c for name, c in demo["connections"].items() if c["connector"] != "file_drop"}
    return CanalisConfig(connections=vendors)


def _synced(folder: Path, inject: bool) -> Outcome:
    spec = WorldSpec(seed=42, customers=CUSTOMERS, inject_inconsistencies=inject)
    generate_world(spec, folder / "world")
    set_shopify_plan(folder / "world", "plus")  # the larger query budget: reading does not wait on throttling
    config = _config()
    store = Store(f"sqlite:///{folder / 'canalis.db'}")
    store.migrate()
    metadata.create_all(store.engine, tables=CONSISTENCY_TABLES)
    with SandboxServer(folder / "world", imap=True) as server, pytest.MonkeyPatch.context() as patch:
        for name, value in sandbox_environment(server.base_url, server.credentials()).items():
            patch.setenv(name, value)
        sync_all(store, config, full=True)
    report = check_consistency(store, settings_for(config), run_id="truth", now=spec.now)
    connection_of = {c.connector: name for name, c in config.connections.items()}
    with store.engine.connect() as conn:
        s = tables.source_identities
        customer = {(row.source, row.source_id): row.customer_id for row in conn.execute(select(s))}
    world = ObjectStore(store_path(folder / "world"))
    try:
        truth = list(world.truth_inconsistencies())
        customers_of: dict[str, set[str]] = {}
        for system, _, object_id, person_id in world.iter_truth_records():
            found = customer.get((connection_of.get(system, ""), object_id))
            if person_id and found:
                customers_of.setdefault(person_id, set()).add(found)
    finally:
        world.close()
    return Outcome(report.findings, truth, customers_of, connection_of)


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return _synced(tmp_path_factory.mktemp("injected"), inject=True)


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    return _synced(tmp_path_factory.mktemp("clean"), inject=False)


def _matches(item: TruthInconsistency, finding: Finding, outcome: Outcome) -> bool:
    if finding.code != item.kind:
        return False
    if item.kind in CUSTOMER_KINDS:
        entity_ok = finding.entity_key in outcome.customers_of.get(item.entity, set())
    else:
        entity_ok = finding.entity_key == item.entity
    channels = {outcome.connection_of.get(system, system) for system in item.channels}
    return entity_ok and channels <= set(finding.channels)


def figures(outcome: Outcome) -> dict[str, dict[str, int]]:
    """Per kind: injected, found (injected ones matched by a finding), false positives (findings matching none)."""
    table = {kind: {"injected": 0, "found": 0, "false_positives": 0} for kind in INCONSISTENCY_KINDS}
    for item in outcome.truth:
        table[item.kind]["injected"] += 1
        if any(_matches(item, finding, outcome) for finding in outcome.findings):
            table[item.kind]["found"] += 1
    for finding in outcome.findings:
        if not any(_matches(item, finding, outcome) for item in outcome.truth):
            table.setdefault(finding.code, {"injected": 0, "found": 0, "false_positives": 0})
            table[finding.code]["false_positives"] += 1
    return table


def test_every_injected_inconsistency_is_found(injected: Outcome) -> None:
    table = figures(injected)
    assert Counter(item.kind for item in injected.truth).keys() == set(INCONSISTENCY_KINDS)
    missed = {kind: row for kind, row in table.items() if row["found"] != row["injected"]}
    assert not missed, f"recall below 100 %: {missed}"


def test_no_finding_beyond_what_was_injected(injected: Outcome) -> None:
    table = figures(injected)
    extra = {kind: row for kind, row in table.items() if row["false_positives"]}
    assert not extra, f"false positives: {extra}"


def test_a_clean_world_gives_no_finding(clean: Outcome) -> None:
    assert clean.truth == []
    assert [(f.code, f.entity_key, f.channels, f.details) for f in clean.findings] == []
