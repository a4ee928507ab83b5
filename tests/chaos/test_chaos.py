"""The chaos suite: a fixed-seed sandbox world under heavy faults on every emulator, then a clean incremental;
kill -9 inside each step and in the middle of a write batch, then re-runs; two first runs at once on a fresh home.
Each is compared with an undisturbed run of the same world (`canalis.sandbox.chaos`, also `python -m
benchmarks.chaos`, which prints the tables)."""

from __future__ import annotations

from pathlib import Path

import pytest

from canalis.sandbox.chaos import ChaosLab, ScenarioResult
from canalis.sandbox.chaos.scenarios import KILL_STEPS

# one worker runs the whole module (make test distributes by group), so the scenarios run once
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chaos")]

FAULT_KINDS = {"429", "500", "502", "503", "drop", "malformed", "lost_reply"}
EMULATORS = {"salesforce", "hubspot", "shopify", "square", "odoo", "brevo"}
"""The emulators the demo's vendor connections read and write."""


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> ChaosLab:
    return ChaosLab(tmp_path_factory.mktemp("chaos"))


@pytest.fixture(scope="module")
def under_faults(lab: ChaosLab) -> ScenarioResult:
    result = lab.under_faults()
    print(result.table.render())
    return result


@pytest.fixture(scope="module")
def killed(lab: ChaosLab) -> ScenarioResult:
    result = lab.killed()
    print(result.table.render())
    return result


def test_the_undisturbed_run_stores_the_world_and_publishes(lab: ChaosLab) -> None:
    reference = lab.undisturbed()
    assert not reference.failed_steps
    keys = reference.snapshot.keys
    assert all(keys[kind] for kind in ("raw records", "customer records", "orders", "prices", "stock levels"))
    assert reference.snapshot.unified and reference.writes, "nothing was unified or published"
    assert reference.table.audit_missing == 0 and reference.table.applied_twice == 0


def test_every_kind_of_fault_hits_the_emulators(under_faults: ScenarioResult) -> None:
    assert set(under_faults.table.faults) >= FAULT_KINDS, under_faults.table.faults
    hit = {system for system, kinds in under_faults.faults_by_system.items() if sum(kinds.values())}
    assert hit >= EMULATORS, f"no fault reached {sorted(EMULATORS - hit)}"


def test_under_faults_no_write_is_applied_twice_and_the_audit_has_every_write(under_faults: ScenarioResult) -> None:
    table = under_faults.table
    assert table.applied_twice == 0
    assert table.audit_missing == 0


def test_malformed_records_are_quarantined_with_their_reason(under_faults: ScenarioResult) -> None:
    assert under_faults.table.faults["malformed"] > 0
    assert sum(under_faults.table.quarantined.values()) > 0
    assert all(reason.strip() for reason in under_faults.table.quarantined)


def test_after_the_faults_stop_a_clean_incremental_loses_nothing_and_heals(
    lab: ChaosLab, under_faults: ScenarioResult
) -> None:
    table = under_faults.table
    assert table.records_lost == 0, table.lost
    assert table.still_open == 0 and table.healed == sum(table.quarantined.values())
    assert under_faults.snapshot.unified == lab.undisturbed().snapshot.unified


def test_kill_9_in_each_step_then_re_runs_end_as_the_undisturbed_run(lab: ChaosLab, killed: ScenarioResult) -> None:
    table = killed.table
    assert table.kills == [*KILL_STEPS, "a write batch"], "a kill point was not reached"
    reference = lab.undisturbed().snapshot
    assert killed.snapshot.lost(reference) == {}
    assert killed.snapshot.surplus(reference) == {}
    assert killed.snapshot.different(reference) == {}
    assert killed.snapshot.unified == reference.unified
    assert table.applied_twice == 0
    assert table.audit_missing == 0
    assert not killed.failed_steps


def test_two_first_runs_at_once_on_a_fresh_home(lab: ChaosLab, tmp_path: Path) -> None:
    result = lab.first_runs()
    assert result.exit_codes == [0, 0], result.errors
    assert result.heads and all(count == 1 for count in result.heads.values()), result.heads
    assert sum(result.lost.values()) == 0, result.lost
