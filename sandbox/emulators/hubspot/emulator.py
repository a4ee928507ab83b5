"""The HubSpot emulator: private-app bearer auth, rate-limit headers and 429s, and the CRM, association and
marketing endpoints served from the sandbox object store."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.hubspot.associations import Associations
from canalis.sandbox.emulators.hubspot.crm import CrmObjects, EmailIndex
from canalis.sandbox.emulators.hubspot.marketing import Marketing
from canalis.sandbox.emulators.hubspot.search import SearchPager
from canalis.sandbox.emulators.hubspot.wire import SYSTEM, error_body, error_response
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import Emulator, json_response
from canalis.sandbox.server.faults import FaultPlan

ACCESS_TOKEN = "pat-eu1-canalis-sandbox-0001"  # noqa: S105 - the sandbox's published test token
READ_ONLY_TOKEN = "pat-eu1-canalis-sandbox-readonly"  # noqa: S105 - likewise, without write scopes
RATE_LIMIT_KEY = "hubspot:rate_limit"  # {"max": n, "interval_ms": ms, "enforce": bool}; set by tests or operators
DEFAULT_RATE_LIMIT = {"max": 190, "interval_ms": 10_000, "secondly": 19, "daily": 1_000_000, "enforce": False}
READ_POSTS = ("/search", "/batch/read")


class HubSpotEmulator(CrmObjects, Associations, Marketing, Emulator):
    """HubSpot's CRM v3/v4, email events and communication preferences APIs under /hubspot."""

    prefix = "hubspot"
    system = SYSTEM
    title = "HubSpot CRM"
    routes: ClassVar[list[tuple[str, list[str], str]]] = [
        *CrmObjects.routes_crm,
        *Associations.routes_associations,
        *Marketing.routes_marketing,
    ]

    def __init__(self, store: ObjectStore, faults: FaultPlan | None = None) -> None:
        super().__init__(store, faults)
        self.emails = EmailIndex(store)
        self.pager = SearchPager(store)
        self._init_associations()
        self._calls: deque[float] = deque()
        self._daily = 0
        self._calls_lock = threading.Lock()

    def credentials(self) -> dict[str, str]:
        return {"access_token": ACCESS_TOKEN, "read_only_access_token": READ_ONLY_TOKEN}

    def auth_error(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or token.strip() not in (ACCESS_TOKEN, READ_ONLY_TOKEN):
            message = (
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
            )
            if token.strip():
                message = "The access token provided is invalid or has been revoked."
            return error_response(401, message, "INVALID_AUTHENTICATION")
        if token.strip() == READ_ONLY_TOKEN and _is_write(request):
            return json_response(
                error_body(
                    "This app hasn't been granted all required scopes to make this call. Read more about required "
                    "scopes here: https://developers.hubspot.com/scopes.",
                    "MISSING_SCOPES",
                    errors=[{"message": "One or more of the following scopes are required.", "code": "MISSING_SCOPES"}],
                )
                | {"links": {"scopes": "https://developers.hubspot.com/scopes"}},
                403,
            )
        return None

    def dispatch(self, request: Request, path: str) -> Response:
        """Count the call against the rate limits (429 when enforced and spent), then answer with the headers."""
        policy = {**DEFAULT_RATE_LIMIT, **(self.store.kv_get(RATE_LIMIT_KEY) or {})}
        used, retry_after = self._count_call(policy)
        if retry_after is not None:
            return self.rate_limited(retry_after)
        response = super().dispatch(request, path)
        if not path.rstrip("/").endswith("/search"):  # the search endpoints send no rate-limit headers
            response.headers.update(_rate_headers(policy, used, self._daily))
        return response

    def fault_response(self, fault: str) -> Response:
        if fault == "429":
            return self.rate_limited(1)
        status = int(fault)
        message = "internal error" if status == 500 else "Service temporarily unavailable"
        return error_response(status, message, "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE")

    def not_found(self, request: Request) -> Response:
        return error_response(404, f"No route for {request.method} {request.path}", "OBJECT_NOT_FOUND")

    def rate_limited(self, retry_after: float) -> Response:
        """HubSpot's 429 for the ten-secondly rolling limit."""
        body = {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": error_body("", "")["correlationId"],
            "policyName": "TEN_SECONDLY_ROLLING",
        }
        return json_response(body, 429, headers={"Retry-After": str(max(1, math.ceil(retry_after)))})

    def _count_call(self, policy: dict[str, Any]) -> tuple[int, float | None]:
        """Record one call; return the calls in the current window and, when over an enforced limit, the wait."""
        now = time.monotonic()
        window = policy["interval_ms"] / 1000
        with self._calls_lock:
            while self._calls and self._calls[0] <= now - window:
                self._calls.popleft()
            if policy["enforce"] and len(self._calls) >= policy["max"]:
                return len(self._calls), self._calls[0] + window - now
            self._calls.append(now)
            self._daily += 1
            return len(self._calls), None


def _is_write(request: Request) -> bool:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    return not (request.method == "POST" and request.path.rstrip("/").endswith(READ_POSTS))


def _rate_headers(policy: dict[str, Any], used: int, daily_used: int) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Daily": str(policy["daily"]),
        "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, policy["daily"] - daily_used)),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(policy["interval_ms"]),
        "X-HubSpot-RateLimit-Max": str(policy["max"]),
        "X-HubSpot-RateLimit-Remaining": str(max(0, policy["max"] - used)),
        "X-HubSpot-RateLimit-Secondly": str(policy["secondly"]),
        "X-HubSpot-RateLimit-Secondly-Remaining": str(max(0, policy["secondly"] - min(used, policy["secondly"]))),
    }
