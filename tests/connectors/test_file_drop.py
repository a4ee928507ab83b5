"""The file-drop connector reads CSV and JSONL, rejects broken rows with file and line, and skips unchanged files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from canalis.connectors.file_drop import FileDropConnector
from canalis.sdk.errors import ConfigError
from canalis.sdk.state import StreamState

SAMPLE = Path(__file__).resolve().parents[2] / "connectors" / "file_drop" / "sample"


def _read_all(connector: FileDropConnector, stream: str, state: StreamState | None = None):
    records, rejected, last = [], [], state
    for page in connector.read(stream, state):
        records.extend(page.records)
        rejected.extend(page.rejected)
        last = page.state
    return records, rejected, last


def _csv_rows(path: Path, delimiter: str = ",") -> int:
    with path.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.reader(handle, delimiter=delimiter)) - 1


def test_sample_web_shop_reads_every_row(tmp_path: Path) -> None:
    connector = FileDropConnector.from_config({"path": "sample:web_shop"}, connection="web_shop")
    records, rejected, _ = _read_all(connector, "customers")
    assert len(records) + len(rejected) == _csv_rows(SAMPLE / "web_shop" / "customers.csv")
    assert {record["_key"] for record in records} >= {"W1000", "W2002"}
    lines, _, _ = _read_all(connector, "order_lines")
    assert all(record["_key"] == f"{record['order_id']}:{record['line_no']}" for record in lines)


def test_broken_rows_are_rejected_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("id,name\n1,Ann\n2,Bob,extra\n,NoKey\n3\n4,Dan\n", encoding="utf-8")
    (tmp_path / "interactions.jsonl").write_text('{"id": "a"}\n{broken\n[1, 2]\n{"id": "b"}\n', encoding="utf-8")
    connector = FileDropConnector.from_config({"path": str(tmp_path)}, connection="drop")
    records, rejected, _ = _read_all(connector, "customers")
    assert [r["_key"] for r in records] == ["1", "4"]
    reasons = [r.error for r in rejected]
    assert any("line 3" in reason and "extra column" in reason for reason in reasons)
    assert any("missing key column 'id'" in reason for reason in reasons)
    assert any("line 5" in reason and "missing columns" in reason for reason in reasons)
    assert len(rejected) == 3

    records, rejected, _ = _read_all(connector, "interactions")
    assert [r["id"] for r in records] == ["a", "b"]
    assert [r.record_id for r in rejected] == ["interactions.jsonl:2", "interactions.jsonl:3"]


def test_unchanged_files_are_skipped_and_changed_ones_reread(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("id,name\n1,Ann\n", encoding="utf-8")
    connector = FileDropConnector.from_config({"path": str(tmp_path)}, connection="drop")
    records, _, state = _read_all(connector, "customers")
    assert len(records) == 1
    again, _, state = _read_all(connector, "customers", state)
    assert again == []
    path.write_text("id,name\n1,Ann\n2,Bea\n", encoding="utf-8")
    (tmp_path / "customers_2.csv").write_text("id,name\n3,Cy\n", encoding="utf-8")
    changed, _, _ = _read_all(connector, "customers", state)
    assert sorted(r["_key"] for r in changed) == ["1", "2", "3"]


def test_missing_folder_fails_check_naming_the_setting(tmp_path: Path) -> None:
    connector = FileDropConnector.from_config({"path": str(tmp_path / "nope")}, connection="drop")
    with pytest.raises(ConfigError, match="setting 'path'"):
        connector.check()


def test_bad_settings_fail_fast() -> None:
    with pytest.raises(ConfigError, match=r"settings\.delimiter: must be exactly one character"):
        FileDropConnector.from_config({"path": "x", "delimiter": ";;"}, connection="drop")
    with pytest.raises(ConfigError, match=r"settings\.path: required setting is missing"):
        FileDropConnector.from_config({}, connection="drop")
    with pytest.raises(ConfigError, match="unknown stream 'clients'"):
        FileDropConnector.from_config({"path": "x", "files": {"clients": "c*"}}, connection="drop")
