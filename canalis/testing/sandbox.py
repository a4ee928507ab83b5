"""The Canalis sandbox for a plugin's own edge-case tests: a generated world served by the vendors' emulators.

    from canalis.testing import SandboxWorld

    @pytest.fixture(scope="module")
    def world(tmp_path_factory):
        return SandboxWorld.generate(tmp_path_factory.mktemp("world"), customers=150)

    def test_something(world):
        with world.serve("mailchimp") as sandbox:                 # a fresh copy: writes stay in the test
            url, key = sandbox.url("mailchimp"), sandbox.credentials("mailchimp")["api_key"]
            ...
            members = sandbox.objects("mailchimp", "members")     # what the emulator holds, to compare with

Needs the sandbox extra (`pip install "canalis[test]"` brings it).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import SandboxServer, load_emulators
from canalis.sandbox.world import WorldSpec, generate_world, store_path


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: where each emulator answers, its test credentials, and what it holds."""

    server: SandboxServer

    def url(self, emulator: str) -> str:
        """The base URL of one emulator (`http://127.0.0.1:<port>/<emulator>`)."""
        return self.server.url(emulator)

    def credentials(self, emulator: str) -> dict[str, str]:
        """The emulator's published test credentials (an API key, a token...)."""
        return dict(self.server.credentials().get(emulator, {}))

    def objects(self, system: str, object_type: str) -> list[dict[str, Any]]:
        """Every object of one type as the emulator holds it now (after the test's writes)."""
        with ObjectStore(store_path(self.server.data_dir)) as store:
            return [item.payload for item in store.iter_all(system, object_type)]


@dataclass(frozen=True)
class SandboxWorld:
    """A generated world, served afresh (from a copy) by each `serve`."""

    folder: Path

    @classmethod
    def generate(cls, folder: Path, *, customers: int = 120, seed: int = 42) -> SandboxWorld:
        """Generate a world of `customers` people into `folder` (the same seed always gives the same world)."""
        generate_world(WorldSpec(seed=seed, customers=customers), folder)
        return cls(Path(folder))

    @contextmanager
    def serve(self, *emulators: str, faults: str | None = None) -> Iterator[Sandbox]:
        """Serve a fresh copy of the world through the named emulators (all when none are named).

        `faults` injects failures, e.g. "mailchimp:429=0.2,503=0.1,drop=0.05" (see `canalis sandbox serve`).
        """
        known = {emulator.prefix: emulator for emulator in load_emulators()}
        unknown = sorted(set(emulators) - set(known))
        if unknown:
            raise ValueError(f"no sandbox emulator {unknown} (emulators: {', '.join(sorted(known))})")
        chosen = [known[name] for name in emulators] if emulators else list(known.values())
        with tempfile.TemporaryDirectory(prefix="canalis-sandbox-") as copy:
            shutil.copyfile(store_path(self.folder), store_path(Path(copy)))
            with SandboxServer(Path(copy), faults=faults, emulators=chosen) as server:
                yield Sandbox(server)
