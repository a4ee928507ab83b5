"""`canalis connectors new`: a connector plugin package written from a template, ready to install and test.

    canalis connectors new acme --kind rest      # rest | graphql | sql | yaml

writes `canalis-acme/`: a pip-installable package (`pyproject.toml` with the `canalis.connectors` entry point)
holding the settings, streams, connector and default mapping of `canalis_acme`, recorded sample answers, a README,
and the conformance suite as its tests, which pass as generated (`pip install -e "./canalis-acme[test]"`, then
`pytest canalis-acme`). Templates are package data under `templates/<kind>/`; `{{name}}`-style placeholders are
filled, and a `.tmpl` suffix keeps them from being read as code in Canalis itself.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from canalis.sdk.errors import ConfigError

Kind = Literal["rest", "graphql", "sql", "yaml"]
KINDS: tuple[Kind, ...] = ("rest", "graphql", "sql", "yaml")
TEMPLATES = Path(__file__).parent / "templates"
NAME = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
FOLDERS = {"package": "{{package}}", "plugin_tests": "tests"}
"""Template folders renamed in the package written (a `tests` folder would be taken for Canalis's own tests)."""


@dataclass(frozen=True)
class Names:
    """The forms of a connector's name the templates use."""

    name: str

    @property
    def values(self) -> dict[str, str]:
        camel = "".join(part.title() for part in self.name.split("_"))
        title = " ".join(part.title() for part in self.name.split("_"))
        return {
            "{{name}}": self.name,
            "{{Name}}": camel,
            "{{title}}": title,
            "{{package}}": f"canalis_{self.name}",
            "{{dist}}": f"canalis-{self.name.replace('_', '-')}",
            "{{ENV}}": f"CANALIS_{self.name.upper()}",
        }

    def fill(self, text: str) -> str:
        for placeholder, value in self.values.items():
            text = text.replace(placeholder, value)
        return text


def scaffold(name: str, kind: Kind, destination: Path, *, taken: frozenset[str] | set[str] = frozenset()) -> Path:
    """Write the plugin package of connector `name` under `destination`; returns the package's folder.

    ConfigError when the name is not a plain lower-case identifier, names a connector that exists already, the kind
    is unknown or the folder exists.
    """
    if not NAME.match(name):
        raise ConfigError(f"connector name '{name}': use lower-case letters, digits and underscores (2-41 characters)")
    if name in taken:
        raise ConfigError(f"connector name '{name}' is taken by a registered connector; choose another")
    if kind not in KINDS:
        raise ConfigError(f"unknown kind '{kind}' (kinds: {', '.join(KINDS)})")
    names = Names(name)
    root = Path(destination) / names.values["{{dist}}"]
    if root.exists():
        raise ConfigError(f"{root} exists already; remove it or choose another destination")
    for relative, source in sorted(_template_files(kind).items()):
        parts = [FOLDERS.get(part, part) for part in relative.parts]
        target = root / names.fill(str(Path(*parts))).removesuffix(".tmpl")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(names.fill(source.read_text(encoding="utf-8")), encoding="utf-8")
    return root


def _template_files(kind: Kind) -> dict[Path, Path]:
    """The common templates and the kind's own (which replace a common one of the same path), by relative path."""
    found: dict[Path, Path] = {}
    for folder in (TEMPLATES / "common", TEMPLATES / kind):
        found |= {path.relative_to(folder): path for path in folder.rglob("*.tmpl") if path.is_file()}
    return found
