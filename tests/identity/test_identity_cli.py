"""The offline resolve function on a small JSONL file with a malformed line."""

from __future__ import annotations

import json
from pathlib import Path

from canalis.identity.cli import run_resolve

LINES = [
    {"source": "crm", "source_id": "1", "given_name": "Jean", "family_name": "Dupont",
     "email": "Jean.Dupont@Gmail.com", "phone": "06 12 34 56 78", "birth_date": "1980-02-03"},
    {"source": "shop", "source_id": "A9", "given_name": "jean", "family_name": "DUPONT",
     "email": "jeandupont+shop@gmail.com", "favourite_colour": "blue"},
    "not json at all",
    {"source": "pos", "given_name": "no id"},
    {"source": "pos", "source_id": "77", "given_name": "Marie", "family_name": "Durand", "phone": "+33 6 98 76 54 32"},
    {"source": "pos", "source_id": "78", "given_name": "Jean", "family_name": "Dupont", "phone": "0612345678",
     "postcode": "75011", "country": "France"},
]  # fmt: skip


def write_input(path: Path) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for line in LINES:
            handle.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
        handle.write("\n[1, 2]\n")
    return path


def test_run_resolve_writes_one_line_per_record_and_reports_bad_lines(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl")
    summary = run_resolve(source, tmp_path / "out" / "customers.jsonl")
    assert summary["records"] == 4
    assert summary["malformed_lines"] == 3
    assert [e["line"] for e in summary["errors"]] == [3, 4, 8]
    assert summary["customers"] == 2
    lines = [json.loads(line) for line in (tmp_path / "out" / "customers.jsonl").read_text().splitlines()]
    assert [(x["source"], x["source_id"]) for x in lines] == [
        ("crm", "1"),
        ("shop", "A9"),
        ("pos", "77"),
        ("pos", "78"),
    ]
    ids = {x["source_id"]: x["customer_id"] for x in lines}
    assert ids["1"] == ids["A9"] == ids["78"] != ids["77"]
    assert set(lines[0]) == {"source", "source_id", "customer_id"}


def test_run_resolve_with_explain_gives_evidence(tmp_path: Path) -> None:
    source = write_input(tmp_path / "in.jsonl")
    run_resolve(source, tmp_path / "out.jsonl", explain=True)
    lines = {x["source_id"]: x for x in map(json.loads, (tmp_path / "out.jsonl").read_text().splitlines())}
    shop = lines["A9"]
    assert shop["match_rule"] == "email" and shop["confidence"] == 1.0
    link = next(link for link in shop["links"] if link["matched_with"] == "crm:1")
    assert link["rule"] == "email" and link["value"] == "jeandupont@gmail.com"
    pos = lines["78"]
    assert pos["match_rule"] == "phone"
    assert lines["77"]["match_rule"] == "singleton" and lines["77"]["links"] == []
