"""Field rules prepared once per mapping, so mapping a record does no parsing of paths or transform names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from canalis.mappings.declarative.spec import FieldRule
from canalis.mappings.declarative.transforms import TRANSFORMS


class CompiledRule:
    """A field rule with its paths split and its transforms looked up."""

    __slots__ = ("calls", "const", "context", "default", "flag", "join", "paths", "required", "single")

    def __init__(self, rule: FieldRule, *, has_items: bool = False) -> None:
        # `item.x` reads the current list item only in a target with `each`; elsewhere it is an ordinary path
        self.paths: list[tuple[bool, tuple[str, ...]]] = [
            (True, tuple(path.removeprefix("item.").split(".")))
            if has_items and path.startswith("item.")
            else (False, tuple(path.split(".")))
            for path in rule.source_paths()
        ]
        self.const = rule.const
        self.context = rule.context
        self.join = rule.join
        # the usual rule: one path into the record and nothing else to choose from (read without a loop of paths)
        plain = self.const is None and self.context is None and self.join is None
        self.single = self.paths[0][1] if plain and len(self.paths) == 1 and not self.paths[0][0] else None
        self.calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
            _prepared(TRANSFORMS[call.name], call.args) for call in rule.transforms
        ]
        self.default = rule.default
        self.required = rule.required
        self.flag = rule.on_invalid == "flag"

    def raw_value(self, raw: dict[str, Any], item: Any) -> Any:
        """The first non-empty source value, before transforms."""
        for from_item, parts in self.paths:
            current = item if from_item else raw
            for part in parts:  # dictionaries are the usual case; lists and the rest go through _step
                current = current.get(part) if type(current) is dict else _step(current, part)
                if current is None:
                    break
            if current is not None and current != "":
                return current
        return None

    def source_value(self, raw: dict[str, Any], item: Any, context_value: Callable[[str], Any]) -> Any:
        """The field's value before transforms: from the source paths, the constant or the context."""
        single = self.single
        if single is not None:
            value = raw
            for part in single:
                value = value.get(part) if type(value) is dict else _step(value, part)
                if value is None:
                    break
            return value
        if self.const is not None:
            return self.const
        if self.context is not None:
            return context_value(self.context)
        if self.join is not None:
            parts = [_follow(item if from_item else raw, path) for from_item, path in self.paths]
            return self.join.join(str(part).strip() for part in parts if part is not None and part != "") or None
        return self.raw_value(raw, item)

    def value(self, raw: dict[str, Any], item: Any, context_value: Callable[[str], Any]) -> Any:
        """The field's value: source, constant or context, through the transforms, else the default."""
        value = self.source_value(raw, item, context_value)
        for function, args in self.calls:
            if value is None or value == "":
                break
            value = function(value, **args) if args else function(value)
        if value is None or value == "":
            return self.default
        return value


def _prepared(function: Callable[..., Any], args: dict[str, Any]) -> tuple[Callable[..., Any], dict[str, Any]]:
    """A transform with its arguments, after its own `prepare` hook (work done once per mapping, not per value)."""
    prepare = getattr(function, "prepare", None)
    return function, (prepare(args) if prepare is not None else args)


def _follow(current: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
        if current is None:
            return None
    return current


def _step(current: Any, part: str) -> Any:
    if isinstance(current, dict):
        return current.get(part)
    if isinstance(current, list) and part.isdigit() and int(part) < len(current):
        return current[int(part)]
    return None
