"""The chaos harness: a fixed-seed sandbox world synced under heavy faults and `kill -9`, compared with an
undisturbed run of the same world, and measured in one table (faults injected, records quarantined and healed,
records lost, writes applied twice, audit rows missing).

The chaos tests (tests/chaos/) and `python -m benchmarks.chaos` both run it: `scenarios` prepares the worlds and
runs each scenario, `pipeline` holds the sync and publish steps every scenario runs, `child` runs steps in a process
that can be killed at a chosen point, and `measures` compares stores and builds the table.
"""

from canalis.sandbox.chaos.measures import ChaosTable, Snapshot
from canalis.sandbox.chaos.scenarios import ChaosLab, ScenarioResult

__all__ = ["ChaosLab", "ChaosTable", "ScenarioResult", "Snapshot"]
