"""Tests for the SDK's HttpClient: retries, waits, errors, throttling, rate limiting and redaction."""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote, quote_plus

import pytest
import requests
import responses

from canalis.sdk.errors import ApiError, ConfigError, ConnectorError
from canalis.sdk.http import (
    HttpClient,
    call_name,
    error_message,
    parse_rate_limit_reset,
    parse_retry_after,
)
from canalis.sdk.ratelimit import RateLimiter
from canalis.sdk.redaction import (
    header_secrets,
    is_sensitive_header,
    is_sensitive_param,
    redact,
    redact_headers,
    redact_url,
)

BASE = "https://api.example.test/v1"
SECRET = "s3cr3t-T0k/en+=42"


class FakeTime:
    """A clock that only moves when something sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


def make_client(sleeps: list[float], **kwargs) -> HttpClient:
    options = {"backoff_initial": 1.0, "backoff_max": 60.0, "sleep": sleeps.append}
    options.update(kwargs)
    return HttpClient("acme", BASE, **options)


def test_429_honours_retry_after_seconds(rsps, sleeps, caplog):
    rsps.get(f"{BASE}/contacts", status=429, headers={"Retry-After": "7"}, json={"message": "slow down"})
    rsps.get(f"{BASE}/contacts", json={"results": []})
    client = make_client(sleeps)

    with caplog.at_level(logging.WARNING, logger="canalis.http"):
        assert client.get_json("/contacts") == {"results": []}

    assert sleeps == [7.0]
    received = sum(len(call.response.content) for call in rsps.calls)
    assert client.stats.as_dict() == {"requests": 2, "retries": 1, "throttled_waits": 1, "bytes": received}
    [record] = caplog.records
    assert "7.00 s" in record.getMessage() and "HTTP 429" in record.getMessage()


def test_429_honours_retry_after_http_date(rsps, sleeps):
    when = datetime.now(UTC) + timedelta(seconds=30)
    rsps.get(f"{BASE}/contacts", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    rsps.get(f"{BASE}/contacts", json={})

    make_client(sleeps).get_json("/contacts")

    [wait] = sleeps
    assert 28.0 <= wait <= 30.0


def test_parse_retry_after():
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("1.5", now) == 1.5
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:45 GMT", now) == 45.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_parse_rate_limit_reset_seconds_and_unix_time():
    assert parse_rate_limit_reset({"X-RateLimit-Reset": "5"}) == 5.0
    assert parse_rate_limit_reset({"X-RateLimit-Reset": "1700000012"}, now=1700000000.0) == 12.0
    assert parse_rate_limit_reset({"Other": "5"}) is None


def test_429_uses_rate_limit_reset_header_without_retry_after(rsps, sleeps):
    rsps.get(f"{BASE}/contacts", status=429, headers={"X-RateLimit-Reset": "4"})
    rsps.get(f"{BASE}/contacts", json={})

    make_client(sleeps).get_json("/contacts")

    assert sleeps == [4.0]


def test_retry_after_is_capped_by_backoff_max_and_logged(rsps, sleeps, caplog):
    rsps.get(f"{BASE}/contacts", status=503, headers={"Retry-After": "600"})
    rsps.get(f"{BASE}/contacts", json={})

    with caplog.at_level(logging.WARNING, logger="canalis.http"):
        make_client(sleeps, backoff_max=30.0).get_json("/contacts")

    assert sleeps == [30.0]
    assert "capped" in caplog.text and "600.00" in caplog.text


def test_5xx_then_success_backs_off_exponentially(rsps, sleeps):
    for status in (500, 502, 503, 504):
        rsps.get(f"{BASE}/orders", status=status, body="upstream trouble")
    rsps.get(f"{BASE}/orders", json=[{"id": 1}])
    client = make_client(sleeps)

    assert client.get_json("/orders") == [{"id": 1}]

    assert len(sleeps) == 4
    for attempt, wait in enumerate(sleeps, start=1):
        base = 2.0 ** (attempt - 1)
        assert base <= wait <= base + 1.0
    assert client.stats.retries == 4
    assert client.stats.throttled_waits == 0


def test_backoff_never_exceeds_backoff_max(rsps, sleeps):
    for _ in range(5):
        rsps.get(f"{BASE}/orders", status=500)
    rsps.get(f"{BASE}/orders", json={})

    make_client(sleeps, backoff_initial=2.0, backoff_max=5.0).get_json("/orders")

    assert all(2.0 <= wait <= 5.0 for wait in sleeps)
    assert sleeps[-1] == 5.0


def test_exhaustion_raises_api_error_with_vendor_message(rsps, sleeps):
    for _ in range(3):
        rsps.post(f"{BASE}/search", status=503, json={"error": {"message": "Service down for maintenance"}})
    client = make_client(sleeps, max_attempts=3)

    with pytest.raises(ApiError) as caught:
        client.post_json("/search?debug=1", {"q": "x"})

    error = caught.value
    assert (error.system, error.call, error.status, error.retryable) == ("acme", "POST /search", 503, True)
    assert error.detail == "Service down for maintenance"
    assert str(error) == "acme: POST /search failed with HTTP 503: Service down for maintenance"
    assert len(rsps.calls) == 3
    assert len(sleeps) == 2


def test_exhausted_429_keeps_the_server_wait(rsps, sleeps):
    rsps.get(f"{BASE}/contacts", status=429, headers={"Retry-After": "3"})
    rsps.get(f"{BASE}/contacts", status=429, headers={"Retry-After": "3"})

    with pytest.raises(ApiError) as caught:
        make_client(sleeps, max_attempts=2).get_json("/contacts", call="list contacts")

    assert caught.value.retry_after == 3.0
    assert caught.value.call == "list contacts"
    assert caught.value.status == 429


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_not_retried(rsps, sleeps, status):
    rsps.get(f"{BASE}/contacts/9", status=status, json=[{"message": "Nope", "errorCode": "NOT_ALLOWED"}])
    client = make_client(sleeps)

    with pytest.raises(ApiError) as caught:
        client.get_json("/contacts/9")

    assert caught.value.status == status
    assert caught.value.retryable is False
    assert caught.value.detail == "NOT_ALLOWED: Nope"
    assert sleeps == []
    assert client.stats.requests == 1


def test_ok_statuses_return_the_response(rsps, sleeps):
    rsps.get(f"{BASE}/contacts/9", status=404, json={"message": "not found"})

    response = make_client(sleeps).request("GET", "/contacts/9", ok_statuses={404})

    assert response.status_code == 404


def test_connection_error_is_retried_then_raises_without_status(rsps, sleeps):
    for _ in range(3):
        rsps.get(f"{BASE}/contacts", body=requests.ConnectionError("connection refused"))
    client = make_client(sleeps, max_attempts=3)

    with pytest.raises(ApiError) as caught:
        client.get_json("/contacts")

    assert caught.value.status is None
    assert caught.value.retryable is True
    assert "no response" in str(caught.value) and "connection refused" in str(caught.value)
    assert len(sleeps) == 2
    assert client.stats.requests == 3


@pytest.mark.parametrize(
    "failure",
    [requests.ReadTimeout("read timed out"), requests.exceptions.ChunkedEncodingError("broken chunk")],
)
def test_timeouts_and_broken_bodies_are_retried(rsps, sleeps, failure):
    rsps.get(f"{BASE}/contacts", body=failure)
    rsps.get(f"{BASE}/contacts", json={"ok": True})

    assert make_client(sleeps).get_json("/contacts") == {"ok": True}
    assert len(sleeps) == 1


def test_invalid_request_is_not_retried(rsps, sleeps):
    rsps.get(f"{BASE}/x", body=requests.exceptions.InvalidHeader("bad header"))

    with pytest.raises(ApiError) as caught:
        make_client(sleeps).get_json("/x")

    assert caught.value.retryable is False
    assert sleeps == []


def test_timeouts_are_passed_on_every_attempt(rsps, sleeps):
    rsps.get(f"{BASE}/contacts", status=500)
    rsps.get(f"{BASE}/contacts", json={})

    make_client(sleeps, timeout=(3.0, 30.0)).get_json("/contacts")

    assert [call.request.req_kwargs["timeout"] for call in rsps.calls] == [(3.0, 30.0), (3.0, 30.0)]


def test_environment_proxies_are_honoured_and_read_once_per_origin(rsps, sleeps, monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "direct.example.test")
    for _ in range(3):
        rsps.get(f"{BASE}/contacts", json={})
    rsps.get("https://direct.example.test/v1/contacts", json={})
    client = make_client(sleeps)
    merges: list[str] = []
    merge = client._session.merge_environment_settings

    def counting_merge(url, *args):
        merges.append(url)
        return merge(url, *args)

    monkeypatch.setattr(client._session, "merge_environment_settings", counting_merge)

    for _ in range(3):
        client.get_json("/contacts")
    HttpClient("acme", "https://direct.example.test/v1", sleep=sleeps.append).get_json("/contacts")

    proxies = [call.request.req_kwargs["proxies"] for call in rsps.calls]
    assert [entry.get("https") for entry in proxies] == ["http://proxy.internal:3128"] * 3 + [None]
    assert len(merges) == 1  # three pages from one origin: the environment was read once


def test_default_headers_and_user_agent(rsps, sleeps):
    rsps.get(f"{BASE}/me", json={})

    make_client(sleeps, headers={"X-Tenant": "t1"}).get_json("/me")

    sent = rsps.calls[0].request.headers
    assert sent["User-Agent"].startswith("canalis/")
    assert sent["X-Tenant"] == "t1"
    assert sent["Accept"] == "application/json"


def graphql_throttle_detector(response: requests.Response) -> float | None:
    """Throttle signalled inside a 200 GraphQL body."""
    errors = response.json().get("errors") or []
    throttled = any(error.get("extensions", {}).get("code") == "THROTTLED" for error in errors)
    return 2.5 if throttled else None


def test_throttle_detector_retries_a_200_after_its_wait(rsps, sleeps):
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    rsps.post(f"{BASE}/graphql.json", json=throttled)
    rsps.post(f"{BASE}/graphql.json", json={"data": {"shop": {"name": "A"}}})
    client = make_client(sleeps, throttle_detector=graphql_throttle_detector)

    assert client.post_json("/graphql.json", {"query": "{ shop { name } }"}) == {"data": {"shop": {"name": "A"}}}

    assert sleeps == [2.5]
    assert client.stats.throttled_waits == 1


def test_throttle_detector_exhaustion_raises(rsps, sleeps):
    throttled = {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]}
    rsps.post(f"{BASE}/graphql.json", json=throttled)
    rsps.post(f"{BASE}/graphql.json", json=throttled)

    with pytest.raises(ApiError) as caught:
        make_client(sleeps, max_attempts=2, throttle_detector=graphql_throttle_detector).post_json("/graphql.json")

    assert caught.value.retryable is True
    assert "throttled" in str(caught.value)


def test_rate_limiter_is_acquired_before_each_attempt(rsps, sleeps):
    fake = FakeTime()
    limiter = RateLimiter(rate_per_second=1.0, burst=1, clock=fake.clock, sleep=fake.sleep)
    for _ in range(3):
        rsps.get(f"{BASE}/ping", json={})
    client = make_client(sleeps, rate_limiter=limiter)

    for _ in range(3):
        client.get_json("/ping")

    assert fake.sleeps == [1.0, 1.0]


def test_429_pauses_the_shared_rate_limiter(rsps):
    fake = FakeTime()
    limiter = RateLimiter(rate_per_second=100.0, burst=10, clock=fake.clock, sleep=fake.sleep)
    rsps.get(f"{BASE}/ping", status=429, headers={"Retry-After": "7"})
    rsps.get(f"{BASE}/ping", json={})
    paused: list[float | None] = []

    def client_sleep(seconds: float) -> None:
        paused.append(limiter.paused_until)
        fake.sleep(seconds)

    make_client([], rate_limiter=limiter, sleep=client_sleep).get_json("/ping")

    assert paused == [1007.0]
    assert fake.sleeps == [7.0]


def test_call_name_strips_query_and_host():
    assert call_name("get", "/crm/v3/objects?limit=10") == "GET /crm/v3/objects"
    assert call_name("POST", "https://h.test/a/b?x=1") == "POST /a/b"
    assert call_name("GET", "items") == "GET /items"


def test_absolute_url_on_same_host_is_allowed_other_hosts_refused(rsps, sleeps):
    rsps.get("https://api.example.test/v2/next?page=2", json={"page": 2})
    client = make_client(sleeps)

    assert client.get_json("https://api.example.test/v2/next?page=2") == {"page": 2}
    with pytest.raises(ConnectorError, match="refusing"):
        client.get_json("https://attacker.test/steal")


def test_cross_host_redirect_drops_credential_headers(rsps, sleeps):
    rsps.get(f"{BASE}/file", status=302, headers={"Location": "https://cdn.test/file"})
    rsps.get("https://cdn.test/file", json={})

    make_client(sleeps, headers={"X-Shopify-Access-Token": SECRET}).get_json("/file")

    assert rsps.calls[0].request.headers["X-Shopify-Access-Token"] == SECRET
    assert "X-Shopify-Access-Token" not in rsps.calls[1].request.headers


def test_non_json_body_raises_api_error(rsps, sleeps):
    rsps.get(f"{BASE}/contacts", body="<html>maintenance</html>", content_type="text/html")

    with pytest.raises(ApiError, match="not JSON"):
        make_client(sleeps).get_json("/contacts")


def test_empty_body_is_none(rsps, sleeps):
    rsps.delete(f"{BASE}/contacts/1", status=204)

    assert make_client(sleeps).request_json("DELETE", "/contacts/1") is None


@pytest.mark.parametrize("settings", [{"max_attempts": 0}, {"backoff_initial": 5.0, "backoff_max": 1.0}])
def test_bad_settings_raise_config_error(settings):
    with pytest.raises(ConfigError):
        HttpClient("acme", BASE, **settings)


@pytest.mark.parametrize("base_url", ["api.example.test", "https://api.example.test:99999"])
def test_bad_base_url_raises_config_error(base_url):
    with pytest.raises(ConfigError, match="base_url"):
        HttpClient("acme", base_url)


def response_with(body: str | bytes, status: int = 400) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body.encode() if isinstance(body, str) else body
    return response


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"message": "Bad field"}, "Bad field"),
        ({"error": {"message": "Quota exceeded"}}, "Quota exceeded"),
        (
            {"error": {"message": "Server Error", "data": {"message": "Access Denied"}}},
            "Server Error; Access Denied",
        ),
        ({"errors": [{"message": "one"}, {"detail": "two", "code": "BAD"}]}, "one; BAD: two"),
        (
            [{"message": "Session expired", "errorCode": "INVALID_SESSION_ID"}],
            "INVALID_SESSION_ID: Session expired",
        ),
        ({"error": "invalid_grant", "error_description": "expired"}, "invalid_grant; expired"),
        ({"errors": "Not Found"}, "Not Found"),
        ({"errors": {"email": ["is invalid"]}}, "email: ['is invalid']"),
    ],
)
def test_error_message_shapes(body, expected):
    assert error_message(response_with(json.dumps(body))) == expected


def test_error_message_falls_back_to_first_300_chars_of_text():
    assert error_message(response_with("x" * 1000)) == "x" * 300
    assert error_message(response_with("<h1>Bad   gateway</h1>\n")) == "<h1>Bad gateway</h1>"


# --- secrets never leak -------------------------------------------------------------------------------


class TokenAuth(requests.auth.AuthBase):
    """Bearer auth whose token is only known to the auth object."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request


def assert_no_secret(text: str, secret: str = SECRET) -> None:
    for form in (secret, quote(secret, safe=""), quote_plus(secret)):
        assert form not in text


def test_secrets_never_reach_logs_errors_or_repr(rsps, sleeps, caplog):
    echo = {"message": f"token {SECRET} is not valid for url ?signature={SECRET}"}
    rsps.get(f"{BASE}/contacts", status=500, json=echo)
    rsps.get(f"{BASE}/contacts", status=401, json=echo)
    client = HttpClient("acme", BASE, auth=TokenAuth(SECRET), sleep=sleeps.append, backoff_initial=0.0)

    with caplog.at_level(logging.DEBUG, logger="canalis.http"), pytest.raises(ApiError) as caught:
        client.get_json("/contacts", params={"access_token": SECRET, "limit": 5})

    assert rsps.calls[0].request.headers["Authorization"] == f"Bearer {SECRET}"
    assert len(caplog.records) == 3  # two debug lines and one retry warning
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "limit=5" in logged and "access_token=***" in logged
    assert_no_secret(logged)
    assert_no_secret(str(caught.value))
    assert_no_secret("".join(traceback.format_exception(caught.value)))
    assert_no_secret(repr(client))
    assert "***" in caught.value.detail


def test_configured_secrets_are_masked_in_body_echo(rsps, sleeps):
    rsps.get(f"{BASE}/me", status=403, json={"message": "password hunter2-pw rejected"})
    client = make_client(sleeps, secrets=["hunter2-pw"])

    with pytest.raises(ApiError) as caught:
        client.get_json("/me")

    assert str(caught.value) == "acme: GET /me failed with HTTP 403: password *** rejected"


def test_connection_error_text_is_redacted(rsps, sleeps):
    failure = requests.ConnectionError(f"Max retries exceeded with url: /v1/x?api_key={quote(SECRET, safe='')}")
    rsps.get(f"{BASE}/x", body=failure)
    client = make_client(sleeps, max_attempts=1, headers={"api-key": SECRET})

    with pytest.raises(ApiError) as caught:
        client.get_json("/x")

    assert_no_secret(str(caught.value))
    assert "api_key=***" in str(caught.value)


def test_repr_hides_base_url_credentials():
    encoded = quote(SECRET, safe="")
    client = HttpClient("acme", f"https://user:{encoded}@api.example.test/v1?key={encoded}")
    assert_no_secret(repr(client))
    assert "api.example.test" in repr(client)


def test_redact_helpers():
    assert redact(f"a {SECRET} b {quote(SECRET, safe='')} c", [SECRET, ""]) == "a *** b *** c"
    assert redact_url("https://h.test/p?hapikey=abc&limit=2&X-Amz-Signature=zz") == (
        "https://h.test/p?hapikey=***&limit=2&X-Amz-Signature=***"
    )
    assert redact_headers({"Authorization": "Bearer x", "api-key": "k", "Accept": "json"}) == {
        "Authorization": "***",
        "api-key": "***",
        "Accept": "json",
    }
    assert is_sensitive_header("X-Shopify-Access-Token") and is_sensitive_header("Cookie")
    assert not is_sensitive_header("Content-Type")
    assert all(is_sensitive_param(name) for name in ["token", "client_secret", "password", "signature"])
    assert not is_sensitive_param("limit")
    assert header_secrets({"Authorization": "Bearer abc", "Accept": "x"}) == {"Bearer abc", "abc"}


def test_urllib3_request_lines_are_redacted(caplog):
    pool_logger = logging.getLogger("urllib3.connectionpool")
    with caplog.at_level(logging.DEBUG, logger="urllib3.connectionpool"):
        pool_logger.debug(
            '%s://%s:%s "%s %s %s" %s', "https", "h.test", 443, "GET", "/p?token=abc1234", "HTTP/1.1", 200
        )
    assert "abc1234" not in caplog.text
    assert "/p?token=***" in caplog.text


def test_unparsable_url_is_refused_without_echoing_it(sleeps):
    with pytest.raises(ConnectorError) as caught:
        make_client(sleeps).get_json(f"https://api.example.test:99999/x?token={SECRET}")
    assert_no_secret(str(caught.value))


def test_invalid_url_error_is_redacted_and_not_retried(sleeps):
    client = HttpClient("acme", "https://exa mple.test", sleep=sleeps.append)
    with pytest.raises(ApiError) as caught:
        client.get_json("/x", params={"token": SECRET})
    assert caught.value.status is None
    assert caught.value.retryable is False
    assert_no_secret(str(caught.value))
    assert sleeps == []
