"""File drops stay inside their folder, decode each line in the connection's encoding, and lose only the rows
that are broken; a file read again settles the quarantine entries of its earlier rows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from canalis.connectors.file_drop import FileDropConnector
from canalis.ingest.stream import ingest_stream
from canalis.sdk.errors import ConfigError
from canalis.store import Store


def _read(connector: FileDropConnector, stream: str) -> tuple[list[dict], list]:
    records, rejected = [], []
    for page in connector.read(stream):
        records.extend(page.records)
        rejected.extend(page.rejected)
    return records, rejected


@pytest.mark.parametrize("path", ["sample:../../..", "sample:web_shop/../../reader.py", "sample:/etc"])
def test_a_sample_path_leaving_the_samples_fails_naming_the_setting(path: str) -> None:
    with pytest.raises(ConfigError, match=r"settings\.path: .*sample folder"):
        FileDropConnector.from_config({"path": path}, connection="drop")


@pytest.mark.parametrize("pattern", ["../secrets*", "/etc/pass*", "sub/../../x*"])
def test_a_file_pattern_leaving_the_folder_fails_naming_the_setting(tmp_path: Path, pattern: str) -> None:
    with pytest.raises(ConfigError, match=r"settings\.files: .*inside the folder"):
        FileDropConnector.from_config({"path": str(tmp_path), "files": {"customers": pattern}}, connection="drop")


def test_a_symlink_leading_out_of_the_folder_is_refused_naming_the_setting(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "customers.csv").write_text("id,name\n1,Secret\n", encoding="utf-8")
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "customers_a.csv").write_text("id,name\n2,Ann\n", encoding="utf-8")
    os.symlink(outside / "customers.csv", folder / "customers_b.csv")
    connector = FileDropConnector.from_config({"path": str(folder)}, connection="drop")

    with pytest.raises(ConfigError, match=r"setting 'path'.*customers_b\.csv.*leads outside"):
        _read(connector, "customers")


def test_a_symlink_inside_the_folder_is_read(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "customers_x.csv").write_text("id,name\n1,Ann\n", encoding="utf-8")
    os.symlink(tmp_path / "exports" / "customers_x.csv", tmp_path / "customers.csv")
    connector = FileDropConnector.from_config({"path": str(tmp_path)}, connection="drop")
    assert [r["_key"] for r in _read(connector, "customers")[0]] == ["1"]


def test_encodings_are_typed_and_checked_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match=r"settings\.encoding: unknown encoding 'klingon'"):
        FileDropConnector.from_config({"path": "x", "encoding": "klingon"}, connection="drop")
    with pytest.raises(ConfigError, match=r"settings\.encoding: .*ASCII-compatible"):
        FileDropConnector.from_config({"path": "x", "encoding": "utf-16"}, connection="drop")


def test_a_latin1_file_is_read_in_its_declared_encoding(tmp_path: Path) -> None:
    (tmp_path / "interactions.jsonl").write_bytes('{"id": "a", "subject": "Réclamation"}\n'.encode("latin-1"))
    (tmp_path / "customers.csv").write_bytes("id,name\n1,Hélène\n".encode("latin-1"))
    connector = FileDropConnector.from_config({"path": str(tmp_path), "encoding": "latin-1"}, connection="drop")
    assert _read(connector, "interactions")[0][0]["subject"] == "Réclamation"
    assert _read(connector, "customers")[0][0]["name"] == "Hélène"


def test_undecodable_lines_are_quarantined_alone_never_garbled(tmp_path: Path) -> None:
    (tmp_path / "interactions.jsonl").write_bytes(
        b'{"id": "a"}\n' + '{"id": "b", "subject": "Réclamation"}\n'.encode("latin-1") + b'{"id": "c"}\n'
    )
    (tmp_path / "customers.csv").write_bytes(b"id,name\n1,Ann\n" + "2,Hélène\n".encode("latin-1") + b"3,Cy\n")
    connector = FileDropConnector.from_config({"path": str(tmp_path)}, connection="drop")

    records, rejected = _read(connector, "interactions")
    assert [r["id"] for r in records] == ["a", "c"]
    assert [r.record_id for r in rejected] == ["interactions.jsonl:2"]
    assert "not valid utf-8" in rejected[0].error and "0xe9" in rejected[0].error
    assert not any("\ufffd" in str(value) for record in records for value in record.values())

    records, rejected = _read(connector, "customers")
    assert [r["_key"] for r in records] == ["1", "3"]
    assert [r.record_id for r in rejected] == ["customers.csv:3"]


def test_a_broken_quote_costs_only_its_own_row(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(
        'id,name,note\n1,Ann,ok\n2,"Bob,unclosed\n3,Cy,fine\n4,"Di\nana",two lines\n5,Ed,last\n', encoding="utf-8"
    )
    connector = FileDropConnector.from_config({"path": str(tmp_path)}, connection="drop")
    records, rejected = _read(connector, "customers")

    assert [r["_key"] for r in records] == ["1", "3", "4", "5"]
    assert next(r for r in records if r["_key"] == "4")["name"] == "Di\nana", "a quoted line break is kept"
    assert [r.record_id for r in rejected] == ["customers.csv:3"]
    assert "quoted field is not closed" in rejected[0].error


def test_a_file_read_again_settles_the_entries_of_its_fixed_rows(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text('id,name\n1,Ann\n2,"Bob\n3,Cy\n', encoding="utf-8")
    connector = FileDropConnector.from_config({"path": str(tmp_path)}, connection="drop")
    assert ingest_stream(store, connector, "customers").quarantined == 1
    assert store.open_quarantine_count("drop") == 1

    path.write_text("id,name\n1,Ann\n2,Bob\n3,Cy\n", encoding="utf-8")
    report = ingest_stream(store, connector, "customers")
    assert report.healed == 1 and report.records_read == 3
    assert store.open_quarantine_count("drop") == 0


def test_a_file_read_again_keeps_the_entries_of_rows_still_broken(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text("id,name\n1,Ann\n2,Bob,extra\n", encoding="utf-8")
    connector = FileDropConnector.from_config({"path": str(tmp_path)}, connection="drop")
    ingest_stream(store, connector, "customers")
    path.write_text("id,name\n1,Ann\n2,Bob,extra\n3,Cy\n", encoding="utf-8")
    assert ingest_stream(store, connector, "customers").healed == 0
    assert store.open_quarantine_count("drop") == 1


def test_two_broken_quotes_cost_only_their_two_rows(tmp_path: Path) -> None:
    body = "".join(f"{n},Name{n},ok\n" for n in range(1, 30))
    broken = body.replace("5,Name5,ok", '5,"Name5,ok').replace("20,Name20,ok", '20,"Name20,ok')
    (tmp_path / "customers.csv").write_text("id,name,note\n" + broken, encoding="utf-8")
    connector = FileDropConnector.from_config({"path": str(tmp_path)}, connection="drop")
    records, rejected = _read(connector, "customers")

    assert [r["_key"] for r in records] == [str(n) for n in range(1, 30) if n not in (5, 20)]
    assert [r.record_id for r in rejected] == ["customers.csv:6", "customers.csv:21"]


def test_a_quoted_field_spanning_an_undecodable_line_is_rejected_without_losing_the_next_rows(tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_bytes(
        b'id,name,note\n1,Ann,ok\n2,"Bob\n' + "Hélène\n".encode("latin-1") + b'x",z\n3,Cy,ok\n'
    )
    connector = FileDropConnector.from_config({"path": str(tmp_path)}, connection="drop")
    records, rejected = _read(connector, "customers")

    assert [r["_key"] for r in records] == ["1", "3"]
    assert [r.record_id for r in rejected] == ["customers.csv:3", "customers.csv:4", "customers.csv:5"]


def test_a_broken_quote_in_a_semicolon_file_costs_only_its_row(tmp_path: Path) -> None:
    body = "".join(f"{n};Name{n};ok\n" for n in range(1, 9)).replace("3;Name3;ok", '3;"Name3;ok')
    (tmp_path / "customers.csv").write_text("id;name;note\n" + body.replace("6;Name6;ok", '6;"Name6;ok'))
    connector = FileDropConnector.from_config({"path": str(tmp_path), "delimiter": ";"}, connection="drop")
    records, rejected = _read(connector, "customers")
    assert [r["_key"] for r in records] == ["1", "2", "4", "5", "7", "8"]
    assert [r.record_id for r in rejected] == ["customers.csv:4", "customers.csv:7"]
