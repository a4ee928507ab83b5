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
