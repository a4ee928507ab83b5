"""Running the sandbox: a threaded HTTP server on loopback, in the foreground or in a background thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from connectors.sandbox.imap_server import ImapServerHandle, start_imap_server
from connectors.sandbox.objectstore import ObjectStore
from connectors.sandbox.server.app import SandboxApp
from connectors.sandbox.server.emulator import Emulator
from connectors.sandbox.server.faults import FaultPlan
from connectors.sandbox.world.generate import store_path


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive, as vendor APIs serve it, so clients reuse their connections."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are not logged one by one (benchmarks send hundreds of thousands)."""


@dataclass
class SandboxServer:
    """A sandbox served in a background thread (for tests, the demo and benchmarks); use as a context manager."""

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 0
    faults: str | None = None
    seed: int = 42
    emulators: list[type[Emulator]] | None = None
    imap: bool = False
    imap_port: int = 0

    def __post_init__(self) -> None:
        self.store: ObjectStore | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.imap_server: ImapServerHandle | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://{self.host}:{self._server.server_port}"

    def url(self, prefix: str) -> str:
        """The base URL of one emulator, e.g. url('hubspot')."""
        return f"{self.base_url}/{prefix}"

    def start(self) -> SandboxServer:
        self.store = ObjectStore(store_path(self.data_dir))
        plan = FaultPlan.from_spec(self.faults, seed=self.seed)
        app = SandboxApp(self.store, faults=plan, emulators=self.emulators)
        self._server = make_server(self.host, self.port, app, threaded=True, request_handler=KeepAliveHandler)
        app.base_url = self.base_url
        self.app = app
        self._thread = threading.Thread(target=self._server.serve_forever, name="canalis-sandbox", daemon=True)
        self._thread.start()
        if self.imap:
            self.imap_server = start_imap_server(self.data_dir, self.host, self.imap_port)
        return self

    def credentials(self) -> dict[str, dict[str, str]]:
        """Every emulator's credentials, and the IMAP account's under "imap" when it is served."""
        assert self._server is not None, "server not started"
        known = {prefix: emulator.credentials() for prefix, emulator in self.app.emulators.items()}
        if self.imap_server is not None:
            known["imap"] = self.imap_server.credentials()
        return known

    def stop(self) -> None:
        if self.imap_server is not None:
            self.imap_server.stop()
            self.imap_server = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self.store is not None:
            self.store.close()
        self._server = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
