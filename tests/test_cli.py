"""The `canalis` command: listing, store upkeep, clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from canalis.cli.main import main


def test_connectors_list_shows_builtin_file_drop(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connectors", "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["file_drop"]["kind"] == "file"
    assert rows["file_drop"]["writes"] is False
    assert main(["connectors", "list"]) == 0
    assert "file_drop" in capsys.readouterr().out


def test_settings_tables_and_env_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["connectors", "settings"]) == 0
    assert "| `path` | `CANALIS_FILE_DROP_PATH` | *required* |" in capsys.readouterr().out
    assert main(["connectors", "settings", "--env-example"]) == 0
    assert "CANALIS_FILE_DROP_PATH=" in capsys.readouterr().out


def test_db_upgrade_and_current(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "current"]) == 0
    assert "revision (none)" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert (isolated_home / "canalis.db").exists()
    assert main(["db", "current"]) == 0
    out = capsys.readouterr().out
    assert "(none)" not in out


def test_connectors_check_reports_bad_settings(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (isolated_home / "canalis.yaml").write_text(
        "connections:\n  drop:\n    connector: file_drop\n    channel: web\n    settings: {path: /nonexistent/x}\n",
        encoding="utf-8",
    )
    assert main(["connectors", "check"]) == 1
    assert "setting 'path'" in capsys.readouterr().out


def test_bad_fault_spec_fails_fast(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "serve", "--faults", "hubspot:teapot=0.5"]) == 2
    assert "unknown fault 'teapot'" in capsys.readouterr().err


def test_identity_resolve_missing_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["identity", "resolve", "--input", str(tmp_path / "nope.jsonl"), "--output", str(tmp_path / "o")])
    assert code == 2
    assert "not found" in capsys.readouterr().err


def test_quarantine_listing_on_an_empty_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["quarantine", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_readme_settings_tables_match_the_declarations() -> None:
    from canalis.connectors.registry import discover
    from canalis.sdk.docs import with_settings_tables

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert with_settings_tables(readme, discover(include_plugins=False)) == readme, "run `make docs`"


def test_identity_unmerge_from_the_command_line_holds_on_later_runs(
    isolated_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlalchemy as sa
    import yaml

    from canalis.config.connections import load_config
    from canalis.store import Store, tables
    from canalis.sync import sync_all

    demo = yaml.safe_load((Path(__file__).resolve().parents[1] / "dagster_home" / "canalis.yaml").read_text())
    connections = {name: c for name, c in demo["connections"].items() if c["connector"] == "file_drop"}
    (isolated_home / "canalis.yaml").write_text(yaml.safe_dump({"connections": connections}), encoding="utf-8")
    store = Store()
    store.migrate()
    sync_all(store, load_config(), full=True)

    def owners() -> dict[str, str]:
        s = tables.source_identities
        with store.engine.connect() as conn:
            return dict(conn.execute(sa.select(s.c.record_key, s.c.customer_id)).all())

    pos, web = "store_pos_export:customers:C301", "web_shop_export:customers:W1009"
    assert owners()[pos] == owners()[web]
    code = main(["identity", "unmerge", owners()[pos], pos, "--who", "steward", "--why", "a namesake"])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["customers_split"] == 1
    assert owners()[pos] != owners()[web]
    sync_all(store, load_config(), full=True)
    assert owners()[pos] != owners()[web]


def test_a_cli_run_is_a_run_of_the_code_location(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dagster import DagsterInstance, RunsFilter

    monkeypatch.setenv("DAGSTER_HOME", str(isolated_home))
    (isolated_home / "canalis.yaml").write_text(
        "connections:\n  web:\n    connector: file_drop\n    channel: web\n    settings: {path: 'sample:web_shop'}\n",
        encoding="utf-8",
    )
    assert main(["run", "incremental_sync"]) == 0, capsys.readouterr()
    with DagsterInstance.get() as instance:
        runs = instance.get_runs(
            RunsFilter(job_name="incremental_sync", tags={".dagster/repository": "__repository__@canalis"})
        )
        assert len(runs) == 1
        origin = runs[0].remote_job_origin
    assert origin.location_name == "canalis" and origin.repository_origin.repository_name == "__repository__"
    assert (
        origin.repository_origin.code_location_origin.loadable_target_origin.module_name == "canalis.assets.definitions"
    )


def test_sandbox_serve_on_a_non_loopback_host_needs_expose(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "serve", "--host", "0.0.0.0"]) == 2  # noqa: S104 - refused before binding
    err = capsys.readouterr().err
    assert "not a loopback address" in err and "--expose" in err and "ground truth" in err


def test_exposing_the_sandbox_prints_a_warning() -> None:
    import io

    from canalis.sandbox.serve import ExposureError, check_exposure

    out = io.StringIO()
    check_exposure("127.0.0.1", expose=False, out=out)
    check_exposure("::1", expose=False, out=out)
    assert out.getvalue() == ""
    with pytest.raises(ExposureError):
        check_exposure("sandbox.example.org", expose=False, out=out)
    check_exposure("0.0.0.0", expose=True, out=out)  # noqa: S104 - nothing is bound
    assert "WARNING" in out.getvalue() and "credentials" in out.getvalue()


def _file_drop_home(home: Path, folder: Path) -> None:
    import yaml

    connections = {
        "connections": {"drop": {"connector": "file_drop", "channel": "web", "settings": {"path": str(folder)}}}
    }
    (home / "canalis.yaml").write_text(yaml.safe_dump(connections), encoding="utf-8")


def test_quarantine_replay_heals_a_fixed_file_row_and_dismiss_closes_the_rest(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from canalis.connectors.file_drop import FileDropConnector
    from canalis.ingest.stream import ingest_stream
    from canalis.store import Store

    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "customers.csv").write_text('id,name\n1,Ann\n2,"Bob\n3,Cy\n', encoding="utf-8")
    (folder / "orders.csv").write_text("id,total\n9,1,extra\n", encoding="utf-8")
    _file_drop_home(isolated_home, folder)
    with Store() as store:
        store.migrate()
        connector = FileDropConnector.from_config({"path": str(folder)}, connection="drop")
        ingest_stream(store, connector, "customers")
        ingest_stream(store, connector, "orders")
    capsys.readouterr()

    assert main(["quarantine"]) == 0
    listed = capsys.readouterr().out
    assert "drop:customers:read:customers.csv:3 [open]" in listed and "2 quarantined record(s) open" in listed

    (folder / "customers.csv").write_text("id,name\n1,Ann\n2,Bob\n3,Cy\n", encoding="utf-8")
    assert main(["quarantine", "replay", "--source", "drop"]) == 0
    out = capsys.readouterr().out
    assert "healed drop:customers:read:customers.csv:3" in out
    assert "drop.orders: retried 1 (window), healed 0" in out
    assert "1 healed of 2 retried; 1 still open" in out

    assert main(["quarantine", "dismiss", "drop:orders:read:orders.csv:2", "drop:nope"]) == 1
    captured = capsys.readouterr()
    assert "dismissed drop:orders:read:orders.csv:2" in captured.out and "not open: drop:nope" in captured.err
    assert main(["quarantine", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["quarantine", "--all"]) == 0
    everything = capsys.readouterr().out
    assert "[dismissed]" in everything and "[resolved]" in everything


def test_quarantine_commands_refuse_unknown_sources_and_empty_dismissals(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _file_drop_home(isolated_home, tmp_path)
    assert main(["quarantine", "replay", "--source", "nope"]) == 2
    assert "no enabled connection 'nope'" in capsys.readouterr().err
    assert main(["quarantine", "dismiss"]) == 2
    assert "name the entries to dismiss" in capsys.readouterr().err


def test_a_stream_failing_to_replay_is_reported_and_the_command_fails(
    isolated_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from canalis.connectors.file_drop import FileDropConnector
    from canalis.ingest.stream import ingest_stream
    from canalis.store import Store

    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "customers.csv").write_text("id,name\n1,Ann,extra\n", encoding="utf-8")
    _file_drop_home(isolated_home, folder)
    with Store() as store:
        store.migrate()
        ingest_stream(store, FileDropConnector.from_config({"path": str(folder)}, connection="drop"), "customers")
    shutil.rmtree(folder)
    capsys.readouterr()

    assert main(["quarantine", "replay"]) == 1
    captured = capsys.readouterr()
    assert "drop.customers: replay failed:" in captured.err and "does not exist" in captured.err
    assert "0 healed of 0 retried" in captured.out
