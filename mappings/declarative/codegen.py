"""A target's field rules written out as one Python function, so mapping a record runs no rule interpreter.

`CompiledRule.value` walks a rule's paths and transforms in loops, for every field of every record. Here each
target's rules become the source of one function that reads the paths with nested `get` calls, calls the
transforms in turn and fills the values, exactly as the loops would; `CompiledRule` stays the reference
(and evaluates the rare rules written out here as one call: `item.` paths, `join`).

The generated text holds no value from the mapping file: names of fields and path parts go in as string
literals through `repr`, everything else (transforms, arguments, constants, defaults) is passed to a factory,
so one source text serves every mapping of the same shape and the function is built once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from canalis.mappings.declarative.compiled import CompiledRule, _step
from canalis.mappings.declarative.transforms import TransformError

Evaluator = Callable[[dict[str, Any], Any, Callable[[str], Any]], tuple[dict[str, Any], dict[str, Any] | None]]


class FieldFailure(Exception):
    """A field that stops the record: its transform failed (not flagged) or its required value is missing."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: its constants may be dictionaries
class TargetCode:
    """The source of a target's evaluator factory and the values it is built with (picklable)."""

    source: str
    constants: tuple[Any, ...]

    def build(self) -> Evaluator:
        """The evaluator: `(raw, item, context_value) -> (values, invalid fields or None)`."""
        return _factory(self.source)(*self.constants)


def target_code(rules: list[tuple[str, CompiledRule]]) -> TargetCode:
    """Write out the evaluator of one target's rules."""
    constants: list[Any] = []

    def constant(value: Any) -> str:
        constants.append(value)
        return f"c{len(constants) - 1}"

    body: list[str] = []
    for field, rule in rules:
        body.extend(_rule_lines(field, rule, constant))
    names = ", ".join(f"c{index}" for index in range(len(constants)))
    lines = [
        f"def make({names}):",
        "    def evaluate(raw, item, context_value):",
        "        values = {}",
        "        invalid = None",
        *(f"        {line}" for line in body),
        "        return values, invalid",
        "    return evaluate",
    ]
    return TargetCode("\n".join(lines), tuple(constants))


def _rule_lines(field: str, rule: CompiledRule, constant: Callable[[Any], str]) -> list[str]:
    name = repr(field)
    lines = [f"# {field}"]
    if rule.single is not None:
        lines.extend(_path_lines(rule.single))
    elif rule.const is not None:
        lines.append(f"v = {constant(rule.const)}")
    elif rule.context is not None:
        lines.append(f"v = context_value({rule.context!r})")
    elif rule.join is None and rule.paths and not any(from_item for from_item, _ in rule.paths):
        lines.extend(_first_of_lines([parts for _, parts in rule.paths]))
    else:  # item paths or a join: the rule reads its source itself
        lines.append(f"v = {constant(rule)}.source_value(raw, item, context_value)")
    if rule.default is not None:  # an empty value takes the default, which is never empty
        finish = ["if v is None or v == '':", f"    v = {constant(rule.default)}", f"values[{name}] = v"]
    else:
        finish = [
            "if v is None or v == '':",
            f"    raise FieldFailure({name}, 'required value is missing')" if rule.required else "    pass",
            "else:",
            f"    values[{name}] = v",
        ]
    if not rule.calls:
        return lines + finish
    calls: list[str] = []
    for depth, (function, args) in enumerate(rule.calls):
        call = f"{constant(function)}(v, **{constant(args)})" if args else f"{constant(function)}(v)"
        calls.extend("    " * depth + text for text in ("if v is not None and not v == '':", f"    v = {call}"))
    if rule.flag:
        failure = f"    invalid = _flag(invalid, {name}, {constant(rule)}, raw, item, error)"
    else:
        failure = f"    raise FieldFailure({name}, _reason(error)) from None"
    return [
        *lines,
        "try:",
        *(f"    {line}" for line in calls),
        "except Exception as error:",  # whatever a transform raises on a value, it fails that value only
        failure,
        "else:",
        *(f"    {line}" for line in finish),
    ]


def _first_of_lines(paths: list[tuple[str, ...]]) -> list[str]:
    """Read several paths as CompiledRule.raw_value does: the first value that is neither None nor empty."""
    lines = _path_lines(paths[0])
    for depth, parts in enumerate(paths[1:]):
        indent = "    " * depth
        lines.append(f"{indent}if v is None or v == '':")
        lines.extend(f"{indent}    {line}" for line in _path_lines(parts))
    return lines


def _path_lines(parts: tuple[str, ...]) -> list[str]:
    """Read a path as CompiledRule.value does: dictionaries by key, lists by index, stop at the first None."""
    first, *rest = parts
    lines = [f"v = raw.get({first!r}) if type(raw) is dict else _step(raw, {first!r})"]
    for depth, part in enumerate(rest):
        indent = "    " * depth
        lines.append(f"{indent}if v is not None:")
        lines.append(f"{indent}    v = v.get({part!r}) if type(v) is dict else _step(v, {part!r})")
    return lines


def _flag(
    invalid: dict[str, Any] | None, field: str, rule: CompiledRule, raw: dict[str, Any], item: Any, error: Exception
) -> dict[str, Any]:
    """Record a flagged field's raw value and reason; the field is left out of the record."""
    invalid = {} if invalid is None else invalid
    invalid[field] = {"raw": str(rule.raw_value(raw, item) or ""), "reason": _reason(error)}
    return invalid


def _reason(error: Exception) -> str:
    """Why a transform refused a value: its own words, or the kind of error a transform did not expect."""
    if isinstance(error, TransformError):
        return str(error)
    return f"the value could not be transformed ({type(error).__name__}: {error})"


@lru_cache(maxsize=256)
def _factory(source: str) -> Callable[..., Evaluator]:
    scope: dict[str, Any] = {
        "_step": _step,
        "_flag": _flag,
        "_reason": _reason,
        "FieldFailure": FieldFailure,
        "TransformError": TransformError,
    }
    exec(compile(source, "<canalis mapping>", "exec"), scope)  # noqa: S102 - text written above; values are passed in
    return scope["make"]
