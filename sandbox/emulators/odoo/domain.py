"""Odoo search domains: Polish-notation `&`, `|`, `!` over (field, operator, value) leaves, evaluated in Python."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from canalis.sandbox.emulators.odoo.errors import OdooValueError

OPERATORS = frozenset(
    {"=", "!=", "<>", ">", ">=", "<", "<=", "in", "not in", "like", "not like", "ilike", "not ilike", "=like", "=ilike"}
)
TRUE_LEAF = (1, "=", 1)
FALSE_LEAF = (0, "=", 1)

# Reads the value of a field path (dotted paths follow many2one fields) from one record.
FieldReader = Callable[[dict[str, Any], str], "FieldValue"]


@dataclass(frozen=True)
class FieldValue:
    """A record's value for a leaf: its type (from the model's schema) and the comparable value."""

    type: str
    value: Any


@dataclass(frozen=True)
class Node:
    """A parsed domain: an operator over children, or a leaf."""

    op: str  # "&", "|", "!" or "leaf"
    children: tuple[Node, ...] = ()
    leaf: tuple[Any, str, Any] | None = None


def parse_domain(domain: Any) -> Node:
    """Parse a domain list (implicit `&` between top-level terms); OdooValueError when it is malformed."""
    if domain in (None, False):
        domain = []
    if not isinstance(domain, list | tuple):
        raise OdooValueError(f"Invalid domain {domain!r}: a domain is a list of terms")
    terms = [_term(item) for item in domain]
    nodes: list[Node] = []
    position = 0
    while position < len(terms):
        node, position = _parse_at(terms, position)
        nodes.append(node)
    if not nodes:
        return Node("leaf", leaf=TRUE_LEAF)
    result = nodes[-1]
    for node in reversed(nodes[:-1]):
        result = Node("&", (node, result))
    return result


def _term(item: Any) -> str | tuple[Any, str, Any]:
    if item in ("&", "|", "!"):
        return item
    if isinstance(item, list | tuple) and len(item) == 3:
        left, operator, right = item
        if (left, operator, right) in (TRUE_LEAF, FALSE_LEAF):
            return (left, operator, right)
        if not isinstance(left, str) or not left:
            raise OdooValueError(f"Invalid leaf {list(item)!r}: the field name must be a string")
        if not isinstance(operator, str) or operator.lower() not in OPERATORS:
            raise OdooValueError(f"Invalid leaf {list(item)!r}: unknown operator {operator!r}")
        if isinstance(right, list) and all(isinstance(value, Hashable) for value in right):
            right = tuple(right)  # hashable, so that membership sets are built once per domain
        return (left, operator.lower(), right)
    raise OdooValueError(f"Invalid domain term {item!r}")


def _parse_at(terms: Sequence[str | tuple[Any, str, Any]], position: int) -> tuple[Node, int]:
    if position >= len(terms):
        raise OdooValueError("Invalid domain: an operator is missing one of its operands")
    term = terms[position]
    if term == "!":
        child, position = _parse_at(terms, position + 1)
        return Node("!", (child,)), position
    if term in ("&", "|"):
        left, position = _parse_at(terms, position + 1)
        right, position = _parse_at(terms, position)
        return Node(str(term), (left, right)), position
    assert isinstance(term, tuple)
    return Node("leaf", leaf=term), position + 1


def leaves(node: Node) -> list[tuple[Any, str, Any]]:
    """Every leaf of a parsed domain."""
    if node.op == "leaf":
        assert node.leaf is not None
        return [node.leaf]
    return [leaf for child in node.children for leaf in leaves(child)]


def top_level_and_leaves(node: Node) -> list[tuple[Any, str, Any]]:
    """The leaves every matching record must satisfy (those joined by `&` from the root)."""
    if node.op == "leaf":
        assert node.leaf is not None
        return [node.leaf]
    if node.op == "&":
        return [leaf for child in node.children for leaf in top_level_and_leaves(child)]
    return []


def evaluate(node: Node, record: dict[str, Any], read: FieldReader) -> bool:
    """Whether the record matches the parsed domain."""
    if node.op == "&":
        return all(evaluate(child, record, read) for child in node.children)
    if node.op == "|":
        return any(evaluate(child, record, read) for child in node.children)
    if node.op == "!":
        return not evaluate(node.children[0], record, read)
    assert node.leaf is not None
    left, operator, right = node.leaf
    if (left, operator, right) == TRUE_LEAF:
        return True
    if (left, operator, right) == FALSE_LEAF:
        return False
    return match_leaf(read(record, left), operator, right)


def match_leaf(field: FieldValue, operator: str, operand: Any) -> bool:
    """Compare one field value with an operand the way Odoo's SQL would."""
    if field.type in ("one2many", "many2many"):
        return _match_x2many(field.value or [], operator, operand)
    value = field.value
    if field.type == "many2one":
        return _match_many2one(value, operator, operand)
    if field.type in ("datetime", "date"):
        value = _comparable_moment(value)
        operand = _moment_operand(operand)
    return _match_scalar(value, operator, operand, field.type)


def _match_x2many(ids: list[int], operator: str, operand: Any) -> bool:
    wanted = _as_list(operand)
    if operator in ("=", "in"):
        if operand is False or operand == []:
            return not ids
        return bool(set(ids) & set(wanted))
    if operator in ("!=", "<>", "not in"):
        if operand is False or operand == []:
            return bool(ids)
        return not set(ids) & set(wanted)
    raise OdooValueError(f"Invalid operator {operator!r} on a one2many/many2many field in the sandbox")


def _match_many2one(value: Any, operator: str, operand: Any) -> bool:
    record_id = value[0] if isinstance(value, list | tuple) and value else None
    name = value[1] if isinstance(value, list | tuple) and len(value) > 1 else None
    if operator in ("like", "not like", "ilike", "not ilike", "=like", "=ilike") or isinstance(operand, str):
        return _match_scalar(name, operator, operand, "char")
    if operator in ("in", "not in"):
        wanted = _id_set(operand) if isinstance(operand, tuple) else frozenset(_as_list(operand))
        inside = (record_id is not None and record_id in wanted) or (record_id is None and False in _as_list(operand))
        return inside if operator == "in" else not inside
    return _match_scalar(record_id if record_id is not None else False, operator, operand, "integer")


def _match_scalar(value: Any, operator: str, operand: Any, field_type: str) -> bool:
    empty = value is None or value is False
    if field_type == "boolean":
        value = bool(value)
        empty = False
    if operator == "=":
        return empty if operand is False and field_type != "boolean" else _equal(value, operand)
    if operator in ("!=", "<>"):
        return not empty if operand is False and field_type != "boolean" else not _equal(value, operand)
    if operator in ("in", "not in"):
        items = _as_list(operand)
        inside = any(_equal(value, item) for item in items if item is not False) or (
            empty and False in items and field_type != "boolean"
        )
        return inside if operator == "in" else not inside
    if operator in (">", ">=", "<", "<="):
        if empty or operand is None or operand is False:
            return False
        try:
            if operator == ">":
                return value > operand
            if operator == ">=":
                return value >= operand
            if operator == "<":
                return value < operand
            return value <= operand
        except TypeError:
            raise OdooValueError(f"Cannot compare {value!r} with {operand!r}") from None
    return _match_like(value, operator, operand, empty)


def _match_like(value: Any, operator: str, operand: Any, empty: bool) -> bool:
    negative = operator.startswith("not ")
    base = operator.removeprefix("not ")
    if operand is False or operand is None:
        found = empty
    elif empty:
        found = False
    else:
        text, pattern = str(value), str(operand)
        insensitive = base in ("ilike", "=ilike")
        if base in ("like", "ilike"):
            pattern = f"%{pattern}%"
        regex = _like_regex(pattern, insensitive)
        found = regex.fullmatch(text) is not None
    return not found if negative else found


def _like_regex(pattern: str, insensitive: bool) -> re.Pattern[str]:
    parts: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            parts.append(".*")
        elif char == "_":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if insensitive else re.DOTALL)


def _equal(value: Any, operand: Any) -> bool:
    if isinstance(value, bool) or isinstance(operand, bool):
        return bool(value) == bool(operand)
    if isinstance(value, int | float) and isinstance(operand, int | float):
        return value == operand
    return value == operand


@functools.lru_cache(maxsize=128)
def _id_set(operand: tuple[Any, ...]) -> frozenset[Any]:
    """The ids of an `in` operand as a set (cached: the same operand is tested against every record)."""
    return frozenset(item for item in operand if item is not False and not isinstance(item, bool))


def _as_list(operand: Any) -> list[Any]:
    if isinstance(operand, list | tuple):
        return list(operand)
    return [operand]


def _comparable_moment(value: Any) -> Any:
    """A datetime value as sortable text: 'YYYY-MM-DD HH:MM:SS.mmm' (dates compare on their own form)."""
    if not isinstance(value, str):
        return value
    return normalise_moment(value)


def _moment_operand(operand: Any) -> Any:
    if isinstance(operand, list | tuple):
        return [normalise_moment(item) if isinstance(item, str) else item for item in operand]
    return normalise_moment(operand) if isinstance(operand, str) else operand


@functools.lru_cache(maxsize=4096)  # domains repeat their few moments for every row they test
def normalise_moment(text: str) -> str:
    """Odoo datetime or date text as 'YYYY-MM-DD HH:MM:SS.mmm' so that comparisons are textual."""
    cleaned = text.strip().replace("T", " ").removesuffix("Z")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?", cleaned):
        raise OdooValueError(f"'{text}' is not a valid datetime (expected YYYY-MM-DD HH:MM:SS)")
    if len(cleaned) == 10:
        cleaned += " 00:00:00"
    if len(cleaned) == 16:
        cleaned += ":00"
    if "." not in cleaned:
        cleaned += ".000"
    head, fraction = cleaned.split(".")
    return f"{head}.{(fraction + '000')[:3]}"
