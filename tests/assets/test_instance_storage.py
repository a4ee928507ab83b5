"""The shipped Dagster instance: its SQLite event log keeps connections open, and other processes still see runs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from dagster import DagsterInstance, job, op

from canalis.instance_storage import PooledSqliteEventLogStorage

ROOT = Path(__file__).resolve().parents[2]
STORAGE = "storage: {custom: {module: canalis.instance_storage, class: CanalisSqliteStorage, config: {}}}\n"


@op
def _one() -> int:
    return 1


@job
def _tiny():
    _one()


def _instance(home: Path) -> DagsterInstance:
    return DagsterInstance.from_config(str(home))


def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "instance"
    home.mkdir()
    shipped = (ROOT / "dagster_home" / "dagster.yaml").read_text(encoding="utf-8")
    (home / "dagster.yaml").write_text(shipped + STORAGE, encoding="utf-8")  # the opt-in of the shipped file
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


def test_a_run_is_read_by_another_instance_while_the_writer_keeps_its_connections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = _home(tmp_path, monkeypatch)
    with _instance(home) as writer, _instance(home) as reader:
        assert isinstance(writer.event_log_storage, PooledSqliteEventLogStorage)
        result = _tiny.execute_in_process(instance=writer)
        kinds = [e.dagster_event.event_type_value for e in reader.all_logs(result.run_id) if e.dagster_event]
        assert "STEP_SUCCESS" in kinds and kinds[-1] == "PIPELINE_SUCCESS"
        assert reader.get_run_by_id(result.run_id).is_success
    assert (home / "history" / "runs" / f"{result.run_id}.db").is_file()  # where Dagster's default keeps it


def test_a_watch_sees_events_written_by_another_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = _home(tmp_path, monkeypatch)
    with _instance(home) as writer, _instance(home) as watcher:
        run = writer.create_run_for_job(_tiny)
        writer.report_engine_event("first", run)  # creates the run's database
        seen: list[str] = []
        arrived = threading.Event()

        def callback(entry, _cursor) -> None:
            seen.append(entry.message)
            if entry.message == "second":
                arrived.set()

        watcher.watch_event_logs(run.run_id, None, callback)
        try:
            writer.report_engine_event("second", run)
            assert arrived.wait(20), seen
        finally:
            watcher.end_watch_event_logs(run.run_id, callback)
