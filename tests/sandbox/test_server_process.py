"""The sandbox served from a process of its own: it answers like the threaded one and reports its CPU time."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from canalis.sandbox.emulators.hubspot import ACCESS_TOKEN
from canalis.sandbox.server.process import SandboxProcess
from canalis.sandbox.world import WorldSpec, generate_world


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("process-world")
    generate_world(WorldSpec(seed=5, customers=60), data_dir)
    return data_dir


def test_serves_the_world_from_another_process_and_reports_its_cpu(world_dir: Path) -> None:
    headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    with SandboxProcess(world_dir) as sandbox:
        assert sandbox.credentials()["hubspot"]["access_token"] == ACCESS_TOKEN
        url = f"{sandbox.base_url}/hubspot/crm/v3/objects/contacts"
        ids: list[str] = []
        after = None
        while True:
            page = requests.get(url, params={"limit": 10, **({"after": after} if after else {})}, headers=headers,
                                timeout=10).json()  # fmt: skip
            ids += [item["id"] for item in page["results"]]
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                break
        base_url = sandbox.base_url
    assert ids and len(ids) == len(set(ids))
    assert sandbox.cpu_seconds > 0
    with pytest.raises(requests.ConnectionError):  # stopped: nothing listens any more
        requests.get(url, headers=headers, timeout=2)
    assert base_url.startswith("http://127.0.0.1:")


def test_a_process_that_cannot_serve_says_so(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="ended before serving"):
        SandboxProcess(tmp_path / "missing" / "deeper", faults="not a fault spec").start()
