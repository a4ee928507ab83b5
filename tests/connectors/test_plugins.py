"""A connector plugin installed with pip appears in `canalis connectors list` and as assets in the Definitions."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

PLUGIN = "canalis_plugin_demo"
DIST = "canalis-plugin-demo"

PLUGIN_CODE = textwrap.dedent(
    '''
    """A tiny connector plugin used by the Canalis test suite."""
    from canalis.sdk import Connector, ConnectorSettings, Page, Stream, StreamState, setting, CheckResult


    class Settings(ConnectorSettings):
        greeting: str = setting("hello", description="text put in every record")


    class People(Stream):
        name = "people"
        primary_key = "id"


    class DemoPluginConnector(Connector):
        name = "demo_plugin"
        kind = "crm"
        title = "Demo plugin"
        settings_model = Settings
        streams = (People,)

        def check(self):
            return CheckResult(ok=True, message="fine")

        def read_pages(self, stream, state):
            records = [{"id": str(n), "email": f"p{n}@example.org", "note": self.settings.greeting} for n in range(3)]
            yield Page(records=records, state=state.advanced(None))
    '''
)


PLUGIN_MAPPING = textwrap.dedent(
    """
    mapping: demo_plugin
    connector: demo_plugin
    streams:
      people:
        targets:
          - entity: customer_record
            fields: {source_id: id, email: {from: email, transforms: [email]}}
    """
)


def _build_wheel(folder: Path) -> Path:
    wheel = folder / f"{PLUGIN}-0.1-py3-none-any.whl"
    dist_info = f"{PLUGIN}-0.1.dist-info"
    files = {
        f"{PLUGIN}/__init__.py": PLUGIN_CODE,
        f"{PLUGIN}/mapping.yaml": PLUGIN_MAPPING,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {DIST}\nVersion: 0.1\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: canalis-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        f"{dist_info}/entry_points.txt": f"[canalis.connectors]\ndemo_plugin = {PLUGIN}:DemoPluginConnector\n",
    }
    record_lines = []
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            data = text.encode()
            archive.writestr(name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record_lines.append(f"{name},sha256={digest},{len(data)}")
        record_lines.append(f"{dist_info}/RECORD,,")
        archive.writestr(f"{dist_info}/RECORD", "\n".join(record_lines) + "\n")
    return wheel


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args], check=True)


@pytest.fixture
def installed_plugin(tmp_path: Path) -> str:
    """A Python with the plugin's wheel installed by pip in an environment of its own, Canalis and the rest coming
    from the running environment (which the test leaves untouched)."""
    wheel = _build_wheel(tmp_path)
    folder = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    _pip("--python", str(python), "install", "--no-deps", "--no-index", str(wheel))
    found = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    running = sysconfig.get_paths()["purelib"]
    (Path(found.stdout.strip()) / "running_environment.pth").write_text(f"import site; site.addsitedir({running!r})\n")
    return str(python)


def _plugin_env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "CANALIS_DISABLE_PLUGINS"}
    env["CANALIS_HOME"] = str(tmp_path)
    return env


def test_installed_plugin_is_listed_and_becomes_assets(installed_plugin: str, tmp_path: Path) -> None:
    env = _plugin_env(tmp_path)
    listed = subprocess.run(
        [installed_plugin, "-m", "canalis.cli.main", "connectors", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["demo_plugin"]["origin"] == DIST
    assert rows["demo_plugin"]["streams"] == ["people"]
    assert rows["demo_plugin"]["kind"] == "crm"

    (tmp_path / "plugin_mapping.yaml").write_text(
        textwrap.dedent(
            """
            mapping: plugin_mapping
            connector: demo_plugin
            streams:
              people:
                targets:
                  - entity: customer_record
                    fields: {source_id: id, email: {from: email, transforms: [email]}}
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "canalis.yaml").write_text(
        "connections:\n"
        "  partner_crm:\n    connector: demo_plugin\n    channel: crm\n    mapping: plugin_mapping.yaml\n"
        "  partner_shop:\n    connector: demo_plugin\n    channel: web\n",  # the plugin's own mapping.yaml
        encoding="utf-8",
    )
    script = (
        "from canalis.assets.build import build_definitions\n"
        "defs = build_definitions()\n"
        "print('\\n'.join(sorted(k.to_user_string() for k in defs.resolve_all_asset_keys())))\n"
        "for spec in defs.resolve_all_asset_specs():\n"
        "    if spec.key.path[-1] == 'connection':\n"
        "        print('broken:', spec.key.to_user_string(), spec.description)\n"
    )
    keys = subprocess.run(
        [installed_plugin, "-c", script], capture_output=True, text=True, env=env, cwd=tmp_path, check=True
    )
    assert "broken:" not in keys.stdout, keys.stdout
    assert "raw/partner_crm/people" in keys.stdout.split()
    assert "raw/partner_shop/people" in keys.stdout.split()
    assert "canonical/customer_records" in keys.stdout.split()
    checked = subprocess.run(
        [installed_plugin, "-m", "canalis.cli.main", "check"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout
    shop_line = next(line for line in checked.stdout.splitlines() if "partner_shop" in line)
    assert "mapping.yaml" in shop_line


def test_plugins_are_not_loaded_when_switched_off(installed_plugin: str, tmp_path: Path) -> None:
    env = {**_plugin_env(tmp_path), "CANALIS_DISABLE_PLUGINS": "1"}
    listed = subprocess.run(
        [installed_plugin, "-m", "canalis.cli.main", "connectors", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert "demo_plugin" not in {row["name"] for row in json.loads(listed.stdout)}
