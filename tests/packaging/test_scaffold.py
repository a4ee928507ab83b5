"""`canalis connectors new`: each kind of plugin package is written, builds as a wheel, installs, is listed by
`canalis connectors list`, and its generated tests (the conformance suite) pass with no edit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from canalis.scaffold import KINDS, scaffold
from canalis.sdk import ConfigError


def _run(*command: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(map(str, command))} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _throwaway_python(folder: Path, wheels: list[Path]) -> Path:
    """A new environment with the wheels installed; Canalis and its dependencies come from the running environment
    (its site directory, .pth files included, so an editable Canalis is seen there too)."""
    _run(sys.executable, "-m", "venv", "--without-pip", folder)
    python = folder / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", *wheels)
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    running = sysconfig.get_paths()["purelib"]
    (Path(site) / "running_environment.pth").write_text(f"import site; site.addsitedir({running!r})\n")
    return python


def _environment(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "CANALIS_DISABLE"))}
    return {**env, "CANALIS_HOME": str(home), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


def test_each_kind_is_written_installed_listed_and_passes_its_generated_tests(
    tmp_path: Path, isolated_home: Path
) -> None:
    # one test, so that the packages are built and installed once (the parts would not share them across workers)
    plugins = {kind: scaffold(f"acme_{kind}", kind, tmp_path / "plugins") for kind in KINDS}
    wheels = tmp_path / "wheels"
    for root in plugins.values():
        _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, root)
    python = _throwaway_python(tmp_path / "venv", sorted(wheels.glob("*.whl")))
    home = isolated_home
    env = _environment(home)

    for kind, root in plugins.items():
        assert (root / f"canalis_acme_{kind}" / "mapping.yaml").is_file(), kind
        output = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=root, env=env)
        assert " passed" in output and "failed" not in output, f"{kind}: {output}"

    listed = json.loads(_run(python, "-m", "canalis.cli.main", "connectors", "list", "--json", env=env))
    rows = {row["name"]: row for row in listed}
    for kind in KINDS:
        assert rows[f"acme_{kind}"]["origin"] == f"canalis-acme-{kind}"
    assert rows["acme_rest"]["write_streams"] == ["consents"] and rows["acme_yaml"]["write_streams"] == ["consents"]

    (home / "canalis.yaml").write_text(
        "connections:\n"
        "  partner_crm: {connector: acme_rest, channel: crm}\n"
        "  partner_api: {connector: acme_yaml, channel: crm}\n"
        "  partner_shop: {connector: acme_graphql, channel: web}\n",
        encoding="utf-8",
    )
    tokens = ("CANALIS_ACME_REST_API_TOKEN", "CANALIS_ACME_YAML_API_TOKEN", "CANALIS_ACME_GRAPHQL_ACCESS_TOKEN")
    checked = _run(python, "-m", "canalis.cli.main", "check", env={**env, **dict.fromkeys(tokens, "t")})
    assert checked.count("mapping.yaml") == 3, checked  # each connection uses its plugin's packaged mapping


def test_a_wrong_name_a_taken_name_or_an_existing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="lower-case letters"):
        scaffold("Acme-CRM", "rest", tmp_path)
    with pytest.raises(ConfigError, match="taken by a registered connector"):
        scaffold("hubspot", "rest", tmp_path, taken={"hubspot"})
    scaffold("acme", "yaml", tmp_path)
    with pytest.raises(ConfigError, match="exists already"):
        scaffold("acme", "rest", tmp_path)
    with pytest.raises(ConfigError, match="unknown kind 'soap'"):
        scaffold("other", "soap", tmp_path)  # type: ignore[arg-type]
