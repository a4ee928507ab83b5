"""The one HTTP layer every Canalis connector uses: pooling, timeouts, retries, rate limits and redaction."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from canalis.sdk import jsoncodec
from canalis.sdk.errors import ApiError, ConfigError, ConnectorError
from canalis.sdk.ratelimit import RateLimiter, sleep_now
from canalis.sdk.redaction import header_secrets, is_sensitive_header, redact, url_secrets

logger = logging.getLogger("canalis.http")

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
RETRYABLE_EXCEPTIONS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
RATE_LIMIT_RESET_HEADERS = ("RateLimit-Reset", "X-RateLimit-Reset", "X-Rate-Limit-Reset", "X-Sib-Ratelimit-Reset")
POOL_CONNECTIONS = 4  # distinct hosts kept in the pool
POOL_MAXSIZE = 16  # connections per host, enough for the threads one connector runs
DETAIL_MAX_CHARS = 300
_EPOCH_THRESHOLD = 1_000_000_000  # a reset header above this is a Unix time, below it a number of seconds
_AUTH_SECRET_ATTRIBUTES = ("password", "token", "access_token", "api_key", "secret", "client_secret")

ThrottleDetector = Callable[[requests.Response], float | None]


DEFAULT_MAX_RESPONSE_BYTES = 100 * 1024 * 1024  # one answer larger than this fails its call
RESPONSE_CHUNK_BYTES = 1 << 16


def response_cap(settings: Any) -> int:
    """The largest answer, in bytes, a connector's settings allow (`max_response_mb`, else the default)."""
    megabytes = getattr(settings, "max_response_mb", None)
    return int(float(megabytes) * 1024 * 1024) if megabytes else DEFAULT_MAX_RESPONSE_BYTES


def _canalis_version() -> str:
    """The installed Canalis version, or the source tree's version when not installed."""
    try:
        return metadata.version("canalis")
    except metadata.PackageNotFoundError:
        return "0.1.0"


DEFAULT_USER_AGENT = f"canalis/{_canalis_version()}"


@dataclass
class HttpStats:
    """Counters for one client: HTTP exchanges sent, retries, server-told throttle waits, bytes received."""

    requests: int = 0
    retries: int = 0
    throttled_waits: int = 0
    bytes: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, requests: int = 0, retries: int = 0, throttled_waits: int = 0, bytes: int = 0) -> None:
        """Add to the counters atomically."""
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.throttled_waits += throttled_waits
            self.bytes += bytes

    def as_dict(self) -> dict[str, int]:
        """A consistent snapshot of the counters."""
        with self._lock:
            return {
                "requests": self.requests,
                "retries": self.retries,
                "throttled_waits": self.throttled_waits,
                "bytes": self.bytes,
            }


def call_name(method: str, path_or_url: str) -> str:
    """The default human name of a call: "METHOD /path", without the query string or host."""
    path = urlsplit(path_or_url).path if "://" in path_or_url else path_or_url.split("?", 1)[0]
    return f"{method.upper()} /{path.lstrip('/')}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (seconds or HTTP-date); None when absent or unreadable."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def parse_rate_limit_reset(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from a rate-limit reset header (seconds to wait, or a Unix time); None if absent."""
    for name in RATE_LIMIT_RESET_HEADERS:
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        if value > _EPOCH_THRESHOLD:
            value -= time.time() if now is None else now
        return max(0.0, value)
    return None


def server_wait(response: requests.Response) -> float | None:
    """The wait the server asked for: Retry-After, or on a 429 a rate-limit reset header."""
    wait = parse_retry_after(response.headers.get("Retry-After"))
    if wait is None and response.status_code == 429:
        wait = parse_rate_limit_reset(response.headers)
    return wait


def error_message(response: requests.Response) -> str:
    """The vendor's error message from a response body in the common JSON shapes, else the raw text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    text = _message_from_body(body) or response.text or ""
    return " ".join(text.split())[:DETAIL_MAX_CHARS]


def _text(value: Any) -> str | None:
    """The value when it is a non-empty string, else None."""
    return value if isinstance(value, str) and value.strip() else None


def _join(messages: Iterable[str | None]) -> str | None:
    """Non-empty messages joined with "; ", or None when there are none."""
    kept = [message for message in messages if message]
    return "; ".join(kept) if kept else None


def _item_message(item: Any) -> str | None:
    """One entry of an error list: {"message"|"detail", "errorCode"|"code"} or a bare string."""
    if isinstance(item, str):
        return _text(item)
    if not isinstance(item, Mapping):
        return None
    message = _text(item.get("message")) or _text(item.get("detail"))
    code = _text(item.get("errorCode")) or _text(item.get("code"))
    return f"{code}: {message}" if message and code else message


def _message_from_body(body: Any) -> str | None:
    """The error message inside a parsed JSON error body, if it has a known shape."""
    if isinstance(body, list):
        return _join(_item_message(item) for item in body)
    if not isinstance(body, Mapping):
        return None
    error = body.get("error")
    if isinstance(error, Mapping):
        data = error.get("data")
        inner = _text(data.get("message")) if isinstance(data, Mapping) else None
        return _join([_text(error.get("message")), inner])
    if _text(body.get("error_description")):
        return _join([_text(error), body["error_description"]])
    if _text(body.get("message")):
        return body["message"]
    errors = body.get("errors")
    if isinstance(errors, list):
        return _join(_item_message(item) for item in errors)
    if isinstance(errors, Mapping):
        return _join(f"{key}: {value}" for key, value in errors.items())
    return _text(errors) or _text(error)


def _is_retryable(exc: BaseException) -> bool:
    """Retry only the ApiErrors marked retryable (throttling, 5xx, transport failures)."""
    return isinstance(exc, ApiError) and exc.retryable


def _is_throttle(exc: BaseException | None) -> bool:
    """A 429, or a throttle signalled inside a successful response (the throttle detector's case)."""
    if not isinstance(exc, ApiError) or exc.status is None:
        return False
    return exc.status == 429 or exc.status < 400


def _auth_secrets(auth: requests.auth.AuthBase | None) -> set[str]:
    """Credential values held by an auth object under common attribute names."""
    values = (getattr(auth, name, None) for name in _AUTH_SECRET_ATTRIBUTES)
    return {value for value in values if isinstance(value, str) and value}


class _CredentialSafeSession(requests.Session):
    """A session that also drops vendor credential headers when a redirect leaves the original host."""

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """Strip every sensitive header, not only Authorization, on a cross-host redirect."""
        super().rebuild_auth(prepared_request, response)
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name in [name for name in prepared_request.headers if is_sensitive_header(name)]:
                del prepared_request.headers[name]


def _new_session() -> requests.Session:
    """A pooled session; retries are done by HttpClient, never by urllib3."""
    session = _CredentialSafeSession()
    adapter = HTTPAdapter(pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE, max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class _RedactingFilter(logging.Filter):
    """Mask sensitive query parameters in urllib3's debug lines, which print each request's path."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with sensitive values masked."""
        record.msg, record.args = redact(record.getMessage()), None
        return True


def _install_urllib3_filter() -> None:
    """Attach the redacting filter to urllib3's connection pool logger once."""
    pool_logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(existing, _RedactingFilter) for existing in pool_logger.filters):
        pool_logger.addFilter(_RedactingFilter())


_install_urllib3_filter()


class HttpClient:
    """A client for one vendor API: pooled session, timeouts, retries, rate limiting, secret-safe errors."""

    def __init__(
        self,
        system: str,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: requests.auth.AuthBase | None = None,
        timeout: tuple[float, float] = (5.0, 60.0),
        max_attempts: int = 6,
        backoff_initial: float = 0.5,
        backoff_max: float = 60.0,
        rate_limiter: RateLimiter | None = None,
        secrets: Iterable[str] = (),
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = sleep_now,
        user_agent: str = DEFAULT_USER_AGENT,
        throttle_detector: ThrottleDetector | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        _check_settings(system, base_url, max_attempts, backoff_initial, backoff_max)
        self.max_response_bytes = max_response_bytes
        self.system = system
        self.base_url = base_url.rstrip("/")
        self._base_origin: Origin = _origin(self.base_url) or ("", None, None)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.rate_limiter = rate_limiter
        self.throttle_detector = throttle_detector
        self.stats = HttpStats()
        self._sleep = sleep
        self._backoff = wait_exponential(
            multiplier=backoff_initial, min=backoff_initial, max=backoff_max
        ) + wait_random(0, backoff_initial)
        self._secrets: frozenset[str] = frozenset()
        self._secrets_lock = threading.Lock()
        self._session = session if session is not None else _new_session()
        # proxies and CA bundle from the environment, looked up once per origin rather than for every request
        self._environment: dict[Origin | None, dict[str, Any]] = {}
        self._session.headers.update({"User-Agent": user_agent, "Accept": "application/json"})
        self._session.headers.update(headers or {})
        if auth is not None:
            self._session.auth = auth
        self._learn_secrets(
            set(secrets) | header_secrets(self._session.headers) | url_secrets(base_url) | _auth_secrets(auth)
        )

    def __repr__(self) -> str:
        return f"HttpClient(system={self.system!r}, base_url={self.redact(self.base_url)!r})"

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def redact(self, text: str) -> str:
        """Mask every secret this client knows of, and sensitive query parameters, in the text."""
        return redact(text, self._secrets)

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        call: str | None = None,
        ok_statuses: Container[int] | None = None,
    ) -> requests.Response:
        """Send a request with retries; raise ApiError unless the status is below 400 or in ok_statuses.

        The body (json, or data as bytes/str/dict) is sent again on each attempt, so it must not be a stream.
        """
        method = method.upper()
        call = self.redact(call or call_name(method, path_or_url))
        outgoing = requests.Request(
            method, self.url_for(path_or_url), params=params, json=json, data=data, headers=headers
        )
        retrying = Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            retry=retry_if_exception(_is_retryable),
            before_sleep=lambda state: self._before_retry(call, state),
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(self._attempt, outgoing, call, ok_statuses)

    def request_json(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        call: str | None = None,
        ok_statuses: Container[int] | None = None,
    ) -> Any:
        """Send a request and return its parsed JSON body (None for an empty body)."""
        call = call or call_name(method, path_or_url)
        response = self.request(
            method, path_or_url, params=params, json=json, headers=headers, call=call, ok_statuses=ok_statuses
        )
        return self.decode_json(response, call=call)

    def get_json(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        call: str | None = None,
        ok_statuses: Container[int] | None = None,
    ) -> Any:
        """GET and return the parsed JSON body."""
        return self.request_json("GET", path_or_url, params=params, headers=headers, call=call, ok_statuses=ok_statuses)

    def post_json(
        self,
        path_or_url: str,
        json: Any = None,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        call: str | None = None,
        ok_statuses: Container[int] | None = None,
    ) -> Any:
        """POST a JSON body and return the parsed JSON answer."""
        return self.request_json(
            "POST", path_or_url, params=params, json=json, headers=headers, call=call, ok_statuses=ok_statuses
        )

    def decode_json(self, response: requests.Response, *, call: str) -> Any:
        """The parsed JSON body of a response, None when empty; ApiError when it is not JSON."""
        if not response.content:
            return None
        try:
            return jsoncodec.loads(response.content)  # UTF-8, as vendors send it; other encodings go through requests
        except (ValueError, UnicodeDecodeError):
            pass
        try:
            return response.json()
        except ValueError:
            snippet = self.redact(" ".join(response.text[:100].split()))
            raise ApiError(
                system=self.system,
                call=call,
                status=response.status_code,
                detail=f"response is not JSON: {snippet}",
            ) from None

    def url_for(self, path_or_url: str) -> str:
        """The absolute URL for a path under base_url, or the URL itself when it is on the same host."""
        if "://" not in path_or_url:
            return f"{self.base_url}/{path_or_url.lstrip('/')}" if path_or_url else self.base_url
        target, base = _origin(path_or_url), self._base_origin
        if target is None or target[1:] != base[1:] or target[0] not in ("http", "https"):
            raise ConnectorError(
                f"{self.system}: refusing to send credentials to a URL outside {base[1]} (a next-page link?)"
            )
        return path_or_url

    def _attempt(self, outgoing: requests.Request, call: str, ok_statuses: Container[int] | None) -> requests.Response:
        """One HTTP exchange: wait for the rate limiter, send, and turn failures into ApiError."""
        if self.rate_limiter is not None:
            self.rate_limiter.acquire()
        try:
            prepared = self._session.prepare_request(outgoing)
        except requests.RequestException as exc:
            raise self._transport_error(call, exc) from None
        self._learn_secrets(header_secrets(prepared.headers) | url_secrets(prepared.url or ""))
        started = time.monotonic()
        try:
            response = self._send(prepared)
            self._read_capped(response, call)
        except requests.RequestException as exc:
            self.stats.add(requests=1)
            self._log_exchange(prepared, "no response", started)
            raise self._transport_error(call, exc) from None
        self.stats.add(requests=1, bytes=len(response.content))
        self._log_exchange(prepared, f"HTTP {response.status_code}", started)
        self._check(response, call, ok_statuses)
        return response

    def _send(self, prepared: requests.PreparedRequest) -> requests.Response:
        """Send through the pooled session with the environment's proxy and CA settings and the timeouts; the
        body is read afterwards, up to the size cap (`_read_capped`)."""
        settings = self.environment_settings(prepared.url or "")
        return self._session.send(prepared, timeout=self.timeout, allow_redirects=True, **{**settings, "stream": True})

    def _read_capped(self, response: requests.Response, call: str) -> None:
        """Read the body, failing the call (not retried) once it passes `max_response_bytes` (decompressed)."""
        cap = self.max_response_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap and "Content-Encoding" not in response.headers:
            response.close()
            raise self._too_large(response, call)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(RESPONSE_CHUNK_BYTES):
            size += len(chunk)
            if size > cap:
                response.close()
                raise self._too_large(response, call)
            chunks.append(chunk)
        response._content = b"".join(chunks)  # what `response.content` gives from now on
        response._content_consumed = True

    def _too_large(self, response: requests.Response, call: str) -> ApiError:
        limit = self.max_response_bytes / (1024 * 1024)
        return ApiError(
            system=self.system,
            call=call,
            status=response.status_code,
            detail=f"the answer is larger than {limit:g} MB (setting max_response_mb); it was not read",
        )

    def environment_settings(self, url: str) -> dict[str, Any]:
        """The proxies, CA bundle and client certificate requests would take from the environment for `url`.

        They depend on the URL's origin only (NO_PROXY names hosts), so they are worked out once per origin for
        the life of the client: reading every proxy variable for each page cost more than decoding the page.
        """
        origin = _origin(url)
        settings = self._environment.get(origin)
        if settings is None:
            settings = self._session.merge_environment_settings(url, {}, None, None, None)
            self._environment[origin] = settings
        return settings

    def _check(self, response: requests.Response, call: str, ok_statuses: Container[int] | None) -> None:
        """Raise ApiError for an error status or a throttle the detector finds in a successful answer."""
        status = response.status_code
        if status < 400 or (ok_statuses is not None and status in ok_statuses):
            wait = self.throttle_detector(response) if self.throttle_detector is not None else None
            if wait is not None:
                raise ApiError(
                    system=self.system,
                    call=call,
                    status=status,
                    detail="throttled by the API",
                    retryable=True,
                    retry_after=max(0.0, float(wait)),
                )
            return
        retryable = status in RETRYABLE_STATUSES
        raise ApiError(
            system=self.system,
            call=call,
            status=status,
            detail=self.redact(error_message(response)),
            retryable=retryable,
            retry_after=server_wait(response) if retryable else None,
        )

    def _transport_error(self, call: str, exc: requests.RequestException) -> ApiError:
        """An ApiError without status for a failure before any response; the text is redacted."""
        detail = self.redact(f"{type(exc).__name__}: {exc}")[:DETAIL_MAX_CHARS]
        return ApiError(
            system=self.system,
            call=call,
            status=None,
            detail=detail,
            retryable=isinstance(exc, RETRYABLE_EXCEPTIONS),
        )

    def _wait(self, state: RetryCallState) -> float:
        """The server-told wait when there is one (capped by backoff_max), else exponential backoff."""
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, ApiError) and exc.retry_after is not None:
            return min(exc.retry_after, self.backoff_max)
        return min(self._backoff(state), self.backoff_max)

    def _before_retry(self, call: str, state: RetryCallState) -> None:
        """Count and log the retry; on throttling, pause the shared rate limiter for the same wait."""
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        throttled = _is_throttle(exc)
        self.stats.add(retries=1, throttled_waits=int(throttled))
        if throttled and self.rate_limiter is not None:
            self.rate_limiter.pause_for(wait)
        logger.warning(
            "%s: %s failed (%s), attempt %d of %d; retrying in %.2f s (%s)",
            self.system,
            call,
            self.redact(str(exc)),
            state.attempt_number,
            self.max_attempts,
            wait,
            self._wait_reason(exc),
        )

    def _wait_reason(self, exc: BaseException | None) -> str:
        """Why the retry waits as long as it does, for the retry log line."""
        if not isinstance(exc, ApiError) or exc.retry_after is None:
            return "backoff"
        if exc.retry_after > self.backoff_max:
            return f"server asked for {exc.retry_after:.2f} s, capped at backoff_max"
        return "server-told wait"

    def _log_exchange(self, prepared: requests.PreparedRequest, outcome: str, started: float) -> None:
        """One debug line per HTTP exchange: method, redacted URL, outcome, elapsed milliseconds."""
        if logger.isEnabledFor(logging.DEBUG):
            elapsed_ms = (time.monotonic() - started) * 1000
            url = self.redact(prepared.url or "")
            logger.debug("%s: %s %s -> %s in %.0f ms", self.system, prepared.method, url, outcome, elapsed_ms)

    def _learn_secrets(self, values: Iterable[str]) -> None:
        """Add credential values to the set masked everywhere this client writes text."""
        new = {value for value in values if value and value.strip()} - self._secrets
        if new:
            with self._secrets_lock:
                self._secrets = self._secrets | new


Origin = tuple[str, str | None, int | None]


def _origin(url: str) -> Origin | None:
    """Scheme, host and port of a URL, or None when the URL cannot be parsed."""
    try:
        parts = urlsplit(url)
        return parts.scheme, parts.hostname, parts.port
    except ValueError:
        return None


def _check_settings(system: str, base_url: str, max_attempts: int, backoff_initial: float, backoff_max: float) -> None:
    """Raise ConfigError for settings the client cannot work with."""
    if not system:
        raise ConfigError("system must name the API", setting="system")
    if not base_url.startswith(("http://", "https://")) or _origin(base_url) is None:
        raise ConfigError(f"{system}: base_url must be a valid http:// or https:// URL", setting="base_url")
    if max_attempts < 1:
        raise ConfigError(f"{system}: max_attempts must be at least 1", setting="max_attempts")
    if backoff_initial < 0 or backoff_max < backoff_initial:
        raise ConfigError(f"{system}: backoff needs 0 <= backoff_initial <= backoff_max", setting="backoff_initial")
