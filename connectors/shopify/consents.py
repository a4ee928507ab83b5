"""Consent writes: a customer's email marketing state, through customerEmailMarketingConsentUpdate.

Each batch first reads the customers' current consent (by id, else by email) and writes only those whose state,
read the way the `customers` stream maps it, differs. Setting a state is idempotent by nature (Shopify takes no
idempotency key on this mutation), so a retried call cannot change anything twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from canalis.connectors.shopify import queries
from canalis.connectors.shopify.client import ShopifyClient
from canalis.connectors.shopify.writing import _failed, _key, _search_value, chunks
from canalis.sdk import ApiError, WriteResult

CUSTOMERS_PER_READ = 100
UPDATES_PER_REQUEST = 25  # each mutation costs 10 points
EMAILS_PER_SEARCH = 25
STATE_OF = {"granted": "SUBSCRIBED", "denied": "UNSUBSCRIBED"}
# How the mapping of the `customers` stream reads each marketing state (the others read as unknown).
READS_AS = {"SUBSCRIBED": "granted", "UNSUBSCRIBED": "denied", "REDACTED": "denied", "INVALID": "denied"}
LOCKED = ("REDACTED", "INVALID")


def customer_gid(source_id: Any) -> str | None:
    """The customer gid of a source id given as a gid or as Shopify's numeric id."""
    text = str(source_id or "").strip()
    if text.isdigit():
        return f"gid://shopify/Customer/{text}"
    if text.startswith("gid://shopify/Customer/") and text.rsplit("/", 1)[-1].isdigit():
        return text
    return None


def _email(record: dict[str, Any]) -> str | None:
    value = str(record.get("email") or "").strip().lower()
    return value if "@" in value else None


class ConsentWriter:
    """Writes canonical consent records to one shop's customers."""

    def __init__(self, client: ShopifyClient, now: Callable[[], datetime] | None = None) -> None:
        self.client = client
        self.now = now or (lambda: datetime.now(UTC))

    def write(self, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        """One result per record, in order, in batches of 100 customers."""
        for batch in chunks(records, CUSTOMERS_PER_READ):
            yield from self._batch(batch)

    def _batch(self, batch: list[dict[str, Any]]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        wanted: dict[int, str] = {}
        for index, record in enumerate(batch):
            problem = _problem(record)
            if problem is not None:
                results[index] = WriteResult(_key(record), "skipped", error=problem)
            elif customer_gid(record.get("source_id")) is None and _email(record) is None:
                results[index] = _failed(record, "consent record has neither a Shopify customer id nor an email")
            else:
                wanted[index] = str(record["status"])
        try:
            customers = self._customers({index: batch[index] for index in wanted})
        except ApiError as error:
            results |= {index: _failed(batch[index], str(error), retryable=error.retryable) for index in wanted}
            wanted = {}
        updates: list[tuple[int, str, str]] = []
        for index, status in wanted.items():
            record = batch[index]
            customer = customers.get(index)
            if customer is None:
                where = record.get("source_id") or record.get("email")
                results[index] = _failed(record, f"no Shopify customer {where}")
                continue
            current = (customer.get("emailMarketingConsent") or {}).get("marketingState")
            if READS_AS.get(str(current)) == status:
                results[index] = WriteResult(_key(record), "unchanged", vendor_id=customer["id"])
            elif not customer.get("email"):  # nothing to hold an email consent: not a vendor failure
                error = f"Shopify customer {customer['id']} has no email address"
                results[index] = WriteResult(_key(record), "skipped", vendor_id=customer["id"], error=error)
            elif current in LOCKED:
                results[index] = _failed(record, f"the email of {customer['id']} is {current}; it cannot be subscribed")
            else:
                updates.append((index, customer["id"], STATE_OF[status]))
        for start in range(0, len(updates), UPDATES_PER_REQUEST):
            part = updates[start : start + UPDATES_PER_REQUEST]
            results |= self._send(batch, part)
        return [results[index] for index in range(len(batch))]

    def _customers(self, wanted: dict[int, dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """Each record's customer with its consent (by id, else by email), by the record's index."""
        records = list(wanted.values())
        ids = sorted({gid for record in records if (gid := customer_gid(record.get("source_id")))})
        by_id: dict[str, dict[str, Any]] = {}
        if ids:
            nodes = self.client.execute(queries.CUSTOMER_CONSENTS, {"ids": ids}, name="customer_consents")["nodes"]
            by_id = {node["id"]: node for node in nodes if node and node.get("id")}
        emails = sorted({e for r in records if customer_gid(r.get("source_id")) is None and (e := _email(r))})
        by_email = self._by_email(emails) if emails else {}
        found: dict[int, dict[str, Any]] = {}
        for index, record in wanted.items():
            gid = customer_gid(record.get("source_id"))
            customer = by_id.get(gid) if gid else by_email.get(_email(record) or "")
            if customer is not None:
                found[index] = customer
        return found

    def _by_email(self, emails: list[str]) -> dict[str, dict[str, Any]]:
        """Customers by lower-cased email (the oldest one when several share an address)."""
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(emails), EMAILS_PER_SEARCH):
            part = emails[start : start + EMAILS_PER_SEARCH]
            variables: dict[str, Any] = {"query": " OR ".join(f"email:{_search_value(email)}" for email in part)}
            while True:
                page = self.client.execute(queries.CUSTOMERS_BY_EMAIL, variables, name="customers_by_email")
                connection = page["customers"]
                for node in connection.get("nodes") or []:
                    email = str(node.get("email") or "").lower()
                    if email in part:
                        found.setdefault(email, node)
                info = connection.get("pageInfo") or {}
                if not info.get("hasNextPage") or not info.get("endCursor"):
                    break
                variables["after"] = info["endCursor"]
        return found

    def _send(self, batch: list[dict[str, Any]], updates: list[tuple[int, str, str]]) -> dict[int, WriteResult]:
        """One request of aliased consent updates; each record gets its own user errors."""
        stamp = self.now().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        declarations, fields, variables = [], [], {}
        for number, (_index, customer, state) in enumerate(updates):
            consent: dict[str, Any] = {"marketingState": state, "consentUpdatedAt": stamp}
            if state == "SUBSCRIBED":
                consent["marketingOptInLevel"] = "SINGLE_OPT_IN"
            declarations.append(f"$c{number}: CustomerEmailMarketingConsentUpdateInput!")
            payload = queries.CONSENT_UPDATE_FIELDS
            fields.append(f"u{number}: customerEmailMarketingConsentUpdate(input: $c{number}) {{ {payload} }}")
            variables[f"c{number}"] = {"customerId": customer, "emailMarketingConsent": consent}
        document = f"mutation Consents({', '.join(declarations)}) {{ {' '.join(fields)} }}"
        try:
            data = self.client.execute(document, variables, name=f"consents_{len(updates)}")
        except ApiError as error:
            return {index: _failed(batch[index], str(error), retryable=error.retryable) for index, _, _ in updates}
        results: dict[int, WriteResult] = {}
        for number, (index, customer, _state) in enumerate(updates):
            errors = (data.get(f"u{number}") or {}).get("userErrors") or []
            if errors:
                results[index] = _failed(batch[index], "; ".join(str(error.get("message")) for error in errors))
            else:
                results[index] = WriteResult(_key(batch[index]), "applied", vendor_id=customer)
        return results


def _problem(record: dict[str, Any]) -> str | None:
    """Why a consent record is not one Shopify holds, if it is not."""
    if (record.get("purpose") or "marketing") != "marketing" or (record.get("channel") or "email") != "email":
        return "Shopify holds only email marketing consent here"
    if record.get("status") not in STATE_OF:
        return f"status '{record.get('status')}' is neither granted nor denied"
    return None
