"""HttpConnector: the wiring every connector over one HTTP API repeats, written once.

A subclass names its settings (deriving from `HttpSettings`), says how it authenticates (`auth_headers()` or
`auth()`), and declares its streams; the HTTP client is built from the settings on first use (building the
connector does no I/O), every secret setting is masked in its errors and logs, `close()` releases it, and the
default `check()` calls the API once and names the setting at fault when the call is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar

import requests
from pydantic import SecretStr

from canalis.sdk.base import Connector
from canalis.sdk.errors import ApiError, ConnectorError
from canalis.sdk.http import HttpClient, ThrottleDetector, response_cap
from canalis.sdk.ratelimit import Pace, RateLimiter
from canalis.sdk.settings import ConnectorSettings, HttpSettings, secret_fields
from canalis.sdk.state import StreamState
from canalis.sdk.streams import CheckResult


class HttpConnector(Connector):
    """A connector over one HTTP API, configured by `HttpSettings` (base URL, timeout, attempts, rate).

    Override `auth_headers()` (or `auth()` for a `requests` auth object) and, when the API is not at
    `settings.base_url` as given, `api_url()`. `check_path` is the call the default `check()` makes (GET);
    left None, `check()` reads the first page of the first readable stream.
    """

    settings: HttpSettings
    settings_model: ClassVar[type[HttpSettings]]
    system: ClassVar[str | None] = None
    """The API's name in error messages (`<system>: GET /path failed with HTTP 401`); default the connector's."""
    check_path: ClassVar[str | None] = None
    connect_timeout: ClassVar[float] = 10.0
    headers: ClassVar[Mapping[str, str]] = {}
    """Headers sent with every call besides the credentials (an API version header, for example)."""

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        connection: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        """`session` and `sleep` replace the HTTP session and the waiting (tests, embedding)."""
        super().__init__(settings, connection=connection)
        self._session = session
        self._pace = Pace(sleep)
        self._http: HttpClient | None = None

    # --- to override ------------------------------------------------------------------------------

    def auth_headers(self) -> Mapping[str, str]:
        """Headers carrying the credentials (`{"Authorization": "Bearer ..."}`); none by default."""
        return {}

    def auth(self) -> requests.auth.AuthBase | None:
        """A `requests` auth object (basic auth, a signing scheme), when headers are not enough."""
        return None

    def api_url(self) -> str:
        """The base URL calls are made under (the `base_url` setting by default)."""
        return self.settings.base_url

    def throttle_detector(self) -> ThrottleDetector | None:
        """A function finding throttling in a successful answer (GraphQL cost limits), or None."""
        return None

    # --- provided ---------------------------------------------------------------------------------

    @property
    def http(self) -> HttpClient:
        """The API client, made on first use."""
        if self._http is None:
            self._http = self.build_http()
        return self._http

    def build_http(self) -> HttpClient:
        """The HttpClient of this connection: its URL, credentials, timeouts, attempts and rate."""
        rate = float(getattr(self.settings, "requests_per_second", 0) or 0)
        limiter = None
        if rate > 0:
            limiter = RateLimiter(rate, burst=max(1, int(rate)), clock=self._pace.clock, sleep=self._pace.sleep)
        return HttpClient(
            self.system or self.name,
            self.api_url(),
            headers={**self.headers, **self.auth_headers()},
            auth=self.auth(),
            timeout=(self.connect_timeout, float(getattr(self.settings, "timeout_seconds", 60.0))),
            max_attempts=int(getattr(self.settings, "max_attempts", 6)),
            rate_limiter=limiter,
            secrets=self.secret_values(),
            session=self._session,
            sleep=self._pace.sleep,
            throttle_detector=self.throttle_detector(),
            max_response_bytes=response_cap(self.settings),
        )

    def secret_values(self) -> list[str]:
        """The values of every secret setting, masked wherever the client writes text."""
        values = []
        for name in secret_fields(self.settings_model):
            value = getattr(self.settings, name, None)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if isinstance(value, str) and value.strip():
                values.append(value)
        return values

    def close(self) -> None:
        """Close the client's pooled connections."""
        if self._http is not None:
            self._http.close()
            self._http = None

    def check(self) -> CheckResult:
        """Call the API once (`check_path`, else the first page of the first readable stream)."""
        try:
            if self.check_path is not None:
                self.http.get_json(self.check_path, call=f"GET {self.check_path} (connection test)")
            else:
                self._read_first_page()
        except ApiError as error:
            raise self.check_error(error) from None
        system = self.system or self.title or self.name
        return CheckResult(ok=True, message=f"{system} answered at {self.http.redact(self.api_url())}")

    def check_error(self, error: ApiError) -> Exception:
        """The setting a refused connection test points to: the credentials on 401/403, the URL when nothing
        answered or the path is unknown; any other error as it is."""
        if error.status in (401, 403):
            name = self.credential_setting()
            if name is not None:
                return self.setting_error(name, f"was refused: {error}")
        if error.status is None or error.status == 404:
            return self.setting_error("base_url", f"does not reach the API: {error}")
        return error

    def credential_setting(self) -> str | None:
        """The setting holding the credentials: the first secret one."""
        secrets = [name for name in self.settings_model.model_fields if name in secret_fields(self.settings_model)]
        return secrets[0] if secrets else None

    def _read_first_page(self) -> None:
        readable = [stream for stream in self.declared_streams() if stream.readable]
        if not readable:
            raise ConnectorError(f"{self.name}: no readable stream to test the connection with; set check_path")
        pages = self.read_pages(readable[0], StreamState.empty(readable[0].cursor_kind))
        try:
            next(iter(pages), None)
        finally:
            close = getattr(pages, "close", None)
            if close is not None:
                close()
