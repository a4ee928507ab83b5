"""The sandbox WSGI application: every emulator on one port under its path prefix, plus /_sandbox endpoints."""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable

from werkzeug.wrappers import Request, Response

from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import Emulator, json_response
from canalis.sandbox.server.faults import FaultPlan

EMULATOR_MODULES = ("salesforce", "hubspot", "shopify", "square", "odoo", "brevo", "freshdesk", "mailchimp")

log = logging.getLogger("canalis.sandbox")


def load_emulators() -> list[type[Emulator]]:
    """The emulator classes shipped with the sandbox (each module names its class in `EMULATOR`)."""
    found: list[type[Emulator]] = []
    for name in EMULATOR_MODULES:
        try:
            module = importlib.import_module(f"canalis.sandbox.emulators.{name}")
        except ModuleNotFoundError as error:
            if error.name and error.name.endswith(name):
                continue
            raise
        emulator = getattr(module, "EMULATOR", None)
        if emulator is None:
            log.warning("sandbox module %s names no EMULATOR; skipped", name)
            continue
        found.append(emulator)
    return found


class SandboxApp:
    """Routes `/<prefix>/...` to the emulator with that prefix, applying injected faults first."""

    def __init__(
        self,
        store: ObjectStore,
        *,
        faults: FaultPlan | None = None,
        emulators: Iterable[type[Emulator]] | None = None,
        base_url: str = "",
    ) -> None:
        self.store = store
        self.faults = faults or FaultPlan()
        self.base_url = base_url
        classes = list(emulators) if emulators is not None else load_emulators()
        self.emulators: dict[str, Emulator] = {cls.prefix: cls(store, self.faults) for cls in classes}
        self.writes: Counter[tuple[str, str, str]] = Counter()
        """Requests that changed each object, per (system, object type, object id)."""
        self.write_requests: Counter[str] = Counter()
        """Requests that changed at least one object, per system."""
        self.write_hooks: list[Callable[[str, list[tuple[str, str, str]]], None]] = []
        """Called with the system and the objects changed after each write is applied, before it is answered."""
        self._writes_lock = threading.Lock()

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = self.handle(request)
        return response(environ, start_response)

    def handle(self, request: Request) -> Response:
        path = request.path
        prefix, _, rest = path.lstrip("/").partition("/")
        if prefix == "_sandbox":
            return self._sandbox_endpoint(request, rest)
        emulator = self.emulators.get(prefix)
        if emulator is None:
            return json_response({"message": f"no emulator at /{prefix}", "emulators": sorted(self.emulators)}, 404)
        delay = self.faults.latency(emulator.system)
        if delay:
            time.sleep(delay)
        fault = self.faults.request_fault(emulator.system)
        if fault == "drop":
            request.get_data()  # read the body so the socket holds nothing of this request when it closes
            return _dropped_connection()
        if fault is not None:
            return emulator.fault_response(fault)
        with self.store.journal() as changed:
            try:
                response = emulator.dispatch(request, "/" + rest)
            except Exception:  # an emulator bug answers 500 like a vendor would, and is logged
                log.exception("sandbox %s failed on %s %s", prefix, request.method, request.path)
                response = emulator.fault_response("500")
        if not changed:
            return response
        self._applied(emulator.system, changed)
        lost = self.faults.lose_reply(emulator.system)
        if lost == "drop":
            return _dropped_connection()
        if lost is not None:
            return emulator.fault_response(lost)
        return response

    def _applied(self, system: str, changed: list[tuple[str, str, str]]) -> None:
        """Count a request's changes per object and tell the write hooks."""
        with self._writes_lock:
            self.writes.update(set(changed))
            self.write_requests[system] += 1
        for hook in list(self.write_hooks):
            hook(system, changed)

    def _sandbox_endpoint(self, request: Request, rest: str) -> Response:
        if rest in ("", "health"):
            return json_response({"status": "ok", "emulators": sorted(self.emulators)})
        if rest == "ground-truth":
            from canalis.sandbox.world import ground_truth_document

            limit = request.args.get("limit", type=int)
            return json_response(ground_truth_document(self.store, limit=limit))
        if rest == "faults":
            injected: dict[str, dict[str, int]] = {}
            for (system, kind), count in sorted(self.faults.injected.items()):
                injected.setdefault(system, {})[kind] = count
            return json_response({"injected": injected})
        if rest == "credentials":
            return json_response({prefix: emulator.credentials() for prefix, emulator in self.emulators.items()})
        return json_response({"message": f"unknown sandbox endpoint /{rest}"}, 404)


def _dropped_connection() -> Response:
    """A response that promises more bytes than it sends, so the client sees the connection break."""
    response = Response(b'{"partial": ', status=200, content_type="application/json")
    response.headers["Content-Length"] = "4096"
    response.headers["Connection"] = "close"
    return response
