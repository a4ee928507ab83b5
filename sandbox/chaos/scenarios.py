"""The chaos scenarios on one fixed-seed world: undisturbed, under heavy faults, killed in every step, and two
first runs at once on a fresh home.

Every sandbox scenario starts from a copy of the same generated world and an empty store, and takes the same
sequence: a full sync, a publish (plan and apply), an incremental sync (reading back what was published), a second
publish (finishing what the first could not) and a last incremental sync. The undisturbed scenario's store is the
reference the others are compared with.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from canalis.config.connections import CanalisConfig
from canalis.sandbox.chaos.child import STOP_MARK
from canalis.sandbox.chaos.measures import (
    ChaosTable,
    Snapshot,
    applied_twice_at_vendors,
    applied_twice_in_audit,
    audit_gaps,
    quarantine_figures,
)
from canalis.sandbox.chaos.pipeline import run_steps
from canalis.sandbox.environment import sandbox_environment
from canalis.sandbox.serve import set_shopify_plan
from canalis.sandbox.server import SandboxServer
from canalis.sandbox.world import WorldSpec, generate_world
from canalis.store import Store

SEED = 7
CUSTOMERS = 30
HEAVY_FAULTS = "*:429=0.05,burst=2,500=0.03,502=0.03,503=0.03,drop=0.03,malformed=0.02,lost_reply=0.5"
"""Every emulator: throttling in bursts, 5xx answers, dropped connections, malformed records, and half of the
writes applied with their answer lost."""

SYNC = ("read", "canonical", "identity")
PUBLISH = ("plan", "apply")
KILL_STEPS = ("read", "canonical", "identity", "plan")
"""Steps killed inside with kill -9; publishing is also killed in the middle of a write batch, from the sandbox."""

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONNECTIONS = ROOT / "dagster_home" / "canalis.yaml"
CHILD_TIMEOUT = 300


@dataclass
class ScenarioResult:
    """What one scenario left: its table, its store's snapshot, and the vendor objects each request changed."""

    table: ChaosTable
    snapshot: Snapshot
    store_url: str
    writes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    failed_steps: list[str] = field(default_factory=list)
    faults_by_system: dict[str, Counter[str]] = field(default_factory=dict)


@dataclass
class FirstRunsResult:
    """Two `canalis run` started at once on a fresh home: their exit codes, heads of each Alembic history, and
    whether their store holds what one run stores."""

    exit_codes: list[int]
    heads: dict[str, int]
    lost: Counter[str]
    errors: list[str]


def vendor_connections(path: Path = DEMO_CONNECTIONS) -> dict[str, Any]:
    """The demo's connections to vendor APIs (the sandbox's emulators) and its publish policy; Square publishes
    prices and stock only (its promotion writes report a saved pricing rule as failed)."""
    demo = yaml.safe_load(path.read_text(encoding="utf-8"))
    connections = {
        name: connection
        for name, connection in demo["connections"].items()
        if connection["connector"] not in ("file_drop", "imap")
    }
    publish = dict(demo.get("publish") or {})
    channels = dict(publish.get("channels") or {})
    channels.setdefault("store_square", {})["publish"] = ["prices", "stock_levels"]
    publish["channels"] = channels
    return {"connections": connections, "publish": publish}


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """These environment variables set for the block, the previous values back after it."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ChaosLab:
    """Runs the scenarios in a working folder, from one world generated once."""

    def __init__(self, folder: Path, *, seed: int = SEED, customers: int = CUSTOMERS, faults: str = HEAVY_FAULTS):
        self.folder = Path(folder)
        self.seed, self.customers, self.faults = seed, customers, faults
        self._undisturbed: ScenarioResult | None = None
        self._pristine: Path | None = None

    # -- set-up ------------------------------------------------------------------------------------------

    def pristine_world(self) -> Path:
        if self._pristine is None:
            folder = self.folder / "pristine"
            generate_world(WorldSpec(seed=self.seed, customers=self.customers), folder)
            set_shopify_plan(folder, "plus")
            self._pristine = folder
        return self._pristine

    def _prepare(self, name: str) -> tuple[Path, Path, CanalisConfig, str]:
        folder = self.folder / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        world = folder / "world"
        shutil.copytree(self.pristine_world(), world)
        settings = vendor_connections()
        config_path = folder / "canalis.yaml"
        config_path.write_text(yaml.safe_dump(settings), encoding="utf-8")
        url = f"sqlite:///{folder / 'canalis.db'}"
        with Store(url) as store:
            store.migrate()
        return folder, world, CanalisConfig.model_validate(settings), url

    # -- scenarios ---------------------------------------------------------------------------------------

    def undisturbed(self) -> ScenarioResult:
        """The reference: the sequence with no fault and no kill."""
        if self._undisturbed is None:
            _, world, config, url = self._prepare("undisturbed")
            with SandboxServer(world, seed=self.seed) as server, self._served(server):
                failed = self._sequence(url, config, full_first=True)
                writes = Counter(server.app.writes)
            table = ChaosTable("undisturbed", write_requests=server.app.write_requests.total())
            self._undisturbed = self._finish(table, url, writes, failed, reference=None)
        return self._undisturbed

    def under_faults(self) -> ScenarioResult:
        """The full sync and the first publish under heavy faults on every emulator, then the rest without."""
        reference = self.undisturbed()
        _, world, config, url = self._prepare("faults")
        failed: list[str] = []
        with SandboxServer(world, seed=self.seed, faults=self.faults) as server, self._served(server):
            failed += self._steps(url, config, SYNC, full=True, label="full sync under faults")
            failed += self._steps(url, config, PUBLISH, full=False, label="publish under faults")
            faults: Counter[str] = Counter()
            by_system: dict[str, Counter[str]] = {}
            for (system, kind), count in server.app.faults.injected.items():
                faults[kind] += count
                by_system.setdefault(system, Counter())[kind] += count
            server.app.faults.rates = {}  # the faults stop
            failed += self._steps(url, config, SYNC, full=False, label="incremental sync")
            failed += self._steps(url, config, PUBLISH, full=False, label="publish")
            failed += self._steps(url, config, SYNC, full=False, label="incremental sync")
            writes = Counter(server.app.writes)
        table = ChaosTable(
            "heavy faults on every emulator, then a clean incremental",
            faults=faults,
            write_requests=server.app.write_requests.total(),
        )
        result = self._finish(table, url, writes, failed, reference=reference)
        result.faults_by_system = by_system
        return result

    def killed(self) -> ScenarioResult:
        """A full sync killed with kill -9 inside reading, then re-runs killed inside the canonical pass and
        identity, a run to the end; a publish killed while storing its plan, another in the middle of a write batch
        (the vendor applied a write, its answer never left), re-run; then the rest of the sequence."""
        reference = self.undisturbed()
        folder, world, config, url = self._prepare("kills")
        kills: list[str] = []  # the steps a kill -9 hit inside
        failed: list[str] = []
        with SandboxServer(world, seed=self.seed) as server, self._served(server) as env:
            for attempt, step in enumerate(step for step in KILL_STEPS if step in SYNC):
                if self._killed_child(folder, url, env, SYNC, full=attempt == 0, stop_at=step):
                    kills.append(step)
            failed += self._steps(url, config, SYNC, full=False, label="sync after the kills")
            for step in (step for step in KILL_STEPS if step in PUBLISH):
                if self._killed_child(folder, url, env, PUBLISH, full=False, stop_at=step):
                    kills.append(step)
            if self._killed_child(folder, url, env, PUBLISH, full=False, server=server):
                kills.append("a write batch")
            failed += self._steps(url, config, ("apply",), full=False, label="publish re-run")
            failed += self._steps(url, config, SYNC, full=False, label="incremental sync")
            failed += self._steps(url, config, PUBLISH, full=False, label="publish")
            failed += self._steps(url, config, SYNC, full=False, label="incremental sync")
            writes = Counter(server.app.writes)
        table = ChaosTable(
            "kill -9 in each step, re-run", kills=kills, write_requests=server.app.write_requests.total()
        )
        return self._finish(table, url, writes, failed, reference=reference)

    def first_runs(self, *, job: str = "full_sync") -> FirstRunsResult:
        """Two `canalis run` at once on a fresh home (file-drop connections, no sandbox): both must succeed, each
        Alembic history must have one head, and the store must hold what one run of the same steps stores."""
        folder = self.folder / "first-runs"
        if folder.exists():
            shutil.rmtree(folder)
        home = folder / "home"
        home.mkdir(parents=True)
        shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
        demo = yaml.safe_load(DEMO_CONNECTIONS.read_text(encoding="utf-8"))
        settings = {
            "connections": {name: c for name, c in demo["connections"].items() if c["connector"] == "file_drop"}
        }
        (home / "canalis.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
        url = f"sqlite:///{home / 'canalis.db'}"
        env = {
            **os.environ,
            "CANALIS_HOME": str(home),
            "DAGSTER_HOME": str(home),
            "CANALIS_DATABASE_URL": url,
            "CANALIS_DISABLE_PLUGINS": "1",
        }
        command = [sys.executable, "-m", "canalis.cli.main", "run", job]
        runs = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [run.communicate(timeout=CHILD_TIMEOUT * 2) for run in runs]
        errors = [err[-2000:] for run, (_, err) in zip(runs, outputs, strict=True) if run.returncode != 0]
        heads = {str(path.relative_to(home)): _alembic_heads(path) for path in sorted(home.rglob("*.db"))}
        alone_url = f"sqlite:///{folder / 'alone.db'}"
        config = CanalisConfig.model_validate(settings)
        with Store(alone_url) as alone_store, environment({"CANALIS_HOME": str(home)}):
            alone_store.migrate()
            run_steps(alone_store, config, SYNC, full=True, run_id="alone")
            alone = Snapshot.of(alone_store)
        with Store(url) as together_store:
            together = Snapshot.of(together_store)
        lost = together.lost(alone) + alone.lost(together)
        return FirstRunsResult([run.returncode for run in runs], heads, lost, errors)

    # -- running -----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _served(self, server: SandboxServer) -> Iterator[dict[str, str]]:
        """The sandbox's environment for this process and the child processes."""
        values = sandbox_environment(server.base_url, server.credentials())
        values["CANALIS_DISABLE_PLUGINS"] = "1"
        with environment(values):
            yield {**os.environ, **values}

    def _sequence(self, url: str, config: CanalisConfig, *, full_first: bool) -> list[str]:
        failed: list[str] = []
        failed += self._steps(url, config, SYNC, full=full_first, label="full sync")
        failed += self._steps(url, config, PUBLISH, full=False, label="publish")
        failed += self._steps(url, config, SYNC, full=False, label="incremental sync")
        failed += self._steps(url, config, PUBLISH, full=False, label="publish")
        failed += self._steps(url, config, SYNC, full=False, label="incremental sync")
        return failed

    @staticmethod
    def _steps(url: str, config: CanalisConfig, steps: tuple[str, ...], *, full: bool, label: str) -> list[str]:
        """Run steps in this process; a step that fails is named (a run failing under faults is allowed: what
        matters is what the later runs make of it)."""
        failed = []
        with Store(url) as store:
            for step in steps:
                try:
                    run_steps(store, config, [step], full=full, run_id=f"{label}:{step}")
                except Exception as error:
                    failed.append(f"{label}: {step} ({type(error).__name__})")
        return failed

    def _killed_child(
        self,
        folder: Path,
        url: str,
        env: dict[str, str],
        steps: tuple[str, ...],
        *,
        full: bool,
        stop_at: str | None = None,
        server: SandboxServer | None = None,
    ) -> bool:
        """Run steps in a child process and kill it with SIGKILL: at its kill point, or (with `server`) from the
        sandbox right after the vendor applied its first write. Whether it was killed there."""
        command = [
            sys.executable,
            "-m",
            "canalis.sandbox.chaos.child",
            "--store",
            url,
            "--config",
            str(folder / "canalis.yaml"),
            "--steps",
            ",".join(steps),
            "--run-id",
            f"killed-{stop_at or 'write'}",
        ]
        command += ["--full"] if full else []
        command += ["--stop-at", stop_at] if stop_at else []
        with open(folder / f"child-{stop_at or 'write'}.log", "w", encoding="utf-8") as log:
            child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log, text=True)
        killed = threading.Event()
        if server is not None:

            def kill_on_write(system: str, changed: list[tuple[str, str, str]]) -> None:
                if not killed.is_set():
                    killed.set()
                    os.kill(child.pid, signal.SIGKILL)  # the vendor applied the write; its answer goes nowhere

            server.app.write_hooks.append(kill_on_write)
        try:
            assert child.stdout is not None
            for line in child.stdout:
                if stop_at and line.startswith(f"{STOP_MARK} {stop_at}"):
                    os.kill(child.pid, signal.SIGKILL)
                    killed.set()
                    break
            child.wait(timeout=CHILD_TIMEOUT)
        finally:
            if server is not None:
                server.app.write_hooks.clear()
            if child.poll() is None:
                child.kill()
                child.wait(timeout=30)
        time.sleep(0.2)  # the store's lock holders and helper processes notice the death
        return killed.is_set() and child.returncode == -signal.SIGKILL

    def _finish(
        self,
        table: ChaosTable,
        url: str,
        writes: Counter[tuple[str, str, str]],
        failed: list[str],
        *,
        reference: ScenarioResult | None,
    ) -> ScenarioResult:
        with Store(url) as store:
            snapshot = Snapshot.of(store)
            unsettled, unannounced = audit_gaps(store)
            twice_in_audit = applied_twice_in_audit(store)
        table.failed_steps = failed
        table.quarantined, table.healed, table.still_open = quarantine_figures(snapshot.quarantine)
        table.audit_missing = unsettled + unannounced
        if reference is not None:
            table.lost = snapshot.lost(reference.snapshot)
            table.different = snapshot.different(reference.snapshot)
            table.applied_twice = max(applied_twice_at_vendors(writes, reference.writes), twice_in_audit)
        else:
            table.applied_twice = twice_in_audit
        return ScenarioResult(table, snapshot, url, writes, failed)


def _alembic_heads(path: Path) -> int:
    """Rows of a SQLite database's alembic_version table (its heads); 0 when it has none."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        try:
            return len(conn.execute("SELECT version_num FROM alembic_version").fetchall())
        except sqlite3.DatabaseError:
            return 0
