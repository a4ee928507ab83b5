"""The production profile's files: the instance config loads with its pools and queue, the workers' config is the
executor's, and pid files stop exactly the processes they recorded."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import yaml

from canalis.deploy import processes
from canalis.deploy.executor import celery_config
from canalis.deploy.local import LocalProfile, prepare_home

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_the_instance_config_is_valid_and_names_no_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config

    text = (DEPLOY / "dagster.yaml").read_text(encoding="utf-8")
    assert "password" not in text.lower().replace("<password>", "")
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://u@127.0.0.1:1/d")
    monkeypatch.setenv("DAGSTER_COMPUTE_LOG_DIR", str(tmp_path))
    config, _ = dagster_instance_config(str(DEPLOY), "dagster.yaml")
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["pools"]["default_limit"] == 1
    assert config["run_monitoring"]["enabled"] and config["run_retries"]["enabled"]
    assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0  # a dead run's slots come back
    assert config["storage"]["postgres"]["postgres_url"] == {"env": "DAGSTER_PG_URL"}


def test_the_workers_config_is_the_executors() -> None:
    shipped = yaml.safe_load((DEPLOY / "celery.yaml").read_text(encoding="utf-8"))
    assert shipped["execution"]["config"] == celery_config("canalis")


def test_the_local_home_points_the_workspace_at_the_code_server(tmp_path: Path) -> None:
    profile = LocalProfile(folder=tmp_path, code_server_port=4999, queue="q1")
    prepare_home(profile)
    workspace = yaml.safe_load(profile.workspace.read_text(encoding="utf-8"))
    assert workspace["load_from"][0]["grpc_server"]["port"] == 4999
    worker = yaml.safe_load((profile.home / "celery.yaml").read_text(encoding="utf-8"))
    assert worker["execution"]["config"]["config_source"]["task_default_queue"] == "q1"


def test_a_pid_file_stops_its_process_and_nothing_else(tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    pids, logs = tmp_path / "pids", tmp_path / "logs"
    first = processes.start("first", sleeper, pid_dir=pids, log_dir=logs, environment={}, cwd=tmp_path)
    second = processes.start("second", sleeper, pid_dir=pids, log_dir=logs, environment={}, cwd=tmp_path)
    assert {row.name for row in processes.recorded(pids)} == {"first", "second"}
    assert processes.stop(first, pids, timeout=10)
    assert not processes.is_running(first) and processes.is_running(second)
    assert [row.name for row in processes.recorded(pids)] == ["second"]
    processes.stop(second, pids, timeout=10)
    assert processes.recorded(pids) == []


def test_a_reused_pid_is_not_taken_for_the_recorded_process(tmp_path: Path) -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    started = processes.start("s", sleeper, pid_dir=tmp_path, log_dir=tmp_path, environment={}, cwd=tmp_path)
    stale = started.model_copy(update={"start_time": started.start_time - 1})
    assert processes.is_running(started) and not processes.is_running(stale)
    assert not processes.stop(stale, tmp_path, timeout=1)  # not signalled: a different process for all we know
    assert processes.is_running(started)
    processes.stop(started, tmp_path, timeout=10)
    time.sleep(0.1)
    assert not processes.is_running(started)


def test_a_profile_process_stops_on_sigterm_even_when_its_parent_ignores_it(tmp_path: Path) -> None:
    import signal

    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        started = processes.start("s", sleeper, pid_dir=tmp_path, log_dir=tmp_path, environment={}, cwd=tmp_path)
    finally:
        signal.signal(signal.SIGTERM, previous)
    status = Path(f"/proc/{started.pid}/status").read_text()
    ignored = int(next(line for line in status.splitlines() if line.startswith("SigIgn:")).split()[1], 16)
    assert not ignored & (1 << (signal.SIGTERM - 1))  # the child takes SIGTERM, whatever its parent ignored
    processes.stop(started, tmp_path, timeout=10)
    assert not processes.is_running(started)
