"""The Mailchimp connector: how it authenticates and writes; the SDK does the reading from the declarations."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from canalis.sdk import ApiError, ConnectorError, HttpConnector, WriteResult
from canalis_mailchimp.settings import MailchimpSettings
from canalis_mailchimp.streams import STREAMS


class MailchimpConnector(HttpConnector):
    """Mailchimp: contacts in, email marketing consents out."""

    name = "mailchimp"
    kind = "crm"
    title = "Mailchimp"
    description = "Mailchimp contacts, read incrementally; email marketing consents written back."
    settings_model = MailchimpSettings
    streams = STREAMS
    check_path = "/me"  # the connection test: one GET

    settings: MailchimpSettings

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.api_token.get_secret_value()}"}

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        """Consents in batches of write_batch_size: one call each, one result per record."""
        if stream != "consents":
            raise ConnectorError(f"{self.name}: stream '{stream}' is read-only")
        items = list(records)
        size = self.write_batch_size(stream)
        for start in range(0, len(items), size):
            batch = items[start : start + size]
            body = {"contacts": [{"email": r.get("email"), "subscribed": r.get("status") == "granted"} for r in batch]}
            try:
                self.http.post_json("/contacts/subscriptions", body)
            except ApiError as error:
                failed = {"error": str(error), "retryable": error.retryable}
                yield from (WriteResult(str(record["key"]), "failed", **failed) for record in batch)
                continue
            yield from (WriteResult(str(record["key"]), "applied") for record in batch)
