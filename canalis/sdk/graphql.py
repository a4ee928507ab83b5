"""GraphQLStream: a Relay-style GraphQL connection declared as a form, read by the SDK.

    class Customers(GraphQLStream):
        name = "customers"
        primary_key = "id"
        cursor_field = "updatedAt"
        connection_path = "data.customers"         # the connection: edges (or nodes) and pageInfo
        filter_variable = "query"                  # takes the lower bound of an incremental read
        filter_template = "updated_at:>='{since}'"
        query = '''query($first: Int!, $after: String, $query: String) {
          customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
            pageInfo { hasNextPage endCursor } nodes { id email updatedAt }
          }
        }'''

Pages follow `pageInfo.endCursor` while `pageInfo.hasNextPage`; errors in a 200 answer raise an ApiError naming
the stream. A connector whose API signals throttling inside a 200 answer returns `graphql_throttle` from its
`throttle_detector()`, so that such answers are waited out and retried like a 429.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from canalis.sdk.errors import ApiError
from canalis.sdk.pagination import dig
from canalis.sdk.rest import Partition, Partitions, fill, format_bound, read_declared, template_values
from canalis.sdk.state import StreamState
from canalis.sdk.streams import Page, Stream

if TYPE_CHECKING:
    from canalis.sdk.base import Connector
    from canalis.sdk.http import HttpClient

THROTTLED_CODES = frozenset({"THROTTLED", "RATE_LIMITED", "TOO_MANY_REQUESTS"})
THROTTLE_WAIT_SECONDS = 1.0


class GraphQLStream(Stream):
    """A stream read from one GraphQL connection, page by page, by the SDK."""

    query: ClassVar[str]
    connection_path: ClassVar[str]
    endpoint: ClassVar[str] = ""
    """Path of the GraphQL endpoint under the connector's base URL (empty: the base URL itself)."""
    page_size: ClassVar[int] = 100
    variables: ClassVar[Mapping[str, Any]] = {}
    filter_variable: ClassVar[str | None] = None
    filter_template: ClassVar[str] = "{since}"
    cursor_format: ClassVar[str] = "iso_z"
    sorted_by_cursor: ClassVar[bool] = True
    partitions: ClassVar[Partitions | None] = None

    @classmethod
    def prepare(cls, connector: Connector, records: list[Any], partition: Partition) -> list[Any]:
        """Turn one page's nodes into the stream's records (as they are by default)."""
        return records

    @classmethod
    def pages(cls, connector: Connector, state: StreamState) -> Iterator[Page]:
        http: HttpClient = connector.http  # type: ignore[attr-defined]
        call = f"graphql {cls.name}"

        def fetch(partition: Partition, position: dict[str, Any], since: str | None) -> tuple[list[Any], Any]:
            variables = fill(dict(cls.variables), template_values(connector, partition), connector, cls)
            variables = {**variables, "first": cls.page_size, "after": position.get("after")}
            if since is not None and cls.filter_variable:
                bound = format_bound(since, cls.cursor_format, cls.cursor_kind)
                variables[cls.filter_variable] = cls.filter_template.format(since=bound)
            body = http.post_json(cls.endpoint, {"query": cls.query, "variables": variables}, call=call)
            _raise_errors(http.system, call, body)
            connection = dig(body, cls.connection_path) or {}
            nodes = connection.get("nodes")
            if nodes is None:
                nodes = [edge.get("node") for edge in connection.get("edges") or [] if isinstance(edge, dict)]
            info = connection.get("pageInfo") or {}
            following = {"after": info["endCursor"]} if info.get("hasNextPage") and info.get("endCursor") else None
            return cls.prepare(connector, list(nodes), partition), following

        return read_declared(cls, connector, state, fetch=fetch, first_position={"after": None})


def graphql_throttle(response: Any) -> float | None:
    """Seconds to wait when a GraphQL answer's errors say the query was throttled, else None."""
    try:
        body = response.json()
    except ValueError:
        return None
    errors = body.get("errors") if isinstance(body, dict) else None
    codes = {
        str((item.get("extensions") or {}).get("code", "")).upper() for item in errors or [] if isinstance(item, dict)
    }
    return THROTTLE_WAIT_SECONDS if codes & THROTTLED_CODES else None


def _raise_errors(system: str, call: str, body: Any) -> None:
    """An ApiError for the `errors` of a GraphQL answer."""
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return
    messages = [str(item.get("message", item)) if isinstance(item, dict) else str(item) for item in errors]
    raise ApiError(system=system, call=call, status=200, detail="; ".join(messages)[:300])
