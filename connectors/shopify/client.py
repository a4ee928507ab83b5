"""The GraphQL Admin API client: one POST endpoint, cost-based pacing, THROTTLED retries, GraphQL errors."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from canalis.connectors.shopify.settings import ShopifySettings
from canalis.sdk import ApiError, HttpClient, RateLimiter, response_cap

SYSTEM = "shopify"
MAX_QUERY_COST = 1000
MIN_THROTTLE_WAIT = 0.5
INTERNAL_ERROR_WAIT = 1.0


class GraphQLError(ApiError):
    """A GraphQL answer with top-level errors (HTTP 200); `codes` holds their extension codes."""

    def __init__(self, *, call: str, messages: list[str], codes: list[str], retryable: bool = False) -> None:
        super().__init__(system=SYSTEM, call=call, status=200, detail="; ".join(messages)[:500], retryable=retryable)
        self.codes = codes

    def __reduce__(self):  # keep it picklable across processes, like ApiError
        return (_rebuild_graphql_error, (self.call, self.detail, self.codes, self.retryable))


def _rebuild_graphql_error(call: str, detail: str, codes: list[str], retryable: bool) -> GraphQLError:
    return GraphQLError(call=call, messages=[detail], codes=codes, retryable=retryable)


class CostPacer:
    """Waits before a query until the cost bucket (as the last answer described it) can pay for it."""

    def __init__(self, clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._available: float | None = None
        self._maximum = 0.0
        self._rate = 0.0
        self._seen_at = 0.0
        self._expected: dict[str, float] = {}
        self.waited = 0.0

    def observe(self, cost: Any, key: str) -> None:
        """Remember the bucket state of an answer and what this query asked for."""
        if not isinstance(cost, dict):
            return
        status = cost.get("throttleStatus") or {}
        with self._lock:
            if isinstance(cost.get("requestedQueryCost"), int | float):
                self._expected[key] = float(cost["requestedQueryCost"])
            try:
                self._available = float(status["currentlyAvailable"])
                self._maximum = float(status["maximumAvailable"])
                self._rate = float(status["restoreRate"])
            except (KeyError, TypeError, ValueError):
                return
            self._seen_at = self._clock()

    def wait_before(self, key: str, estimate: float = 0.0) -> float:
        """Sleep until the bucket holds what this query cost last time (or the estimate); returns the wait."""
        with self._lock:
            expected = self._expected.get(key, estimate or None)
            if expected is None or self._available is None or self._rate <= 0:
                return 0.0
            now = self._clock()
            available = min(self._maximum, self._available + (now - self._seen_at) * self._rate)
            wait = (min(expected, self._maximum) - available) / self._rate
        if wait <= 0:
            return 0.0
        self._sleep(wait)
        self.waited += wait
        return wait

    def throttle_wait(self, body: Any) -> float:
        """How long to wait after a THROTTLED answer before sending the same query again."""
        cost = body.get("extensions", {}).get("cost") if isinstance(body, dict) else None
        status = (cost or {}).get("throttleStatus") or {}
        try:
            requested = float(cost["requestedQueryCost"])  # type: ignore[index]
            available = float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
        except (KeyError, TypeError, ValueError):
            return MIN_THROTTLE_WAIT
        return max(MIN_THROTTLE_WAIT, (requested - available) / rate) if rate > 0 else MIN_THROTTLE_WAIT


def error_codes(body: Any) -> list[str]:
    """The extension codes of a GraphQL answer's top-level errors."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    return [str((error.get("extensions") or {}).get("code") or "") for error in errors if isinstance(error, dict)]


class ShopifyClient:
    """Sends GraphQL documents to one shop, pacing them by query cost."""

    def __init__(
        self,
        settings: ShopifySettings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.sleep = sleep
        token = settings.access_token.get_secret_value()
        self.pacer = CostPacer(clock, sleep)
        self.http = HttpClient(
            SYSTEM,
            settings.shop,
            headers={"X-Shopify-Access-Token": token, "Content-Type": "application/json"},
            timeout=(10.0, settings.timeout_seconds),
            max_attempts=settings.max_attempts,
            max_response_bytes=response_cap(settings),
            rate_limiter=_limiter(settings.requests_per_second, clock, sleep),
            secrets=[token],
            session=session,
            sleep=sleep,
            throttle_detector=self._throttle_detector,
        )
        self.served_version: str | None = None

    def __repr__(self) -> str:
        return f"ShopifyClient(shop={self.http.redact(self.settings.shop)!r}, version={self.settings.api_version!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()

    def _throttle_detector(self, response: requests.Response) -> float | None:
        """A wait for answers that are THROTTLED (or a transient internal error) although HTTP 200."""
        content = response.content
        if b"THROTTLED" not in content and b"INTERNAL_SERVER_ERROR" not in content:
            return None
        try:
            body = json.loads(content)
        except ValueError:
            return None
        codes = error_codes(body)
        if "THROTTLED" in codes:
            return self.pacer.throttle_wait(body)
        if "INTERNAL_SERVER_ERROR" in codes:
            return INTERNAL_ERROR_WAIT
        return None

    def execute(
        self, document: str, variables: dict[str, Any] | None = None, *, name: str, estimate: float = 0.0
    ) -> dict[str, Any]:
        """Run a query or mutation and return its `data`; GraphQLError when the answer has top-level errors.

        `estimate` is the expected query cost, used to pace the first call of a query before Shopify said it.
        """
        self.pacer.wait_before(name, estimate)
        call = f"graphql {name}"
        response = self.http.request(
            "POST", self.settings.graphql_path, json={"query": document, "variables": variables or {}}, call=call
        )
        self.served_version = response.headers.get("X-Shopify-API-Version") or self.served_version
        body = self.http.decode_json(response, call=call)
        if not isinstance(body, dict):
            raise ApiError(system=SYSTEM, call=call, status=response.status_code, detail="answer is not a JSON object")
        self.pacer.observe((body.get("extensions") or {}).get("cost"), name)
        errors = body.get("errors")
        if errors:
            messages = [self.http.redact(str(error.get("message"))) for error in errors if isinstance(error, dict)]
            raise GraphQLError(call=call, messages=messages or [str(errors)[:300]], codes=error_codes(body))
        data = body.get("data")
        if not isinstance(data, dict):
            raise ApiError(system=SYSTEM, call=call, status=response.status_code, detail="answer has no data")
        return data


def _limiter(rate: float, clock: Callable[[], float], sleep: Callable[[float], None]) -> RateLimiter | None:
    """A client-side pace on top of Shopify's own query cost budget, when the requests_per_second setting asks."""
    return RateLimiter(rate, burst=max(1, int(rate)), clock=clock, sleep=sleep) if rate > 0 else None
