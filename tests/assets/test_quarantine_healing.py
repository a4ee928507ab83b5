"""A raw asset heals its stream's quarantine on later runs and records the counts (never payloads) as metadata;
the canonical quarantine check counts only open entries."""

from __future__ import annotations

from pathlib import Path

import yaml
from dagster import AssetKey, DagsterInstance

from canalis.assets.build import build_definitions
from canalis.cli.summary import render_summary, summarize_run
from canalis.config.connections import CanalisConfig
from canalis.store import Store

KEY = AssetKey(["raw", "drop", "customers"])


def _run(tmp_path: Path, folder: Path) -> tuple[dict, list]:
    document = {
        "connections": {
            "drop": {
                "connector": "file_drop",
                "channel": "web",
                "settings": {"path": str(folder)},
                "streams": ["customers"],
                "replay": {"records_per_run": 10, "window_pages": 5},
            }
        }
    }
    path = tmp_path / "canalis.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    defs = build_definitions(CanalisConfig.model_validate({**document, "path": path}))
    job = defs.resolve_job_def("incremental_sync")
    with DagsterInstance.ephemeral() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    summary = summarize_run(result, Store(f"sqlite:///{tmp_path / 'canalis.db'}"))
    assert "healed this run" in render_summary(summary, "incremental_sync")
    raw = next(e for e in result.get_asset_materialization_events() if e.asset_key == KEY)
    metadata = {name: value.value for name, value in raw.materialization.metadata.items()}
    metadata["summary_healed"] = summary.healed_this_run
    checks = [
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "quarantine_share" and e.asset_key == AssetKey(["canonical", "customer_records"])
    ]
    return metadata, checks


def test_a_fixed_row_heals_on_the_next_run_and_the_check_clears(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("CANALIS_DATABASE_URL", f"sqlite:///{tmp_path / 'canalis.db'}")
    folder = tmp_path / "drop"
    folder.mkdir()
    header = "id,first_name,last_name,email,updated_at\n"
    rows = "".join(f"W{n},Person,N{n},p{n}@example.org,2026-10-01T10:00:00Z\n" for n in range(3, 12))
    ann = "W1,Ann,Lee,a@example.org,2026-10-01T10:00:00Z\n"
    (folder / "customers.csv").write_text(header + ann + 'W2,"Bob,Ray,b@example.org,2026-10-01T10:00:00Z\n' + rows)

    first, checks = _run(tmp_path, folder)
    assert first["quarantined"] == 1 and first["quarantine_open"] == 1
    assert checks and not checks[0].passed, "1 of 11 records held is over the 5% limit"

    (folder / "customers.csv").write_text(header + ann + "W2,Bob,Ray,b@example.org,2026-10-01T10:00:00Z\n" + rows)
    second, checks = _run(tmp_path, folder)
    assert second["healed"] == 1 and second["quarantine_open"] == 0 and second["summary_healed"] == 1
    assert checks and checks[0].passed, {k: v.value for k, v in checks[0].metadata.items()}
    assert Store(f"sqlite:///{tmp_path / 'canalis.db'}").open_quarantine_count() == 0
    texts = " ".join(str(value) for name, value in second.items() if name.startswith(("replay", "healed")))
    assert "example.org" not in texts and "Bob" not in texts
