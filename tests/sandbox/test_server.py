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
    routes = [("/items/<item_id>", ["GET"], "get_item"), ("/items/<item_id>", ["PUT"], "put_item")]

    def auth_error(self, request):
        if request.headers.get("Authorization") != "Bearer ok":
            return json_response({"message": "unauthorized"}, 401)
        return None

    def get_item(self, request, item_id: str):
        return json_response(self.store.get("echo", "item", item_id) or {"id": item_id})

    def put_item(self, request, item_id: str):
        self.store.put("echo", "item", item_id, request.get_json())
        return json_response({"id": item_id, "saved": True})


@pytest.fixture
def serve(tmp_path: Path):
    servers = []
    apps: list[SandboxApp] = []

    def start(faults: str | None = None) -> str:
        store = ObjectStore(tmp_path / "sandbox.db")
        app = SandboxApp(store, faults=FaultPlan.from_spec(faults, seed=1), emulators=[EchoEmulator])
        apps.append(app)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        import threading

        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((server, store))
        return f"http://127.0.0.1:{server.server_port}"

    start.apps = apps  # type: ignore[attr-defined]
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


def test_every_system_faults_merge_with_a_named_systems_own() -> None:
    rates = parse_faults("hubspot:429=0.05,burst=3;square:500=0.02;*:drop=0.01,malformed=0.01,latency=0.02")
    hubspot = rates["hubspot"]
    assert (hubspot.rate_limited, hubspot.burst) == (0.05, 3)
    assert (hubspot.drop, hubspot.malformed, hubspot.latency) == (0.01, 0.01, 0.02)
    assert rates["square"].server_errors == {500: 0.02} and rates["square"].drop == 0.01
    assert parse_faults("*:drop=0.5;shopify:drop=0.1")["shopify"].drop == 0.1  # the named setting wins
    assert FaultPlan.from_spec("hubspot:429=0.05;*:malformed=1").corrupt_record("hubspot")
    assert FaultPlan.from_spec("hubspot:429=0.05;*:malformed=1").corrupt_record("brevo")  # unnamed: `*` alone


def test_a_lost_reply_applies_the_write_then_fails_the_answer(serve) -> None:
    base = serve("echo:lost_reply=1")
    app = serve.apps[-1]
    auth = {"Authorization": "Bearer ok"}
    outcomes = []
    for number in (1, 2):
        try:
            answer = requests.put(
                f"{base}/echo/items/{number}", json={"id": str(number), "v": number}, headers=auth, timeout=5
            )
            outcomes.append(answer.status_code)
        except requests.exceptions.RequestException:
            outcomes.append("broken")
    assert outcomes == ["broken", 502]
    for number in (1, 2):  # both writes were applied although neither answer arrived
        assert requests.get(f"{base}/echo/items/{number}", headers=auth, timeout=5).json()["v"] == number
    assert app.faults.injected[("echo", "lost_reply")] == 2
    assert app.writes[("echo", "item", "1")] == 1 and app.write_requests["echo"] == 2
    faults = requests.get(f"{base}/_sandbox/faults", timeout=5).json()
    assert faults == {"injected": {"echo": {"lost_reply": 2}}}


def test_reads_and_writes_that_change_nothing_lose_no_reply(serve) -> None:
    base = serve("echo:lost_reply=1")
    app = serve.apps[-1]
    auth = {"Authorization": "Bearer ok"}
    assert requests.get(f"{base}/echo/items/3", headers=auth, timeout=5).status_code == 200
    app.faults.rates = {}
    assert requests.put(f"{base}/echo/items/3", json={"v": 3}, headers=auth, timeout=5).status_code == 200
    app.faults.rates = parse_faults("echo:lost_reply=1")
    assert requests.put(f"{base}/echo/items/3", json={"v": 3}, headers=auth, timeout=5).status_code == 200
    assert app.writes[("echo", "item", "3")] == 1 and not app.faults.injected


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
