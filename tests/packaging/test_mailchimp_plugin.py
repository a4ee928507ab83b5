"""The example plugin, examples/canalis-mailchimp, as an integrator gets it: built and installed with pip beside
Canalis, it passes its conformance suite, is listed by `canalis connectors list`, and syncs in the demo variant
(`canalis check`, then `canalis run full_sync`). Its own tests also run with Canalis's (pyproject's testpaths)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = ROOT / "examples" / "canalis-mailchimp"
DEMO = PLUGIN / "demo" / "canalis.yaml"
SYNC = """
import json
from dagster import DagsterInstance
from canalis.assets.build import build_definitions
from canalis.cli.sandbox import sandbox_for_run
from canalis.cli.summary import summarize_run
from canalis.config.connections import load_config
from canalis.store import Store

with sandbox_for_run(), DagsterInstance.ephemeral() as instance:
    job = build_definitions(load_config()).resolve_job_def("full_sync")
    result = job.execute_in_process(instance=instance, raise_on_error=False)
    with Store() as store:
        summary = summarize_run(result, store)
print(json.dumps({"success": result.success, **summary.as_dict()}, default=str))
"""


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _installed(folder: Path, wheels: Path) -> Path:
    """A throw-away environment with the plugin's wheel installed (pip, no dependencies); Canalis and the rest come
    from the running environment's site directory."""
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, PLUGIN)
    _run(sys.executable, "-m", "venv", "--without-pip", folder)
    python = folder / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", *wheels.glob("*.whl"))
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    running = sysconfig.get_paths()["purelib"]
    (Path(site) / "running_environment.pth").write_text(f"import site; site.addsitedir({running!r})\n")
    return python


@pytest.mark.slow
def test_the_mailchimp_plugin_installs_passes_its_tests_and_syncs_in_the_demo_variant(
    tmp_path: Path, isolated_home: Path
) -> None:
    python = _installed(tmp_path / "venv", tmp_path / "wheels")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "CANALIS_"))}
    env |= {"CANALIS_HOME": str(isolated_home), "DAGSTER_HOME": str(isolated_home)}

    # the installed package passes its conformance suite (its sandbox edge cases run with Canalis's own tests)
    conformance = env | {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    tests = _run(
        python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_connector.py", cwd=PLUGIN, env=conformance
    )
    assert " passed" in tests and "failed" not in tests, tests

    listed = {
        row["name"]: row
        for row in json.loads(_run(python, "-m", "canalis.cli.main", "connectors", "list", "--json", env=env))
    }
    assert listed["mailchimp"]["origin"] == "canalis-mailchimp" and listed["mailchimp"]["kind"] == "marketing"
    assert listed["mailchimp"]["write_streams"] == ["consents", "tags"]

    demo = env | {"CANALIS_CONFIG": str(DEMO), "CANALIS_SANDBOX_CUSTOMERS": "40"}
    checked = _run(python, "-m", "canalis.cli.main", "check", env=demo)
    line = next(line for line in checked.splitlines() if "marketing_mailchimp" in line)
    assert "mailchimp" in line and "mapping.yaml" in line and "members, campaigns" in line  # the packaged mapping

    # the full sync of the demo variant through Dagster, as `canalis run full_sync` runs it, on an in-memory instance
    output = _run(python, "-c", SYNC, env=demo)
    summary = json.loads(output.splitlines()[-1])
    assert summary["success"], summary["failed_steps"]
    assert summary["records_read"]["marketing_mailchimp"] > 0 and summary["records_read"]["support_freshdesk"] > 0
    assert summary["writes"]["failed"] == 0
