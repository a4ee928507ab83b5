"""Failure drills on the production profile running on this machine (PostgreSQL, RabbitMQ, Redis, Celery workers).

A Celery worker killed in the middle of a step, the daemon restarted during a run, PostgreSQL gone for 30 s (the
profile reaches it through a proxy the test pauses, so the server other work shares is left alone): the run still
ends, by itself or through Dagster's run monitoring and retries, and the store ends exactly as after an undisturbed
in-process run on the same sandbox: the same raw records once each, the same cursors, the same unified customers,
no write to a channel.

The drilled run is the part of `incremental_sync` the comparison reads (the raw reads, the canonical pass and
identity resolution: 21 steps of 37), and the profile's run monitoring looks every 5 s instead of every
30 s (`instance_settings`), so a dead run's slots are freed and its retry starts sooner; what each drill proves is
unchanged. The three drills share one profile, on one test worker under `--dist loadgroup`.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from pausable_proxy import PausableProxy

from canalis.deploy import processes
from canalis.deploy.local import LocalProfile, commands, down, up
from canalis.deploy.runs import submit
from canalis.store import Store, tables
from tests.conftest import POSTGRES_URL, _server_or_skip

# one profile for the three drills, started once on one worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("failure_drills")]
ROOT = Path(__file__).resolve().parents[2]
DEMO = yaml.safe_load((ROOT / "dagster_home" / "canalis.yaml").read_text(encoding="utf-8"))
CONNECTIONS = ("crm_hubspot", "web_shop_export")  # a vendor API and a file drop: the drills need steps, not volume
SERVICES = {"RabbitMQ": 5672, "Redis": 6379}
# Dagster's waits the drills shorten: run monitoring's poll and the delay before a dead run's slots are freed,
# and the queue's dequeue interval (the production values stay in deploy/dagster.yaml)
DRILL_INSTANCE = {
    "run_monitoring": {"poll_interval_seconds": 5, "free_slots_after_run_end_seconds": 5},
    "run_coordinator": {"config": {"dequeue_interval_seconds": 1}},
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _require_services() -> None:
    for name, port in SERVICES.items():
        with socket.socket() as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                message = f"{name} not reachable on 127.0.0.1:{port}"
                if os.environ.get("CANALIS_REQUIRE_SERVICES") == "1":
                    pytest.fail(message + " (CANALIS_REQUIRE_SERVICES=1: CI must run this test)")
                pytest.skip(message)


@pytest.fixture(scope="module")
def proxy() -> Iterator[PausableProxy]:
    """The way the profile reaches PostgreSQL."""
    url = sa.engine.make_url(POSTGRES_URL)
    proxy = PausableProxy((url.host or "127.0.0.1", url.port or 5432))
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture(scope="module")
def profile(tmp_path_factory: pytest.TempPathFactory, proxy: PausableProxy) -> Iterator[LocalProfile]:
    """The profile with two workers on fresh databases (through the proxy), a queue of its own and a small world."""
    engine = _server_or_skip(POSTGRES_URL, "PostgreSQL")
    _require_services()
    folder = tmp_path_factory.mktemp("prod")
    connections = folder / "canalis.yaml"
    connections.write_text(
        yaml.safe_dump({"connections": {name: DEMO["connections"][name] for name in CONNECTIONS}}), encoding="utf-8"
    )
    tag = uuid.uuid4().hex[:8]
    url = sa.engine.make_url(POSTGRES_URL)
    server = url.set(host="127.0.0.1", port=proxy.port, database=None).render_as_string(hide_password=False)
    profile = LocalProfile(
        folder=folder,
        connections=connections,
        instance_database=f"{server}/canalis_drill_{tag}_dagster",
        store_database=f"{server}/canalis_drill_{tag}_store",
        queue=f"canalis_drill_{tag}",
        backend="redis://127.0.0.1:6379/7",
        webserver_port=_free_port(),
        code_server_port=_free_port(),
        sandbox_port=_free_port(),
        sandbox_imap_port=_free_port(),
        sandbox_customers=40,
        instance_settings=DRILL_INSTANCE,
    )
    try:
        up(profile, out=sys.stderr)
        yield LocalProfile.load(folder)
    finally:
        down(LocalProfile.load(folder), out=sys.stderr)
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for database in (profile.instance_database, profile.store_database):
                name = sa.engine.make_url(database).database
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def _environment(profile: LocalProfile) -> dict[str, str]:
    return json.loads((profile.folder / "environment.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def drilled(profile: LocalProfile) -> list[list[str]]:
    """The assets the drilled runs materialise: raw reads, the canonical pass, identity resolution."""
    from canalis.assets.build import build_definitions
    from canalis.config.connections import load_config

    with pytest.MonkeyPatch.context() as patch:
        for name, value in _environment(profile).items():
            patch.setenv(name, value)
        job = build_definitions(load_config()).resolve_job_def("incremental_sync")
        keys = job.asset_layer.executable_asset_keys
    chosen = sorted(
        key.path for key in keys if key.path[0] in ("raw", "canonical") or key.path == ["unified_customers"]
    )
    assert ["unified_customers"] in chosen and any(path[0] == "raw" for path in chosen)
    return chosen


REFERENCE = """
import json, sys
from dagster import AssetKey, DagsterInstance
from canalis.assets.definitions import defs

keys = [AssetKey(path) for path in json.loads(sys.argv[1])]
with DagsterInstance.get() as instance:
    result = defs.resolve_job_def("incremental_sync").execute_in_process(
        instance=instance, asset_selection=keys, raise_on_error=False
    )
sys.exit(0 if result.success else 1)
"""


@pytest.fixture(scope="module")
def expected(profile: LocalProfile, drilled: list[list[str]], tmp_path_factory: pytest.TempPathFactory):
    """The store after an undisturbed in-process run of the drilled assets on SQLite, against the profile's sandbox."""
    home = tmp_path_factory.mktemp("reference")
    url = f"sqlite:///{home / 'canalis.db'}"
    env = {
        **os.environ,
        **{k: v for k, v in _environment(profile).items() if k.startswith("CANALIS_")},
        "CANALIS_HOME": str(home),
        "DAGSTER_HOME": str(home),
        "CANALIS_DATABASE_URL": url,
        "CANALIS_EXECUTOR": "in_process",
        "CANALIS_DISABLE_PLUGINS": "1",
    }
    command = [sys.executable, "-c", REFERENCE, json.dumps(drilled)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    snapshot = _snapshot(url)
    assert snapshot["raw"] and snapshot["unified"] and snapshot["writes"] == 0
    return snapshot


def _snapshot(url: str) -> dict[str, object]:
    """The store's content, without load times, run ids and generated ids."""
    with Store(url) as store, store.engine.connect() as conn:
        raw = tables.raw_records
        clusters: dict[str, set[str]] = {}
        identities = tables.source_identities
        for record_key, customer_id in conn.execute(sa.select(identities.c.record_key, identities.c.customer_id)):
            clusters.setdefault(customer_id, set()).add(record_key)
        return {
            "raw": sorted(conn.execute(sa.select(raw.c.source, raw.c.stream, raw.c.record_id, raw.c.content_hash))),
            "states": sorted(
                (row.connector, row.stream, (row.cursor or {}).get("cursor_kind"))
                for row in conn.execute(sa.select(tables.sync_state))
                if "." not in row.stream
            ),
            "customer_records": sorted(
                conn.execute(sa.select(tables.customer_records.c.record_key, tables.customer_records.c.content_hash))
            ),
            "unified": sorted(sorted(members) for members in clusters.values()),
            "writes": conn.execute(sa.select(sa.func.count()).select_from(tables.write_audit)).scalar_one(),
        }


def _reset_store(profile: LocalProfile) -> None:
    """An empty store again (the next step to start migrates it)."""
    engine = sa.create_engine(_environment(profile)["CANALIS_DATABASE_URL"])
    with engine.begin() as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def _instance(profile: LocalProfile, monkeypatch: pytest.MonkeyPatch):
    """The profile's Dagster instance, its environment set for this test only."""
    from dagster import DagsterInstance

    for name, value in _environment(profile).items():
        if name.startswith("DAGSTER_"):
            monkeypatch.setenv(name, value)
    return DagsterInstance.from_config(str(profile.home))


RETRY_DECISION_SECONDS = 60


def _final_run(instance, run_id: str, timeout: float = 900):
    """The last run of a run's retry chain once it has finished (a retry is a new run naming its parent)."""
    from dagster import DagsterRunStatus, RunsFilter

    finished = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
    deadline = time.monotonic() + timeout
    current = run_id
    undecided_since: float | None = None
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(current)
        if run.status in finished:
            retries = instance.get_runs(RunsFilter(tags={"dagster/parent_run_id": current}))
            if retries:
                current, undecided_since = retries[0].run_id, None
                continue
            will_retry = run.tags.get("dagster/will_retry")
            if run.status == DagsterRunStatus.FAILURE and will_retry == "true":
                time.sleep(2)  # the daemon has yet to start the retry
                continue
            if run.status == DagsterRunStatus.FAILURE and will_retry is None:
                # Dagster marks the run failed, then tags whether it will retry (the daemon tags it if that
                # write was lost, say while the database was away): wait for the decision before judging.
                undecided_since = undecided_since or time.monotonic()
                if time.monotonic() - undecided_since < RETRY_DECISION_SECONDS:
                    time.sleep(2)
                    continue
            return run
        time.sleep(2)
    raise AssertionError(f"run {run_id} (or its retries) did not finish within {timeout:.0f} s")


def _step_workers(instance, run_id: str) -> dict[str, str]:
    """For each step started on a worker, the worker's name (from the run's engine events)."""
    from dagster import DagsterEventType

    workers = {}
    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        metadata = record.dagster_event.engine_event_data.metadata if record.dagster_event.engine_event_data else {}
        if "Celery worker" in metadata and record.step_key:
            workers[record.step_key] = str(metadata["Celery worker"].value)
    return workers


def _running_steps(instance, run_id: str) -> dict[str, str]:
    """Steps started on a worker and not yet ended, with their worker's name."""
    from dagster import DagsterEventType

    ended = {
        record.step_key
        for event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE)
        for record in instance.all_logs(run_id, of_type=event_type)
    }
    return {step: worker for step, worker in _step_workers(instance, run_id).items() if step not in ended}


def test_a_worker_killed_mid_step_leaves_the_store_as_an_undisturbed_run(
    profile, drilled, expected, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reset_store(profile)
    instance = _instance(profile, monkeypatch)
    run_id = submit(profile, "incremental_sync", asset_selection=drilled)
    deadline = time.monotonic() + 600
    victim = None
    while victim is None and time.monotonic() < deadline:
        running = _running_steps(instance, run_id)
        if running:
            victim = sorted(running.items())[0]
        else:
            time.sleep(0.3)
    assert victim is not None, "no step started on a worker"
    step, worker = victim
    name = worker.split("@")[0].removeprefix(f"{profile.queue}-")  # <queue>-worker-1@host -> worker-1
    started = next(row for row in processes.recorded(profile.pids) if row.name == name)
    os.killpg(started.pid, signal.SIGKILL)  # the worker and its pool process, in the middle of `step`
    command = dict(commands(profile))[name]
    processes.start(
        name, command, pid_dir=profile.pids, log_dir=profile.logs, environment=_worker_env(profile), cwd=ROOT
    )

    final = _final_run(instance, run_id)
    assert final.status.value == "SUCCESS", f"run {final.run_id} ended {final.status} ({step} killed on {worker})"
    assert _snapshot(_environment(profile)["CANALIS_DATABASE_URL"]) == expected


def _worker_env(profile: LocalProfile) -> dict[str, str]:
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, **_environment(profile), "PATH": path}


def test_a_daemon_restarted_during_a_run_leaves_the_store_as_an_undisturbed_run(
    profile, drilled, expected, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reset_store(profile)
    instance = _instance(profile, monkeypatch)
    run_id = submit(profile, "incremental_sync", asset_selection=drilled)
    deadline = time.monotonic() + 600
    while not _step_workers(instance, run_id) and time.monotonic() < deadline:
        time.sleep(0.3)
    daemon = next(row for row in processes.recorded(profile.pids) if row.name == "daemon")
    assert processes.stop(daemon, profile.pids)
    time.sleep(5)
    processes.start(
        "daemon",
        dict(commands(profile))["daemon"],
        pid_dir=profile.pids,
        log_dir=profile.logs,
        environment=_worker_env(profile),
        cwd=ROOT,
    )
    final = _final_run(instance, run_id)
    assert final.status.value == "SUCCESS", f"run {final.run_id} ended {final.status}"
    assert _snapshot(_environment(profile)["CANALIS_DATABASE_URL"]) == expected


def test_postgresql_gone_for_30_seconds_during_a_run_leaves_the_store_as_an_undisturbed_run(
    profile, drilled, expected, proxy: PausableProxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    _reset_store(profile)
    instance = _instance(profile, monkeypatch)
    run_id = submit(profile, "incremental_sync", asset_selection=drilled)
    deadline = time.monotonic() + 600
    while not _step_workers(instance, run_id) and time.monotonic() < deadline:
        time.sleep(0.3)
    proxy.pause()  # every connection of every process dropped, none accepted
    time.sleep(30)
    proxy.resume()
    final = _final_run(instance, run_id, timeout=1200)
    assert final.status.value == "SUCCESS", f"run {final.run_id} ended {final.status}"
    assert _snapshot(_environment(profile)["CANALIS_DATABASE_URL"]) == expected
