"""`canalis privacy export | erase` and `canalis publish approve | apply` on the demo's file drops: the person is
exported, then erased (file drops cannot erase at the source: purged from Canalis only) and not read again."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from canalis.cli.main import main
from canalis.config.connections import load_config
from canalis.privacy.subjects import SALT_FILE
from canalis.store import Store, tables
from canalis.sync import sync_all

ROOT = Path(__file__).resolve().parents[2]
RECORD = "web_shop_export:customers:W1009"


def _store(home: Path) -> Store:
    demo = yaml.safe_load((ROOT / "dagster_home" / "canalis.yaml").read_text(encoding="utf-8"))
    connections = {name: c for name, c in demo["connections"].items() if c["connector"] == "file_drop"}
    (home / "canalis.yaml").write_text(yaml.safe_dump({"connections": connections}), encoding="utf-8")
    store = Store()
    store.migrate()
    sync_all(store, load_config(), full=True)
    return store


def _email_rows(store: Store, email: str) -> int:
    cr = tables.customer_records
    with store.engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(cr).where(sa.func.lower(cr.c.email) == email)
        return conn.execute(query).scalar_one()


def test_export_then_erase_from_the_command_line(isolated_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = _store(isolated_home)
    with store.engine.connect() as conn:
        email = conn.execute(
            sa.select(tables.customer_records.c.email).where(tables.customer_records.c.record_key == RECORD)
        ).scalar_one()
    held = _email_rows(store, email)
    assert held >= 1

    output = isolated_home / "person.json"
    assert main(["privacy", "export", "--email", email, "--output", str(output)]) == 0
    exported = json.loads(output.read_text(encoding="utf-8"))
    assert RECORD in {row["record_key"] for row in exported["customer_records"]}
    assert len(exported["raw_records"]) >= held
    capsys.readouterr()

    assert main(["privacy", "erase", "--email", email, "--by", "dpo"]) == 0
    printed = capsys.readouterr().out
    assert email not in printed
    plan_id = re.search(r"^(erase-\S+) \(proposed\)", printed, re.M).group(1)
    short_hash = re.search(r"content hash (\w+)", printed).group(1)
    assert "cannot erase" in printed  # file drops: purged from Canalis only
    assert main(["publish", "apply", plan_id]) != 0  # not approved yet
    assert main(["publish", "approve", plan_id, "--hash", short_hash, "--by", "dpo"]) == 0
    assert main(["publish", "apply", plan_id, "--json"]) == 0
    capsys.readouterr()
    assert _email_rows(store, email) == 0
    salt = isolated_home / SALT_FILE
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600

    # the files still hold the person: a full sync skips them
    report = sync_all(store, load_config(), full=True)
    assert sum(r.erased_skipped for r in report.ingest) >= held
    assert _email_rows(store, email) == 0
