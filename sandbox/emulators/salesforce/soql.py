"""A SOQL subset for the emulator: parse SELECT ... FROM ... WHERE ... ORDER BY ... LIMIT/OFFSET, then evaluate it.

Supported: a list of plain fields or COUNT(); one sObject; WHERE with =, !=, <>, <, <=, >, >=, LIKE, IN and NOT IN
on strings, ids, picklists, booleans, numbers, dates and datetimes, joined by AND, OR and NOT with parentheses;
ORDER BY several fields with ASC/DESC and NULLS FIRST/LAST; LIMIT and OFFSET. Errors carry Salesforce's error
codes (MALFORMED_QUERY, INVALID_TYPE, INVALID_FIELD, INVALID_QUERY_FILTER_OPERATOR) and its message layout.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any

from canalis.sandbox.emulators.salesforce.ids import is_record_id, to_18
from canalis.sandbox.emulators.salesforce.schema import TEXT_TYPES, FieldDef, SObjectDef, sobject

KEYWORDS = frozenset(
    {
        "select",
        "from",
        "where",
        "and",
        "or",
        "not",
        "in",
        "like",
        "order",
        "by",
        "asc",
        "desc",
        "nulls",
        "first",
        "last",
        "limit",
        "offset",
        "null",
        "true",
        "false",
        "count",
        "group",
        "having",
    }
)
_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
    """,
    re.VERBOSE,
)
_ESCAPES = {
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "b": "\b",
    "f": "\f",
    "'": "'",
    '"': '"',
    "\\": "\\",
    "%": "\\%",
    "_": "\\_",
}


class SoqlError(Exception):
    """A query Salesforce would refuse: its error code and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    position: int

    @property
    def word(self) -> str:
        return self.text.lower() if self.kind == "name" else ""


@dataclass(frozen=True)
class Literal:
    """A value in a filter: its token kind (string, number, date, datetime, boolean, null) and Python value."""

    kind: str
    value: Any
    text: str


@dataclass
class Comparison:
    field: FieldDef
    operator: str
    values: list[Literal]


@dataclass
class Junction:
    operator: str  # "and" | "or"
    parts: list[Any]


@dataclass
class Negation:
    part: Any


@dataclass(frozen=True)
class OrderKey:
    field: FieldDef
    descending: bool
    nulls_last: bool


@dataclass
class Query:
    """A parsed query."""

    text: str
    sobject: SObjectDef
    fields: list[FieldDef]
    count_only: bool = False
    where: Any = None
    order_by: list[OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether a stored record passes the WHERE clause."""
        return self.where is None or _evaluate(self.where, record)

    def run(self, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filter, sort and cut a set of stored records."""
        selected = [record for record in records if self.matches(record)]
        for key in reversed(self.order_by):
            selected.sort(key=_sort_key(key), reverse=key.descending)
        end = None if self.limit is None else self.offset + self.limit
        return selected[self.offset : end]


def parse(text: str) -> Query:
    """Parse a SOQL query; raises SoqlError as Salesforce would answer."""
    return _Parser(text).query()


def _tokens(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise SoqlError("MALFORMED_QUERY", _located(text, position, f"unexpected token: '{text[position]}'"))
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    return tokens


def _located(text: str, position: int, message: str) -> str:
    """Salesforce's layout: the query line, a caret under the problem, its row and column, then the message."""
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    line = text[line_start : line_end if line_end >= 0 else len(text)]
    row = text.count("\n", 0, position) + 1
    column = position - line_start + 1
    return f"\n{line}\n{' ' * (column - 1)}^\nERROR at Row:{row}:Column:{column}\n{message}"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    # -- token helpers --------------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> Token | None:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise SoqlError("MALFORMED_QUERY", _located(self.text, len(self.text), "unexpected end of query"))
        self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.word in words

    def expect_word(self, word: str) -> Token:
        token = self.next()
        if token.word != word:
            raise self.unexpected(token)
        return token

    def expect(self, text: str) -> Token:
        token = self.next()
        if token.text != text:
            raise self.unexpected(token)
        return token

    def unexpected(self, token: Token) -> SoqlError:
        return SoqlError("MALFORMED_QUERY", _located(self.text, token.position, f"unexpected token: '{token.text}'"))

    # -- grammar --------------------------------------------------------------------------------------

    def query(self) -> Query:
        self.expect_word("select")
        count_only = False
        names: list[Token] = []
        if self.at_word("count") and self.peek(1) is not None and self.peek(1).text == "(":  # type: ignore[union-attr]
            self.next()
            self.expect("(")
            self.expect(")")
            count_only = True
        else:
            names.append(self.field_name())
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                names.append(self.field_name())
        self.expect_word("from")
        object_token = self.next()
        if object_token.kind != "name" or object_token.word in KEYWORDS:
            raise self.unexpected(object_token)
        definition = sobject(object_token.text)
        if definition is None:
            raise SoqlError(
                "INVALID_TYPE",
                _located(
                    self.text,
                    object_token.position,
                    f"sObject type '{object_token.text}' is not supported. If you are attempting to use a custom "
                    "object, be sure to append the '__c' after the entity name. Please reference your WSDL or the "
                    "describe call for the appropriate names.",
                ),
            )
        self.definition = definition
        query = Query(self.text, definition, [self.resolve(token) for token in names], count_only=count_only)
        if self.at_word("where"):
            self.next()
            query.where = self.disjunction()
        if self.at_word("group"):
            raise self.unexpected(self.next())
        if self.at_word("order"):
            self.next()
            self.expect_word("by")
            query.order_by.append(self.order_key())
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                query.order_by.append(self.order_key())
        if self.at_word("limit"):
            self.next()
            query.limit = self.whole_number()
        if self.at_word("offset"):
            self.next()
            query.offset = self.whole_number()
        token = self.peek()
        if token is not None:
            raise self.unexpected(token)
        return query

    def field_name(self) -> Token:
        token = self.next()
        if token.kind != "name" or token.word in KEYWORDS:
            raise self.unexpected(token)
        return token

    def resolve(self, token: Token) -> FieldDef:
        if "." in token.text:
            raise SoqlError(
                "INVALID_FIELD",
                _located(
                    self.text,
                    token.position,
                    f"Didn't understand relationship '{token.text.split('.')[0]}' in field path. The Canalis "
                    "sandbox serves fields of the queried object only.",
                ),
            )
        found = self.definition.field(token.text)
        if found is None:
            raise SoqlError(
                "INVALID_FIELD",
                _located(
                    self.text,
                    token.position,
                    f"No such column '{token.text}' on entity '{self.definition.name}'. If you are attempting to "
                    "use a custom field, be sure to append the '__c' after the custom field name. Please reference "
                    "your WSDL or the describe call for the appropriate names.",
                ),
            )
        return found

    def whole_number(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise self.unexpected(token)
        return int(token.text)

    def order_key(self) -> OrderKey:
        target = self.resolve(self.field_name())
        descending = False
        if self.at_word("asc", "desc"):
            descending = self.next().word == "desc"
        nulls_last = descending
        if self.at_word("nulls"):
            self.next()
            word = self.next()
            if word.word not in ("first", "last"):
                raise self.unexpected(word)
            nulls_last = word.word == "last"
        return OrderKey(target, descending, nulls_last)

    def disjunction(self) -> Any:
        parts = [self.conjunction()]
        while self.at_word("or"):
            self.next()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Junction("or", parts)

    def conjunction(self) -> Any:
        parts = [self.negation()]
        while self.at_word("and"):
            self.next()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else Junction("and", parts)

    def negation(self) -> Any:
        if self.at_word("not"):
            self.next()
            return Negation(self.negation())
        token = self.peek()
        if token is not None and token.text == "(":
            self.next()
            inner = self.disjunction()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        name = self.field_name()
        target = self.resolve(name)
        token = self.next()
        if token.kind == "op":
            operator = "!=" if token.text == "<>" else token.text
            values = [self.literal(target)]
        elif token.word == "like":
            operator = "like"
            values = [self.literal(target)]
            if values[0].kind != "string":
                raise self.filter_type_error(target, name)
        elif token.word in ("in", "not"):
            if token.word == "not":
                self.expect_word("in")
            operator = "in" if token.word == "in" else "not in"
            self.expect("(")
            values = [self.literal(target)]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.next()
                values.append(self.literal(target))
            self.expect(")")
        else:
            raise self.unexpected(token)
        if operator in ("<", "<=", ">", ">=", "like") and target.type == "boolean":
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR",
                _located(self.text, name.position, f"invalid operator on boolean field: {token.text}"),
            )
        return Comparison(target, operator, values)

    def literal(self, target: FieldDef) -> Literal:
        token = self.next()
        kind = token.kind
        if kind == "name" and token.word in ("true", "false"):
            literal = Literal("boolean", token.word == "true", token.text)
        elif kind == "name" and token.word == "null":
            return Literal("null", None, token.text)
        elif kind == "string":
            literal = Literal("string", _unquote(token.text), token.text)
        elif kind == "datetime":
            literal = Literal("datetime", _parse_datetime(token.text), token.text)
        elif kind == "date":
            literal = Literal("date", date.fromisoformat(token.text), token.text)
        elif kind == "number":
            literal = Literal("number", float(token.text), token.text)
        else:
            raise self.unexpected(token)
        expected = _literal_kind(target)
        if literal.kind != expected:
            raise self.filter_type_error(target, token)
        if target.type in ("id", "reference"):
            if not is_record_id(literal.value):
                raise SoqlError(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    _located(self.text, token.position, f"invalid ID field: {literal.value}"),
                )
            literal = Literal("string", to_18(literal.value), token.text)
        return literal

    def filter_type_error(self, target: FieldDef, token: Token) -> SoqlError:
        kind = _literal_kind(target)
        wanted = {"datetime": "dateTime", "number": "double"}.get(kind, kind)
        quoting = "be enclosed in quotes" if kind == "string" else "not be enclosed in quotes"
        return SoqlError(
            "INVALID_FIELD",
            _located(
                self.text,
                token.position,
                f"value of filter criterion for field '{target.name}' must be of type {wanted} and should {quoting}",
            ),
        )


def _literal_kind(target: FieldDef) -> str:
    if target.type == "datetime":
        return "datetime"
    if target.type == "date":
        return "date"
    if target.type == "boolean":
        return "boolean"
    if target.type in ("double", "currency", "percent", "int"):
        return "number"
    return "string"


def _unquote(text: str) -> str:
    body = text[1:-1]
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            out.append(_ESCAPES.get(body[index + 1], body[index + 1]))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _parse_datetime(text: str) -> datetime:
    cleaned = text[:-1] + "+00:00" if text.endswith("Z") else text
    return datetime.fromisoformat(cleaned).astimezone(UTC)


@lru_cache(maxsize=65536)
def stored_datetime(text: str) -> datetime | None:
    """A stored datetime ("2026-01-05T10:00:00.000+0000" or with Z) as an aware UTC datetime."""
    cleaned = text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    elif len(cleaned) > 5 and cleaned[-5] in "+-" and cleaned[-3] != ":":
        cleaned = f"{cleaned[:-2]}:{cleaned[-2:]}"
    try:
        return datetime.fromisoformat(cleaned).astimezone(UTC)
    except ValueError:
        return None


def _comparable(target: FieldDef, value: Any) -> Any:
    """A stored value in a form that compares like Salesforce compares it (text case-insensitively)."""
    if value is None:
        return None
    if target.type == "datetime":
        return stored_datetime(str(value))
    if target.type == "date":
        try:
            return date.fromisoformat(str(value)[:10])
        except ValueError:
            return None
    if target.type == "boolean":
        return bool(value)
    if target.type in ("double", "currency", "percent", "int"):
        return float(value)
    if target.type in ("id", "reference"):
        return str(value)
    if target.type in TEXT_TYPES:
        return str(value).lower()
    return value


def _literal_value(target: FieldDef, literal: Literal) -> Any:
    if literal.kind == "string" and target.type in TEXT_TYPES:
        return str(literal.value).lower()
    return literal.value


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _like(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)


def _evaluate(node: Any, record: dict[str, Any]) -> bool:
    if isinstance(node, Junction):
        if node.operator == "and":
            return all(_evaluate(part, record) for part in node.parts)
        return any(_evaluate(part, record) for part in node.parts)
    if isinstance(node, Negation):
        return not _evaluate(node.part, record)
    target = node.field
    value = _comparable(target, record.get(target.name))
    if node.operator in ("in", "not in"):
        options = {_literal_value(target, literal) for literal in node.values}
        found = value in options
        return found if node.operator == "in" else (value is not None and not found)
    literal = node.values[0]
    expected = _literal_value(target, literal)
    if node.operator == "=":
        return value == expected
    if node.operator == "!=":
        return value != expected
    if value is None or expected is None:
        return False
    if node.operator == "like":
        return bool(_like(literal.value).match(str(record.get(target.name))))
    return _COMPARE[node.operator](value, expected)


def _sort_key(key: OrderKey) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    null_rank = 1 if key.nulls_last != key.descending else 0

    def extract(record: dict[str, Any]) -> tuple[int, Any]:
        value = _comparable(key.field, record.get(key.field.name))
        if value is None:
            return (null_rank, "")
        return (1 - null_rank, value)

    return extract
