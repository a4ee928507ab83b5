"""Running the sandbox: a threaded HTTP server on loopback, in the foreground or in a background thread."""

from __future__ import annotations

import contextlib
import socket
import threading
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler, connection_dropped_errors
from werkzeug.wsgi import LimitedStream

from canalis.sandbox.imap_server import ImapServerHandle, start_imap_server
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.app import SandboxApp
from canalis.sandbox.server.emulator import Emulator
from canalis.sandbox.server.faults import FaultPlan
from canalis.sandbox.world.generate import store_path

NO_BODY_STATUSES = frozenset({204, 304})


class KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 with keep-alive, as vendor APIs serve it, so clients reuse their connections.

    Werkzeug's own handler closes the connection after every answer; this one keeps it open for the next request
    unless the client or the answer asks to close (`Connection: close`, as the dropped-connection fault does), the
    client speaks HTTP/1.0, or the request body's end is unknown. Answers without a Content-Length are sent chunked.
    What the application leaves unread of a request body is read and discarded before the next request.
    """

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        if self.connection.family in (socket.AF_INET, socket.AF_INET6):  # chunked pieces go out without waiting
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Requests are not logged one by one (benchmarks send hundreds of thousands)."""

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self.request_version != "HTTP/1.1":
            self.close_connection = True
        self.environ = environ = self.make_environ()
        body = self._request_body(environ)
        self._headers_sent = False
        try:
            self._execute(self.server.app, environ)
        except connection_dropped_errors as error:
            self.close_connection = True
            self.connection_dropped(error, environ)
            return
        except Exception:
            self.close_connection = True
            if self.server.passthrough_errors:
                raise
            if not self._headers_sent:
                with contextlib.suppress(Exception):  # the connection closes anyway
                    self._execute(InternalServerError(), environ)
            self.server.log("error", "Error on request:\n%s", traceback.format_exc())
            return
        if body is not None and not self.close_connection:
            try:  # skip the rest of the body so the connection stands at the next request
                while body.read(65536):
                    pass
            except Exception:
                self.close_connection = True

    def _request_body(self, environ: dict[str, Any]) -> Any:
        """The request body as a stream that ends with it (also made the application's `wsgi.input`), or None."""
        if "wsgi.input_terminated" in environ:  # chunked: werkzeug's DechunkedInput stops after the last chunk
            return environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if not length:
            return None
        if not length.isdigit():
            self.close_connection = True  # where the body ends is unknown: nothing else can follow it
            return None
        stream = LimitedStream(self.rfile, int(length))
        environ["wsgi.input"] = stream
        return stream

    def _execute(self, app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> None:
        """Run the application; send the status line and headers together with the first bytes of the body."""
        answer: list[Any] = []
        chunked = False

        def write(data: bytes) -> None:
            nonlocal chunked
            if not answer:
                raise AssertionError("write() before start_response")
            if self._headers_sent:
                if data:
                    self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)
                return
            status, headers = answer
            code_text, _, message = status.partition(" ")
            code = int(code_text)
            lines = [f"{self.protocol_version} {code} {message}", f"Server: {self.version_string()}"]
            lines.append(f"Date: {self.date_time_string()}")
            names = set()
            for key, value in headers:
                lines.append(f"{key}: {value}")
                names.add(key.lower())
                if key.lower() == "connection" and value.lower() == "close":
                    self.close_connection = True
            has_body = not (100 <= code < 200 or code in NO_BODY_STATUSES or environ["REQUEST_METHOD"] == "HEAD")
            if has_body and "content-length" not in names and not self.close_connection:
                chunked = True
                lines.append("Transfer-Encoding: chunked")
            if self.close_connection and "connection" not in names:
                lines.append("Connection: close")
            head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
            if chunked and data:
                data = b"%x\r\n%b\r\n" % (len(data), data)
            self._headers_sent = True
            self.wfile.write(head + data)

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
            if exc_info:
                try:
                    if self._headers_sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif answer:
                raise AssertionError("Headers already set")
            answer[:] = [status, headers]
            return write

        chunks = app(environ, start_response)
        try:
            for data in chunks:
                write(data)
            if not self._headers_sent:
                write(b"")
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        finally:
            if hasattr(chunks, "close"):
                chunks.close()


class KeepAliveServer(ThreadedWSGIServer):
    """A thread per connection, kept while the client keeps it; closing the server closes them all."""

    def __init__(self, host: str, port: int, app: Callable[..., Iterable[bytes]]) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(host, port, app, handler=KeepAliveHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        try:
            super().finish_request(request, client_address)
        finally:
            with self._open_lock:
                self._open.discard(request)

    def server_close(self) -> None:
        """Stop listening and end every open connection, so clients see the server gone as before keep-alive."""
        super().server_close()
        with self._open_lock:
            still_open = list(self._open)
        for connection in still_open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


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
        self._server: KeepAliveServer | None = None
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
        self._server = KeepAliveServer(self.host, self.port, app)
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
