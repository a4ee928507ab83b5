"""HubSpot API calls and paging over the SDK's HttpClient.

Canalis talks to HubSpot through `canalis.sdk.http.HttpClient` rather than `hubspot-api-client`: the SDK
client brings the retries (429 Retry-After, 5xx, dropped connections), the shared rate limiter and the secret
redaction every connector relies on, and reading plain JSON is several times faster than building the official
client's typed models for each record, which matters for portals with hundreds of thousands of contacts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from canalis.sdk import ApiError, ConnectorError, HttpClient

SYSTEM = "hubspot"
SEARCH_WINDOW = 10_000  # HubSpot's search stops at 10,000 results per query
BATCH_SIZE = 100
ASSOCIATION_BATCH_SIZE = 1000
EVENTS_PAGE_SIZE = 1000


@dataclass(frozen=True)
class ObjectPage:
    """One page of CRM objects and the token of the next one (None on the last page)."""

    results: list[dict[str, Any]]
    after: str | None
    total: int | None = None


@dataclass(frozen=True)
class EventsPage:
    """One page of the email events feed."""

    events: list[dict[str, Any]]
    offset: str | None
    has_more: bool


class HubSpotClient:
    """The HubSpot calls the connector makes, one method per endpoint."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http

    def __repr__(self) -> str:
        return f"HubSpotClient({self.http!r})"

    # -- CRM objects -------------------------------------------------------------------------------

    def list_page(
        self,
        object_type: str,
        properties: list[str],
        *,
        after: str | None,
        limit: int,
        associations: tuple[str, ...] = (),
    ) -> ObjectPage:
        """One page of `GET /crm/v3/objects/{type}` in HubSpot's id order."""
        params: dict[str, Any] = {"limit": limit, "properties": ",".join(properties), "archived": "false"}
        if associations:
            params["associations"] = ",".join(associations)
        if after:
            params["after"] = after
        body = self.http.get_json(f"/crm/v3/objects/{object_type}", params=params, call=f"list {object_type}")
        return ObjectPage(_results(body, "results"), _next_after(body))

    def archived(self, object_type: str, *, limit: int) -> Iterator[dict[str, Any]]:
        """Every archived object of a type (`GET /crm/v3/objects/{type}?archived=true`), page by page."""
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": limit, "archived": "true", "properties": "hs_object_id"}
            if after:
                params["after"] = after
            body = self.http.get_json(
                f"/crm/v3/objects/{object_type}", params=params, call=f"list archived {object_type}"
            )
            yield from _results(body, "results")
            after = _next_after(body)
            if after is None:
                return

    def gdpr_delete(self, object_id: str) -> None:
        """Delete a contact for good (`POST /crm/v3/objects/contacts/gdpr-delete`); 204 also when it is gone."""
        self.http.request(
            "POST",
            "/crm/v3/objects/contacts/gdpr-delete",
            json={"objectId": object_id},
            call="gdpr-delete contacts",
            ok_statuses=(204, 404),
        )

    def search_page(
        self, object_type: str, properties: list[str], *, since: str | None, after: int, limit: int
    ) -> ObjectPage:
        """One page of objects modified at or after `since`, oldest first."""
        body: dict[str, Any] = {
            "sorts": [{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
            "properties": properties,
            "limit": limit,
        }
        if since is not None:
            filters = [{"propertyName": "hs_lastmodifieddate", "operator": "GTE", "value": since}]
            body["filterGroups"] = [{"filters": filters}]
        if after:
            body["after"] = str(after)
        answer = self.http.post_json(f"/crm/v3/objects/{object_type}/search", body, call=f"search {object_type}")
        total = answer.get("total") if isinstance(answer, dict) else None
        return ObjectPage(_results(answer, "results"), _next_after(answer), total if isinstance(total, int) else None)

    def batch_read(
        self, object_type: str, ids: list[str], properties: list[str], *, id_property: str | None = None
    ) -> list[dict[str, Any]]:
        """Objects by id (or by a unique property), in calls of 100; ids HubSpot does not know are left out."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), BATCH_SIZE):
            body: dict[str, Any] = {
                "inputs": [{"id": value} for value in ids[start : start + BATCH_SIZE]],
                "properties": properties,
            }
            if id_property:
                body["idProperty"] = id_property
            answer = self.http.post_json(
                f"/crm/v3/objects/{object_type}/batch/read", body, call=f"batch read {object_type}"
            )
            found.extend(_results(answer, "results"))
        return found

    def batch_upsert(self, object_type: str, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """Create or update up to 100 objects by a unique property; the answer may be a 207 with `errors`."""
        if len(inputs) > BATCH_SIZE:
            raise ConnectorError(f"{SYSTEM}: at most {BATCH_SIZE} inputs per batch upsert, got {len(inputs)}")
        answer = self.http.post_json(
            f"/crm/v3/objects/{object_type}/batch/upsert", {"inputs": inputs}, call=f"batch upsert {object_type}"
        )
        if not isinstance(answer, dict):
            raise ApiError(
                system=SYSTEM, call=f"batch upsert {object_type}", status=200, detail="answer is not an object"
            )
        return answer

    def get_object(self, object_type: str, object_id: str, properties: list[str]) -> dict[str, Any] | None:
        """One object by id, None when HubSpot has no such object."""
        try:
            answer = self.http.get_json(
                f"/crm/v3/objects/{object_type}/{object_id}",
                params={"properties": ",".join(properties)},
                call=f"get {object_type}",
            )
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        return answer if isinstance(answer, dict) else None

    def associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, list[str]]:
        """Ids of the `to_type` objects associated with each object (v4 batch read; 207 answers included)."""
        linked: dict[str, list[str]] = {}
        for start in range(0, len(ids), ASSOCIATION_BATCH_SIZE):
            inputs = [{"id": value} for value in ids[start : start + ASSOCIATION_BATCH_SIZE]]
            answer = self.http.post_json(
                f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                {"inputs": inputs},
                call=f"read {from_type} to {to_type} associations",
            )
            for item in _results(answer, "results"):
                source = str((item.get("from") or {}).get("id", ""))
                linked[source] = [str(to["toObjectId"]) for to in item.get("to") or [] if "toObjectId" in to]
        return linked

    # -- marketing email ---------------------------------------------------------------------------

    def email_events(self, *, start_ms: int | None, end_ms: int, offset: str | None) -> EventsPage:
        """One page of the email events feed between two epoch-millisecond times."""
        params: dict[str, Any] = {"endTimestamp": end_ms, "limit": EVENTS_PAGE_SIZE}
        if start_ms is not None:
            params["startTimestamp"] = start_ms
        if offset:
            params["offset"] = offset
        body = self.http.get_json("/email/public/v1/events", params=params, call="email events")
        if not isinstance(body, dict):
            raise ApiError(system=SYSTEM, call="email events", status=200, detail="answer is not an object")
        return EventsPage(_results(body, "events"), body.get("offset"), bool(body.get("hasMore")))

    def subscription_definitions(self) -> list[dict[str, Any]]:
        """The portal's email subscription types."""
        body = self.http.get_json("/communication-preferences/v3/definitions", call="subscription definitions")
        return _results(body, "subscriptionDefinitions")

    def subscription_statuses(self, email: str) -> dict[str, dict[str, Any]]:
        """An email's status per subscription id."""
        body = self.http.get_json(f"/communication-preferences/v3/status/email/{email}", call="subscription status")
        return {str(item.get("id")): item for item in _results(body, "subscriptionStatuses")}

    def change_subscription(
        self, email: str, subscription_id: str, *, subscribe: bool, legal_basis: str | None
    ) -> dict[str, Any]:
        """Subscribe or unsubscribe an email to one subscription type."""
        body: dict[str, Any] = {"emailAddress": email, "subscriptionId": subscription_id}
        if subscribe and legal_basis:
            body |= {"legalBasis": legal_basis, "legalBasisExplanation": "Consent recorded in Canalis"}
        action = "subscribe" if subscribe else "unsubscribe"
        return self.http.post_json(f"/communication-preferences/v3/{action}", body, call=action) or {}

    def iter_search(
        self, object_type: str, properties: list[str], since: str | None, limit: int
    ) -> Iterator[list[dict[str, Any]]]:
        """Pages of objects modified since `since`, oldest first, across as many 10,000-result windows as needed.

        When a window is about to fill, the search starts again from the last modification time seen; the
        objects already read at exactly that time are skipped so none is yielded twice.
        """
        window_since, offset = since, 0
        seen_at_last: set[str] = set()
        last_stamp: str | None = None
        while True:
            page = self.search_page(object_type, properties, since=window_since, after=offset, limit=limit)
            fresh = [
                item
                for item in page.results
                if not (item.get("updatedAt") == last_stamp and item.get("id") in seen_at_last)
            ]
            for item in page.results:
                stamp = item.get("updatedAt")
                if stamp != last_stamp:
                    last_stamp, seen_at_last = stamp, set()
                seen_at_last.add(str(item.get("id")))
            if fresh:
                yield fresh
            if page.after is None:
                return
            offset = int(page.after)
            if offset + limit > SEARCH_WINDOW:
                if last_stamp is None or last_stamp == window_since:
                    raise ConnectorError(
                        f"{SYSTEM}: more than {SEARCH_WINDOW} {object_type} share the modification time "
                        f"{window_since}; the search API cannot page past them"
                    )
                window_since, offset = last_stamp, 0


def _results(body: Any, key: str) -> list[dict[str, Any]]:
    """The list under `key` in an answer (empty when absent)."""
    if not isinstance(body, dict):
        return []
    value = body.get(key)
    return value if isinstance(value, list) else []


def _next_after(body: Any) -> str | None:
    """`paging.next.after` of an answer, or None on the last page."""
    if not isinstance(body, dict):
        return None
    after = ((body.get("paging") or {}).get("next") or {}).get("after")
    return str(after) if after not in (None, "") else None
