"""Dagster's run history holds no personal value and no credential of the people and systems Canalis syncs."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from canalis.cli.main import main
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world import store_path
from canalis.sandbox.world.truth import iter_identity_records

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _needles(world: Path) -> dict[str, set[str]]:
    """The sandbox people's emails, phones, full names and streets, and every emulator credential."""
    found: dict[str, set[str]] = {"email": set(), "phone": set(), "name": set(), "street": set(), "secret": set()}
    with ObjectStore(store_path(world)) as store:
        for record in iter_identity_records(store):
            if record.get("email"):
                found["email"].add(record["email"].strip().lower())
            if record.get("phone") and len(re.sub(r"\D", "", record["phone"])) >= 9:
                found["phone"].add(record["phone"].strip())
            if record.get("given_name") and record.get("family_name"):
                found["name"].add(f"{record['given_name']} {record['family_name']}".strip())
            if record.get("street") and len(record["street"]) > 10:
                found["street"].add(record["street"].strip())
    return found


def _forms(value: str) -> set[str]:
    """A value as it may be written: itself, JSON-escaped, lower-cased."""
    return {value, json.dumps(value)[1:-1], value.lower()}


def test_no_personal_value_or_credential_in_dagster_storage(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(isolated_home))
    monkeypatch.setenv("CANALIS_SANDBOX_CUSTOMERS", "60")
    (isolated_home / "canalis.yaml").write_text((ROOT / "dagster_home" / "canalis.yaml").read_text(), encoding="utf-8")
    (isolated_home / "dagster.yaml").write_text((ROOT / "dagster_home" / "dagster.yaml").read_text(), encoding="utf-8")
    assert main(["run", "full_sync"]) == 0, capsys.readouterr().out
    assert main(["run", "publish"]) == 0, capsys.readouterr().out
    needles = _needles(isolated_home / "sandbox")
    with ObjectStore(store_path(isolated_home / "sandbox")) as store:
        credentials = store.kv_get("sandbox:credentials") or {}
    from canalis.sandbox.server import SandboxServer

    with SandboxServer(isolated_home / "sandbox") as server:
        credentials = server.credentials()
    needles["secret"] = {
        str(value) for values in credentials.values() for key, value in values.items() if key not in ("username",)
        if isinstance(value, str) and len(value) >= 8
    }  # fmt: skip
    assert all(needles.values()), {kind: len(values) for kind, values in needles.items()}

    history = [
        path
        for path in isolated_home.rglob("*")
        if path.is_file()
        and not path.name.startswith("canalis.db")  # the store: where people's data belongs
        and "sandbox" not in path.relative_to(isolated_home).parts  # the vendors' side
        and path.name not in ("canalis.yaml", "dagster.yaml")
    ]
    assert any(path.suffix == ".db" for path in history)  # the run history was written and is scanned
    leaks = []
    for path in history:
        text = path.read_bytes().decode("utf-8", errors="ignore")
        lowered = text.lower()
        for kind, values in needles.items():
            for value in values:
                if any(form in text or form in lowered for form in _forms(value)):
                    leaks.append(f"{path.relative_to(isolated_home)}: {kind} {value!r}")
    assert not leaks, "\n".join(leaks[:30])
