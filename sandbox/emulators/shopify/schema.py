"""The executable schema: the SDL subset per API version, custom scalars and resolvers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import Any

from graphql import GraphQLError, GraphQLSchema, build_schema
from graphql.language import FloatValueNode, IntValueNode, StringValueNode, ValueNode

from canalis.sandbox.emulators.shopify.mutations import MUTATION_RESOLVERS, adjustment_changes
from canalis.sandbox.emulators.shopify.resolvers import QUERY_RESOLVERS, TYPE_RESOLVERS

SDL_PATH = Path(__file__).with_name("schema.graphql")
SUPPORTED_VERSIONS = ("2025-01", "2025-04", "2025-07", "2025-10", "2026-01", "2026-04", "2026-07", "2026-10")
UNSTABLE = "unstable"
_VERSION = re.compile(r"^\d{4}-(01|04|07|10)$")
_MARKER = re.compile(r"\s*#@(since|until)\((\d{4}-\d{2})\)\s*$")


def served_version(requested: str) -> str | None:
    """The version served for a requested one: retired versions fall forward to the oldest supported one."""
    if requested == UNSTABLE:
        return SUPPORTED_VERSIONS[-1]
    if not _VERSION.match(requested) or requested > SUPPORTED_VERSIONS[-1]:
        return None
    return requested if requested >= SUPPORTED_VERSIONS[0] else SUPPORTED_VERSIONS[0]


def sdl_for(version: str) -> str:
    """The SDL of one version: lines marked `#@since(v)` / `#@until(v)` kept or dropped."""
    kept = []
    for line in SDL_PATH.read_text(encoding="utf-8").splitlines():
        marker = _MARKER.search(line)
        if marker is not None:
            kind, bound = marker.groups()
            if (kind == "since" and version < bound) or (kind == "until" and version >= bound):
                if kept and kept[-1].strip().startswith('"""'):
                    kept.pop()  # the dropped line's description goes with it
                continue
            line = line[: marker.start()]
        kept.append(line)
    return "\n".join(kept)


# --- scalars -------------------------------------------------------------------------------------------------


def _datetime(value: Any) -> str:
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise GraphQLError(f"Invalid value for DateTime: {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _decimal(value: Any, name: str) -> str:
    if isinstance(value, bool) or (isinstance(value, float) and value != value):
        raise GraphQLError(f"Invalid value for {name}: {value!r}")
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise GraphQLError(f"Invalid value for {name}: {value!r}") from None
    if not number.is_finite():
        raise GraphQLError(f"Invalid value for {name}: {value!r}")
    return str(value).strip() if isinstance(value, str) else str(number)


def _unsigned(value: Any) -> str:
    number = int(str(value))
    if number < 0:
        raise GraphQLError(f"Invalid value for UnsignedInt64: {value!r}")
    return str(number)


def _literal(parse: Any) -> Any:
    def parse_literal(node: ValueNode, _variables: Any = None) -> Any:
        if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
            return parse(node.value)
        raise GraphQLError("Expected a string or number literal")

    return parse_literal


SCALARS: dict[str, tuple[Any, Any]] = {
    "DateTime": (_datetime, _datetime),
    "Money": (lambda value: _decimal(value, "Money"), lambda value: _decimal(value, "Money")),
    "Decimal": (lambda value: _decimal(value, "Decimal"), lambda value: _decimal(value, "Decimal")),
    "UnsignedInt64": (_unsigned, _unsigned),
    "URL": (str, str),
}


def _bulk(method: str) -> Any:
    def resolve(root: Any, info: Any, **args: Any) -> Any:
        return getattr(info.context["bulk_store"], method)(root, info, **args)

    return resolve


@lru_cache(maxsize=16)
def schema_for(version: str) -> GraphQLSchema:
    """The executable schema of an API version (built once per version)."""
    schema = build_schema(sdl_for(version))
    for name, (serialize, parse_value) in SCALARS.items():
        scalar = schema.type_map[name]
        scalar.serialize = serialize  # type: ignore[attr-defined]
        scalar.parse_value = parse_value  # type: ignore[attr-defined]
        scalar.parse_literal = _literal(parse_value)  # type: ignore[attr-defined]
    query = schema.query_type
    mutation = schema.mutation_type
    assert query is not None and mutation is not None
    for name, resolver in QUERY_RESOLVERS.items():
        query.fields[name].resolve = resolver
    for name, resolver in MUTATION_RESOLVERS.items():
        mutation.fields[name].resolve = resolver
    mutation.fields["bulkOperationRunQuery"].resolve = _bulk("run_query")
    mutation.fields["bulkOperationCancel"].resolve = _bulk("cancel")
    for type_name, fields in TYPE_RESOLVERS.items():
        target = schema.type_map[type_name]
        for name, resolver in fields.items():
            target.fields[name].resolve = resolver  # type: ignore[attr-defined]
    changes = schema.type_map["InventoryAdjustmentGroup"]
    changes.fields["changes"].resolve = adjustment_changes  # type: ignore[attr-defined]
    change = schema.type_map["InventoryChange"]
    change.fields["item"].resolve = lambda obj, info: info.context["access"].inventory_item(obj["item"]["id"])  # type: ignore[attr-defined]
    change.fields["location"].resolve = lambda obj, info: info.context["access"].get(  # type: ignore[attr-defined]
        "locations", obj["location"]["id"]
    )
    return schema
