"""What a plugin may import is `canalis.sdk` and `canalis.testing`, by the names in their `__all__`: every such name
resolves, and the plugins Canalis ships or writes (the example plugin, the scaffold's templates) import nothing else
of Canalis."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import canalis.sdk
import canalis.testing
from canalis.scaffold import Names

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"canalis.sdk", "canalis.testing"}
PLUGIN_SOURCES = sorted(
    [*(ROOT / "examples").rglob("*.py"), *(ROOT / "canalis" / "scaffold" / "templates").rglob("*.py.tmpl")]
)


@pytest.mark.parametrize("module", [canalis.sdk, canalis.testing], ids=lambda module: module.__name__)
def test_every_public_name_resolves(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert names == sorted(set(names), key=names.index)  # no name listed twice
    for name in names:
        assert getattr(module, name) is not None, name


def test_the_sdk_version_is_semantic() -> None:
    assert re.fullmatch(r"1\.\d+\.\d+", canalis.sdk.SDK_VERSION)


def test_importing_the_test_kit_loads_no_test_tool() -> None:
    import subprocess
    import sys

    code = "import sys, canalis.testing; print(sorted({'pytest', 'responses'} & set(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("source", PLUGIN_SOURCES, ids=lambda path: str(path.relative_to(ROOT)))
def test_plugins_import_only_the_public_modules(source: Path) -> None:
    text = Names("sample").fill(source.read_text(encoding="utf-8"))  # a template, as the scaffold writes it
    imported = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
    private = sorted(name for name in imported if name.startswith("canalis.") and name not in PUBLIC)
    assert not private, f"{source.name} imports {private}: plugins use canalis.sdk and canalis.testing only"
