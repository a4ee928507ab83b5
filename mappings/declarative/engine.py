"""Applying a mapping to raw records: canonical records out, or a MappingError naming source, field and record."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import ValidationError

from canalis.canonical.entities import ENTITIES
from canalis.canonical.records import CanonicalRecord
from canalis.mappings.declarative.codegen import Evaluator, FieldFailure, TargetCode, target_code
from canalis.mappings.declarative.compiled import CompiledRule
from canalis.mappings.declarative.spec import MappingSpec, Target
from canalis.sdk.base import dig
from canalis.sdk.errors import MappingError


@dataclass(frozen=True)
class MappingContext:
    """Values a mapping may read besides the record: the connection, its channel and the stream."""

    connection: str
    channel: str | None
    stream: str

    def value(self, name: str) -> Any:
        if name not in ("connection", "channel", "stream"):
            raise KeyError(name)
        return getattr(self, name)


class Mapped(NamedTuple):
    """One canonical record produced from a raw record, with the object name for its key."""

    entity: str
    object: str
    record: CanonicalRecord


class ChildFailure(NamedTuple):
    """A list item (an order line, a programme's rule) that did not map; its record maps without it."""

    entity: str
    path: str
    error: MappingError


class MappedParts(NamedTuple):
    """What a raw record gave: its canonical records, and the list items that did not map (the record is then
    incomplete)."""

    records: list[Mapped]
    child_failures: list[ChildFailure]


class Mapper:
    """Maps raw records of one connection's streams with a mapping file."""

    def __init__(self, spec: MappingSpec, *, connection: str, channel: str | None = None) -> None:
        self.spec = spec
        self.connection = connection
        self.channel = channel
        self._contexts: dict[str, MappingContext] = {}
        self._known = {name: frozenset(stream.known_fields()) for name, stream in spec.streams.items() if stream.strict}
        # per stream, each target with its compiled rules written out as one function's source (plain data and
        # module functions: a Mapper pickles, and a worker process builds the functions once)
        self._targets: dict[str, list[tuple[Target, TargetCode]]] = {
            name: [(target, target_code(_compiled_rules(target))) for target in stream.targets]
            for name, stream in spec.streams.items()
        }
        self._evaluators: dict[TargetCode, Evaluator] = {}

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_evaluators"] = {}  # functions made from source text do not pickle; they are made again
        return state

    def streams_for(self, entity: str) -> list[str]:
        """Streams whose mapping fills `entity`."""
        return [name for name, stream in self.spec.streams.items() if any(t.entity == entity for t in stream.targets)]

    def entities(self) -> set[str]:
        """Every entity this mapping fills."""
        return {target.entity for stream in self.spec.streams.values() for target in stream.targets}

    def map_record(self, stream: str, raw: dict[str, Any], *, entity: str | None = None) -> list[Mapped]:
        """Map one raw record to its canonical records (only `entity` when given); raises MappingError, also when
        only one of its list items does not map."""
        parts = self.map_record_parts(stream, raw, entity=entity)
        if parts.child_failures:
            raise parts.child_failures[0].error
        return parts.records

    def map_record_parts(self, stream: str, raw: dict[str, Any], *, entity: str | None = None) -> MappedParts:
        """Map one raw record to its canonical records (only `entity` when given), each list item on its own.

        A list item (`each:`) that does not map is returned as a ChildFailure naming its path (`lines[3].price_unit`)
        and the record's other records are kept; any other failure raises MappingError for the whole record.
        """
        mapping = self.spec.streams.get(stream)
        if mapping is None:
            return MappedParts([], [])
        record_key = _record_label(raw)
        context = self._contexts.get(stream)
        if context is None:
            context = self._contexts[stream] = MappingContext(self.connection, self.channel, stream)
        if mapping.strict:
            _check_unknown_fields(self._known[stream], raw, self.connection, stream, record_key)
        results: list[Mapped] = []
        failures: list[ChildFailure] = []
        for target, code in self._targets[stream]:
            if entity is not None and target.entity != entity:
                continue
            if target.when and any(str(dig(raw, path)) != str(value) for path, value in target.when.items()):
                continue
            evaluate = self._evaluators.get(code)
            if evaluate is None:
                evaluate = self._evaluators[code] = code.build()
            if target.each is None:
                results.append(self._map_target(target, evaluate, raw, None, context, record_key))
                continue
            for item in _items(target, raw, self.connection, stream, record_key):
                try:
                    results.append(self._map_target(target, evaluate, raw, item, context, record_key))
                except MappingError as error:
                    path = _child_path(target, item["_index"], error.field)
                    failure = MappingError(
                        error.reason, source=self.connection, stream=stream, field=path, record_key=record_key
                    )
                    failures.append(ChildFailure(target.entity, path, failure))
        return MappedParts(results, failures)

    def _map_target(
        self,
        target: Target,
        evaluate: Evaluator,
        raw: dict[str, Any],
        item: Any,
        context: MappingContext,
        record_key: str,
    ) -> Mapped:
        try:
            values, invalid = evaluate(raw, item, context.value)
        except FieldFailure as failure:
            raise MappingError(
                failure.message,
                source=self.connection,
                stream=context.stream,
                field=failure.field,
                record_key=record_key,
            ) from None
        entity = ENTITIES[target.entity]
        if invalid and "attributes" in entity.record_type.model_fields:
            attributes = dict(values.get("attributes") or {})
            attributes["invalid_fields"] = invalid
            values["attributes"] = attributes
        try:  # what model_validate does, without its wrapper call
            record = entity.record_type.__pydantic_validator__.validate_python(values)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or None
            raise MappingError(
                first["msg"],
                source=self.connection,
                stream=context.stream,
                field=field,
                record_key=record_key,
            ) from None
        return Mapped(entity=target.entity, object=target.object or context.stream, record=record)


def _compiled_rules(target: Target) -> list[tuple[str, CompiledRule]]:
    return [(field, CompiledRule(rule, has_items=target.each is not None)) for field, rule in target.fields.items()]


def _record_label(raw: dict[str, Any]) -> str:
    for key in ("_key", "id", "Id"):
        if raw.get(key) not in (None, ""):
            return str(raw[key])
    if "_source_file" in raw:
        return f"{raw['_source_file']}:{raw.get('_line')}"
    return "?"


def _check_unknown_fields(known: frozenset[str], raw: dict[str, Any], source: str, stream: str, key: str) -> None:
    extra = raw.keys() - known
    if not extra:
        return
    unknown = sorted(name for name in extra if not name.startswith("_"))
    if unknown:
        hint = ""
        meant = difflib.get_close_matches(unknown[0], sorted(known - raw.keys()), n=1)
        if meant:
            hint = f"; the mapping reads '{meant[0]}', which this record does not have: is that a typo of it?"
        raise MappingError(
            f"unknown source field '{unknown[0]}' (the mapping is strict; map it or list it under 'ignore'){hint}",
            source=source,
            stream=stream,
            field=unknown[0],
            record_key=key,
        )


def _child_path(target: Target, index: int, field: str | None) -> str:
    """Where a list item's failure is, in source terms: `lines[3].price_unit` (the item field its rule reads, else
    the canonical field; the item alone when the whole item is at fault)."""
    at = f"{target.each}[{index}]"
    if not field:
        return at
    rule = target.fields.get(field)
    item_paths = [path for path in rule.source_paths() if path.startswith("item.")] if rule is not None else []
    return f"{at}.{item_paths[0].removeprefix('item.')}" if item_paths else f"{at}.{field}"


def _items(target: Target, raw: dict[str, Any], source: str, stream: str, record_key: str) -> Iterator[Any]:
    items = dig(raw, target.each or "")
    if isinstance(items, dict) and isinstance(items.get("edges"), list):  # GraphQL connections
        items = [edge.get("node", edge) for edge in items["edges"]]
    if isinstance(items, dict) and isinstance(items.get("nodes"), list):
        items = items["nodes"]
    if items is not None and not isinstance(items, list):
        raise MappingError(
            f"'{target.each}' should be a list, got {type(items).__name__}",
            source=source,
            stream=stream,
            field=target.each,
            record_key=record_key,
        )
    for index, item in enumerate(items or []):
        yield {"_index": index, **item} if isinstance(item, dict) else {"_index": index, "value": item}
