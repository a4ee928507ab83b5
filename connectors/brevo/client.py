"""Calls to the Brevo API v3: the session, paging parameters and the write endpoints Canalis uses."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from canalis.connectors.brevo.settings import BrevoSettings
from canalis.sdk import RateLimiter
from canalis.sdk.http import POOL_CONNECTIONS, POOL_MAXSIZE, HttpClient
from canalis.sdk.redaction import is_sensitive_header

SYSTEM = "brevo"
RESET_HEADER = "x-sib-ratelimit-reset"
MAX_LIST_MEMBERS_PER_CALL = 150
LISTS_PAGE_SIZE = 50
BLOCKED_PAGE_SIZE = 100


class BrevoSession(requests.Session):
    """A pooled session that reads Brevo's 429 reset header as Retry-After and keeps the key on Brevo's host."""

    def __init__(self) -> None:
        super().__init__()
        adapter = HTTPAdapter(pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE, max_retries=0)
        self.mount("https://", adapter)
        self.mount("http://", adapter)
        self.hooks["response"].append(_retry_after_from_reset)

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """Drop the api-key header (and any other credential) when a redirect leaves the original host."""
        super().rebuild_auth(prepared_request, response)
        if self.should_strip_auth(response.request.url, prepared_request.url):
            for name in [name for name in prepared_request.headers if is_sensitive_header(name)]:
                del prepared_request.headers[name]


def _retry_after_from_reset(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
    """Brevo tells the wait of a 429 in `x-sib-ratelimit-reset` (seconds); expose it as Retry-After."""
    if response.status_code == 429 and "Retry-After" not in response.headers:
        reset = response.headers.get(RESET_HEADER)
        if reset is not None and reset.strip().isdigit():
            response.headers["Retry-After"] = reset.strip()
    return response


class _Pace:
    """One sleep for retries and the rate limiter; an injected sleep also moves the limiter's clock."""

    def __init__(self, sleep: Callable[[float], None]) -> None:
        self._sleep = sleep
        self._slept = 0.0
        self._virtual = sleep is not time.sleep

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)
        if self._virtual:
            self._slept += seconds

    def clock(self) -> float:
        return time.monotonic() + self._slept


class BrevoClient:
    """The Brevo endpoints Canalis reads and writes, over the SDK's HttpClient (retries, pacing, redaction)."""

    def __init__(
        self,
        settings: BrevoSettings,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        key = settings.api_key.get_secret_value()
        pace = _Pace(sleep)
        burst = max(1, int(settings.requests_per_second))
        self.http = HttpClient(
            SYSTEM,
            settings.base_url,
            headers={"api-key": key},
            timeout=(10.0, settings.timeout_seconds),
            max_attempts=settings.max_attempts,
            rate_limiter=RateLimiter(settings.requests_per_second, burst, clock=pace.clock, sleep=pace.sleep),
            secrets=[key],
            session=session if session is not None else BrevoSession(),
            sleep=pace.sleep,
        )

    def __repr__(self) -> str:
        return f"BrevoClient(http={self.http!r})"

    def close(self) -> None:
        """Close pooled connections."""
        self.http.close()

    # -- reads -------------------------------------------------------------------------------------

    def account(self) -> dict[str, Any]:
        """The account the key belongs to (GET /account)."""
        return self.http.get_json("/account") or {}

    def contacts_page(self, *, offset: int, limit: int, modified_since: str | None) -> dict[str, Any]:
        """One page of contacts in ascending creation order, optionally modified since a time."""
        params: dict[str, Any] = {"limit": limit, "offset": offset, "sort": "asc"}
        if modified_since is not None:
            params["modifiedSince"] = modified_since
        return self.http.get_json("/contacts", params=params) or {}

    def lists_page(self, *, offset: int, limit: int = LISTS_PAGE_SIZE) -> dict[str, Any]:
        """One page of contact lists in ascending creation order."""
        return self.http.get_json("/contacts/lists", params={"limit": limit, "offset": offset, "sort": "asc"}) or {}

    def blocked_page(
        self, *, offset: int, limit: int = BLOCKED_PAGE_SIZE, start_date: str | None, end_date: str | None
    ) -> dict[str, Any]:
        """One page of blocked or unsubscribed contacts, oldest first, optionally between two days."""
        params: dict[str, Any] = {"limit": limit, "offset": offset, "sort": "asc"}
        if start_date and end_date:
            params.update(startDate=start_date, endDate=end_date)
        return self.http.get_json("/smtp/blockedContacts", params=params) or {}

    def events_page(self, *, offset: int, limit: int, start_date: str, end_date: str) -> dict[str, Any]:
        """One page of the email event report between two days (at most 90), oldest first."""
        params = {"limit": limit, "offset": offset, "sort": "asc", "startDate": start_date, "endDate": end_date}
        return self.http.get_json("/smtp/statistics/events", params=params) or {}

    # -- writes ------------------------------------------------------------------------------------

    def update_contacts(self, contacts: list[dict[str, Any]]) -> dict[str, Any] | None:
        """Batch update (POST /contacts/batch): None when all were updated, else the 207 body with failureIds."""
        response = self.http.request("POST", "/contacts/batch", json={"contacts": contacts})
        if response.status_code == 207:
            return self.http.decode_json(response, call="POST /contacts/batch") or {}
        return None

    def update_contact(self, identifier: str, changes: Mapping[str, Any]) -> None:
        """Update one contact by id or email (PUT /contacts/{identifier})."""
        self.http.request("PUT", f"/contacts/{requests.utils.quote(identifier, safe='@')}", json=dict(changes))

    def upsert_contact(self, body: Mapping[str, Any]) -> int | None:
        """Create a contact, or update it when the email exists; the new id when one was created."""
        response = self.http.request("POST", "/contacts", json={**body, "updateEnabled": True})
        if response.status_code == 201 and response.content:
            created = self.http.decode_json(response, call="POST /contacts") or {}
            return created.get("id")
        return None

    def change_list(
        self, list_id: int, *, add: bool, emails: Sequence[str] = (), ids: Sequence[int] = ()
    ) -> dict[str, Any]:
        """Add contacts to, or remove them from, a list (at most 150 per call): `{success, failure}`."""
        members: dict[str, Any] = {"emails": list(emails)} if emails else {"ids": list(ids)}
        size = len(next(iter(members.values())))
        if size > MAX_LIST_MEMBERS_PER_CALL:
            raise ValueError(f"at most {MAX_LIST_MEMBERS_PER_CALL} contacts per list call, got {size}")
        action = "add" if add else "remove"
        body = self.http.post_json(f"/contacts/lists/{list_id}/contacts/{action}", members) or {}
        return body.get("contacts") or {}
