"""The Mailchimp connector: basic auth with the API key on its data center's host, and the two writes; the SDK
reads the declared streams."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

import requests

from canalis.sdk import ApiError, ConnectorError, HttpConnector, WriteResult
from canalis_mailchimp.settings import MailchimpSettings
from canalis_mailchimp.streams import STREAMS

STATUS_OF_CONSENT = {"denied": "unsubscribed", "granted": "subscribed"}


def subscriber_hash(email: str) -> str:
    """Mailchimp's id of a member: the MD5 of the lower-cased address."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


class MailchimpConnector(HttpConnector):
    """Mailchimp Marketing (API v3): one audience's members, its campaigns' activity and unsubscribes; writes
    email marketing consents (unsubscribes) in batches and member tags."""

    name = "mailchimp"
    kind = "marketing"
    title = "Mailchimp"
    description = (
        "Mailchimp audience members (merge fields, tags, marketing permissions), campaign activity and unsubscribes; "
        "writes unsubscribes and tags."
    )
    settings_model = MailchimpSettings
    streams = STREAMS
    check_path = "/ping"

    settings: MailchimpSettings

    def auth(self) -> requests.auth.AuthBase:
        """Basic auth: any user name, the API key as password."""
        return requests.auth.HTTPBasicAuth("canalis", self.settings.api_key.get_secret_value())

    def api_url(self) -> str:
        """The base URL on the key's data center (`{dc}` filled from the key)."""
        return self.settings.base_url.replace("{dc}", self.settings.data_center())

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        if stream == "consents":
            yield from self._write_consents(list(records))
        elif stream == "tags":
            yield from (self._write_tags(record) for record in records)
        else:
            raise ConnectorError(f"{self.name}: stream '{stream}' is read-only")

    def _write_consents(self, records: list[dict[str, Any]]) -> Iterator[WriteResult]:
        """Members' status in batch updates of write_batch_size; a refused member fails with Mailchimp's reason."""
        size = self.write_batch_size("consents")
        for start in range(0, len(records), size):
            batch, results = [], {}
            for record in records[start : start + size]:
                key, status = str(record.get("key")), STATUS_OF_CONSENT.get(str(record.get("status")))
                if (record.get("purpose") or "marketing") != "marketing" or (
                    record.get("channel") or "email"
                ) != "email":
                    results[key] = WriteResult(key, "skipped", error="Mailchimp holds email marketing consent only")
                elif status is None or not (record.get("email") or record.get("source_id")):
                    results[key] = WriteResult(key, "skipped", error="needs an email and a granted or denied status")
                else:
                    try:
                        batch.append((key, self._address_of(record), status))
                    except ApiError as error:
                        results[key] = WriteResult(key, "failed", error=str(error), retryable=error.retryable)
            if batch:
                results |= self._consent_batch(batch)
            yield from (results[str(record.get("key"))] for record in records[start : start + size])

    def _address_of(self, record: dict[str, Any]) -> str:
        """The address Mailchimp holds for the record's member.

        A record read from Mailchimp carries the member's id (the MD5 of the address Mailchimp holds); when the
        canonical email differs from that address (a typo corrected, a case or tag normalised), the member's own
        address is looked up, so the update reaches that member instead of adding a new one.
        """
        email, member = str(record.get("email") or ""), record.get("source_id")
        if not member or (email and subscriber_hash(email) == member):
            return email
        path = f"/lists/{self.settings.list_id}/members/{member}"
        found = self.http.get_json(path, params={"fields": "email_address"}, call="GET /lists/{list_id}/members/{id}")
        return str((found or {}).get("email_address") or email)

    def _consent_batch(self, batch: list[tuple[str, str, str]]) -> dict[str, WriteResult]:
        members = [{"email_address": email, "status": status} for _, email, status in batch]
        body = {"members": members, "update_existing": True}
        try:
            answer = self.http.post_json(f"/lists/{self.settings.list_id}", body, call="POST /lists/{list_id}") or {}
        except ApiError as error:
            return {key: WriteResult(key, "failed", error=str(error), retryable=error.retryable) for key, _, _ in batch}
        refused = {
            str(item.get("email_address", "")).lower(): str(item.get("error") or "refused by Mailchimp")
            for item in answer.get("errors") or []
            if isinstance(item, dict)
        }
        results = {}
        for key, email, _ in batch:
            reason = refused.get(email.lower())
            results[key] = (
                WriteResult(key, "failed", error=reason)
                if reason
                else WriteResult(key, "applied", vendor_id=subscriber_hash(email))
            )
        return results

    def _write_tags(self, record: dict[str, Any]) -> WriteResult:
        """One member's tags set active or inactive (POST /lists/{list_id}/members/{hash}/tags)."""
        key, email, tags = str(record.get("key")), record.get("email"), record.get("tags")
        if not email or not isinstance(tags, dict) or not tags:
            return WriteResult(key, "skipped", error="needs an email and tags as {name: true/false}")
        member = subscriber_hash(str(email))
        body = {
            "tags": [{"name": name, "status": "active" if on else "inactive"} for name, on in sorted(tags.items())],
            "is_syncing": False,
        }
        path = f"/lists/{self.settings.list_id}/members/{member}/tags"
        try:
            self.http.request("POST", path, json=body, call="POST /lists/{list_id}/members/{subscriber_hash}/tags")
        except ApiError as error:
            return WriteResult(key, "failed", error=str(error), retryable=error.retryable)
        return WriteResult(key, "applied", vendor_id=member)
