"""Calls to the Brevo API v3: paging parameters and the write endpoints Canalis uses.

Brevo tells the wait of a 429 in `x-sib-ratelimit-reset`, which the SDK's HttpClient reads like Retry-After.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import requests

from canalis.sdk import HttpClient

MAX_LIST_MEMBERS_PER_CALL = 150
LISTS_PAGE_SIZE = 50
BLOCKED_PAGE_SIZE = 100


class BrevoClient:
    """The Brevo endpoints Canalis reads and writes, over the SDK's HttpClient (retries, pacing, redaction)."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def __repr__(self) -> str:
        return f"BrevoClient(http={self.http!r})"

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

    def delete_contact(self, contact_id: str) -> bool:
        """Delete a contact by id (`DELETE /contacts/{id}?identifierType=contact_id`); False when it is gone."""
        response = self.http.request(
            "DELETE",
            f"/contacts/{contact_id}",
            params={"identifierType": "contact_id"},
            call="delete contact",
            ok_statuses=(204, 404),
        )
        return response.status_code == 204

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
