"""The sandbox server: routing by prefix, fault injection, dropped connections, the /_sandbox endpoints."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server import Emulator, FaultPlan, SandboxApp, json_response, parse_faults
from canalis.sdk.errors import ConfigError


class EchoEmulator(Emulator):
    prefix = "echo"
    system = "echo"
    routes = [("/items/<item_id>", ["GET"], "get_item")]

    def auth_error(self, request):
        if request.headers.get("Authorization") != "Bearer ok":
            return json_response({"message": "unauthorized"}, 401)
        return None

    def get_item(self, request, item_id: str):
        return json_response({"id": item_id})


@pytest.fixture
def serve(tmp_path: Path):
    servers = []

    def start(faults: str | None = None) -> str:
        store = ObjectStore(tmp_path / "sandbox.db")
        app = SandboxApp(store, faults=FaultPlan.from_spec(faults, seed=1), emulators=[EchoEmulator])
        server = make_server("127.0.0.1", 0, app, threaded=True)
        import threading

        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, store))
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server, store in servers:
        server.shutdown()
        server.server_close()
        store.close()


def test_routes_by_prefix_and_checks_auth(serve) -> None:
    base = serve()
    assert requests.get(f"{base}/echo/items/7", headers={"Authorization": "Bearer ok"}, timeout=5).json() == {"id": "7"}
    assert requests.get(f"{base}/echo/items/7", timeout=5).status_code == 401
    assert requests.get(f"{base}/echo/nothing", headers={"Authorization": "Bearer ok"}, timeout=5).status_code == 404
    missing = requests.get(f"{base}/nope/x", timeout=5)
    assert missing.status_code == 404 and missing.json()["emulators"] == ["echo"]
    assert requests.get(f"{base}/_sandbox/health", timeout=5).json()["status"] == "ok"


def test_injected_faults_answer_429_5xx_and_drop(serve) -> None:
    base = serve("echo:429=1")
    answer = requests.get(f"{base}/echo/items/1", headers={"Authorization": "Bearer ok"}, timeout=5)
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    base = serve("*:500=1")
    assert requests.get(f"{base}/echo/items/1", headers={"Authorization": "Bearer ok"}, timeout=5).status_code == 500
    base = serve("echo:drop=1")
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(f"{base}/echo/items/1", headers={"Authorization": "Bearer ok"}, timeout=5).json()


def test_fault_plan_is_reproducible_and_bursts() -> None:
    spec = "hubspot:429=0.3,500=0.1,burst=3"
    first = [FaultPlan.from_spec(spec, seed=5).request_fault("hubspot") for _ in range(1)]
    plan_a, plan_b = FaultPlan.from_spec(spec, seed=5), FaultPlan.from_spec(spec, seed=5)
    sequence_a = [plan_a.request_fault("hubspot") for _ in range(200)]
    assert sequence_a == [plan_b.request_fault("hubspot") for _ in range(200)]
    assert first[0] == sequence_a[0]
    assert "429" in sequence_a and "500" in sequence_a
    start = sequence_a.index("429")
    assert sequence_a[start : start + 3] == ["429", "429", "429"]
    assert FaultPlan.from_spec(spec, seed=5).request_fault("square") is None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hubspot", "must look like"),
        ("hubspot:teapot=1", "unknown fault"),
        ("x:429=2", "between 0 and 1"),
        ("x:429=lots", "needs a number"),
    ],
)
def test_bad_fault_specs_are_refused(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_faults(spec)
