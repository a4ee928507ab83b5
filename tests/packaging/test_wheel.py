"""The wheel installs one import name, `canalis`, and lives beside a Dagster project that has its own `assets`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _source_files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return [name for name in listed.stdout.splitlines() if (ROOT / name).is_file()]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel, built from a copy of the source tree (so the build leaves nothing in it)."""
    source = tmp_path_factory.mktemp("source")
    for name in _source_files():
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("canalis-*.whl")
    return built


def test_the_wheel_holds_only_canalis(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names}
    assert top_level == {"canalis", next(t for t in top_level if t.endswith(".dist-info"))}
    for expected in (
        "canalis/sdk/__init__.py",
        "canalis/connectors/hubspot/mapping.yaml",
        "canalis/connectors/file_drop/mapping_pos.yaml",
        "canalis/connectors/file_drop/sample/web_shop/customers.csv",
        "canalis/store/migrations/env.py",
        "canalis/store/migrations/script.py.mako",
        "canalis/assets/definitions.py",
        "canalis/mappings/declarative/engine.py",
        "canalis/sandbox/emulators/shopify/schema.graphql",
        "canalis/connectors/freshdesk/connector.yaml",
        "canalis/testing/suite.py",
        "canalis/scaffold/templates/rest/package/connector.py.tmpl",
        "canalis/scaffold/templates/sql/plugin_tests/sample_database.py.tmpl",
    ):
        assert expected in names, f"{expected} missing from the wheel"
    assert not any("/tests/" in name or name.startswith("tests/") for name in names)
    metadata = next(name for name in names if name.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(metadata).decode()
    runtime = [line for line in text.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    for sandbox_only in ("faker", "werkzeug", "graphql-core", "pytest", "responses"):
        assert not any(sandbox_only in line.lower() for line in runtime), f"{sandbox_only} is a runtime dependency"


def _fresh_environment(folder: Path, wheel: Path) -> Path:
    """A new virtual environment with the wheel installed; its dependencies come from the running environment."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # the running environment's packages (dagster, pydantic...) without running its .pth files, so the
    # editable install of this checkout is not visible there
    (Path(site) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    return python


PROJECT_DEFINITIONS = textwrap.dedent(
    """
    import dagster as dg

    import assets
    import canalis
    from canalis.assets.definitions import defs as canalis_defs

    defs = dg.Definitions.merge(dg.Definitions(assets=[assets.orders_report]), canalis_defs)
    keys = sorted(key.to_user_string() for key in defs.resolve_all_asset_keys())
    print("assets from", assets.__file__)
    print("canalis from", canalis.__file__)
    print("keys", " ".join(keys))
    """
)


def test_installed_beside_a_dagster_project_with_its_own_assets_package(
    wheel: Path, tmp_path: Path, isolated_home: Path
) -> None:
    python = _fresh_environment(tmp_path / "venv", wheel)
    project = tmp_path / "project"
    (project / "assets").mkdir(parents=True)
    (project / "assets" / "__init__.py").write_text(
        "import dagster as dg\n\n\n@dg.asset\ndef orders_report() -> None:\n    pass\n", encoding="utf-8"
    )
    (project / "definitions.py").write_text(PROJECT_DEFINITIONS, encoding="utf-8")
    home = isolated_home
    (home / "canalis.yaml").write_text(
        "connections:\n  web_shop:\n    connector: file_drop\n    channel: web\n"
        "    settings: {path: 'sample:web_shop'}\n",
        encoding="utf-8",
    )
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "CANALIS_HOME": str(home),
        "DAGSTER_HOME": str(home),
        "CANALIS_DISABLE_PLUGINS": "1",
    }
    ran = subprocess.run(
        [str(python), "definitions.py"], cwd=project, env=env, capture_output=True, text=True, check=False
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in ran.stdout.splitlines() if " " in line)
    assert lines["assets"] == f"from {project / 'assets' / '__init__.py'}"
    assert str(tmp_path / "venv") in lines["canalis"] and str(ROOT) not in lines["canalis"]
    keys = lines["keys"].split()
    assert "orders_report" in keys and "raw/web_shop/customers" in keys and "canonical/customer_records" in keys

    # the console script works from the wheel: the store's migrations and the connectors' mappings are packaged
    canalis = tmp_path / "venv" / "bin" / "canalis"
    upgraded = subprocess.run([str(canalis), "db", "upgrade"], env=env, capture_output=True, text=True, check=False)
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    assert "schema at revision" in upgraded.stdout
    checked = subprocess.run([str(canalis), "check"], env=env, capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "web_shop" in checked.stdout and "mapping.yaml" in checked.stdout
