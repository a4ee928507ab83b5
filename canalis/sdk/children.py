"""Checks of a read record's parts: child records (order lines, rules) and numbers JSON cannot carry.

A stream's record model declares its child lists as `list[SomeModel]` fields. A child that fails its model
is taken out of the record, which lands without it, and is reported under the parent's id with its path
(`lines[3].price_unit`), so the parent shows as incomplete instead of losing the child without a word.
"""

from __future__ import annotations

import math
import types
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from math import isfinite
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError


@dataclass(frozen=True)
class BadChild:
    """A child record that failed its model: where it is and why."""

    path: str
    reason: str


@cache
def child_lists(model: type[BaseModel]) -> frozenset[tuple[str, ...]]:
    """Paths of the model's lists of records (each item validated by a model): `("lines",)`, or through nested
    objects, `("lineItems", "nodes")`."""
    return frozenset(_child_lists(model, (), 0))


def _child_lists(model: type[BaseModel], prefix: tuple[str, ...], depth: int) -> Iterator[tuple[str, ...]]:
    if depth > 4:  # records nest a few objects deep at most; this also stops self-referencing models
        return
    for name, info in model.model_fields.items():
        path = (*prefix, info.alias or name)
        for annotation in _alternatives(info.annotation):
            if get_origin(annotation) is list:
                (item,) = get_args(annotation) or (None,)
                if isinstance(item, type) and issubclass(item, BaseModel):
                    yield path
            elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
                yield from _child_lists(annotation, path, depth + 1)


def _alternatives(annotation: Any) -> tuple[Any, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return (annotation,)


def location(loc: tuple[Any, ...]) -> str:
    """A validation error's location as a path: `lines[3].price_unit`."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


Place = tuple[tuple[str, ...], int, BadChild]
"""A bad child: the path of its list, its index in the list, and what is wrong."""


def bad_children(model: type[BaseModel], error: ValidationError) -> list[Place] | None:
    """The children at fault when every error of `error` lies inside a child record; None when the parent is.

    A child with several errors is named once, by its first.
    """
    lists = child_lists(model)
    if not lists:
        return None
    found: dict[tuple[tuple[str, ...], int], BadChild] = {}
    for detail in error.errors():
        loc = tuple(detail["loc"])
        path = next(
            (p for p in lists if len(loc) > len(p) and loc[: len(p)] == p and isinstance(loc[len(p)], int)), None
        )
        if path is None:
            return None
        place = (path, int(loc[len(path)]))
        if place not in found:
            found[place] = BadChild(location(loc), detail["msg"])
    return [(path, index, child) for (path, index), child in found.items()]


def without_children(record: dict[str, Any], places: list[Place]) -> dict[str, Any]:
    """A copy of the record without the given children (the other children keep their order; the objects on
    the way to them are copied, the record read is left as it was)."""
    dropped: dict[tuple[str, ...], set[int]] = {}
    for path, index, _ in places:
        dropped.setdefault(path, set()).add(index)
    trimmed = dict(record)
    for path, indexes in dropped.items():
        holder = trimmed
        for part in path[:-1]:
            holder[part] = dict(holder[part])
            holder = holder[part]
        holder[path[-1]] = [child for position, child in enumerate(holder[path[-1]]) if position not in indexes]
    return trimmed


def non_finite(record: Any) -> tuple[str, float] | None:
    """The first NaN or infinite number in a decoded record, with its path; None when there is none.

    JSON has no such numbers (encoders write them as null): a record holding one is refused, not stored blank.
    Every record read goes through this, so the usual case (none) is a plain loop; the path is looked for only
    when there is one.
    """
    if type(record) not in (dict, list):
        return next(_non_finite(record, ""), None)
    stack = [record]
    while stack:
        value = stack.pop()
        for item in value.values() if type(value) is dict else value:
            kind = type(item)
            if kind is float:
                if not isfinite(item):
                    return next(_non_finite(record, ""), None)
            elif kind is dict or kind is list:
                stack.append(item)
    return None


def _non_finite(value: Any, path: str) -> Iterator[tuple[str, float]]:
    kind = type(value)
    if kind is float:
        if not math.isfinite(value):
            yield path or "(record)", value
    elif kind is dict:
        for key, item in value.items():
            if type(item) in _CONTAINERS_AND_FLOAT:
                yield from _non_finite(item, f"{path}.{key}" if path else str(key))
    elif kind is list:
        for index, item in enumerate(value):
            if type(item) in _CONTAINERS_AND_FLOAT:
                yield from _non_finite(item, f"{path}[{index}]")


_CONTAINERS_AND_FLOAT = frozenset((float, dict, list))


def spelled_out(value: Any) -> Any:
    """The value with NaN and infinities written as text ("nan", "inf"), so that storing it as JSON keeps them."""
    kind = type(value)
    if kind is float and not math.isfinite(value):
        return repr(value)
    if kind is dict:
        return {key: spelled_out(item) for key, item in value.items()}
    if kind is list:
        return [spelled_out(item) for item in value]
    return value
