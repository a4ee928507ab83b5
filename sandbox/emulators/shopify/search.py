"""Shopify's search syntax for the `query` argument: `updated_at:>'2026-01-01T00:00:00Z' sku:ABC OR sku:DEF`.

Terms are ANDed unless joined by OR (AND binds tighter); `-` or NOT negates a term; values may be quoted;
comparisons are `:`, `:>`, `:>=`, `:<`, `:<=`; a trailing `*` matches a prefix; a term without a field matches
the object's text. Parentheses are not supported. Timestamp bounds on `updated_at` of a query without OR are
turned into store bounds so that the store pages efficiently.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from canalis.sandbox.objectstore import StoredObject

_TOKEN = re.compile(
    r"""\s*(?P<neg>-|NOT\s+)?(?:(?P<field>[A-Za-z_][A-Za-z0-9_.]*):(?P<op>>=|<=|>|<|=)?)?"""
    r"""(?P<value>'[^']*'|"[^"]*"|[^\s]+)"""
)

Accessor = Callable[[StoredObject], Any]
TIME_FIELDS = ("updated_at", "created_at")


class SearchError(ValueError):
    """The query text cannot be read."""


@dataclass(frozen=True)
class Term:
    """One `field:op value` condition (field None for free text)."""

    field: str | None
    op: str
    value: str
    negated: bool = False


@dataclass(frozen=True)
class Search:
    """A parsed query: OR of AND-groups of terms."""

    groups: tuple[tuple[Term, ...], ...]

    @property
    def empty(self) -> bool:
        return not self.groups


def parse_search(text: str | None) -> Search:
    """Parse a query; an empty or missing query matches everything."""
    groups: list[list[Term]] = [[]]
    position, text = 0, (text or "").strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SearchError(f"cannot read the query near {text[position : position + 20]!r}")
        position = match.end()
        value = match["value"]
        if match["field"] is None and match["neg"] is None and value in ("OR", "AND"):
            if value == "OR":
                groups.append([])
            continue
        if value[:1] in "'\"" and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        groups[-1].append(Term(match["field"], match["op"] or "=", value, bool(match["neg"])))
    return Search(tuple(tuple(group) for group in groups if group))


def parse_time(value: str) -> datetime:
    """A query timestamp (ISO 8601, date only, Z or offset) as aware UTC, truncated to the second."""
    text = value.strip().replace(" ", "T", 1)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise SearchError(f"'{value}' is not a timestamp") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def _store_stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def store_bounds(search: Search) -> tuple[str | None, str | None, Search]:
    """Store bounds (updated_since, updated_before) from the updated_at terms, and the search left to apply."""
    if len(search.groups) != 1:
        return None, None, search
    since: str | None = None
    before: str | None = None
    rest: list[Term] = []
    for term in search.groups[0]:
        if term.field != "updated_at" or term.negated or term.op == "=":
            rest.append(term)
            continue
        moment = parse_time(term.value)
        if term.op in (">", ">="):
            bound = _store_stamp(moment + timedelta(seconds=1) if term.op == ">" else moment)
            since = bound if since is None or bound > since else since
        else:
            bound = _store_stamp(moment + timedelta(seconds=1) if term.op == "<=" else moment)
            before = bound if before is None or bound < before else before
    return since, before, Search((tuple(rest),) if rest else ())


def matcher(search: Search, fields: dict[str, Accessor], text: Accessor) -> Callable[[StoredObject], bool]:
    """A predicate telling whether a stored object matches the search."""
    if search.empty:
        return lambda _stored: True

    def matches(stored: StoredObject) -> bool:
        return any(all(_term_matches(term, stored, fields, text) for term in group) for group in search.groups)

    return matches


def _term_matches(term: Term, stored: StoredObject, fields: dict[str, Accessor], text: Accessor) -> bool:
    result = _positive(term, stored, fields, text)
    return not result if term.negated else result


def _positive(term: Term, stored: StoredObject, fields: dict[str, Accessor], text: Accessor) -> bool:
    if term.field is None:
        return term.value.lower().rstrip("*") in str(text(stored) or "").lower()
    if term.field in TIME_FIELDS:
        stamp = stored.updated_at if term.field == "updated_at" else stored.created_at
        return _compare(stamp[:19], term.op, parse_time(term.value).strftime("%Y-%m-%dT%H:%M:%S"))
    accessor = fields.get(term.field)
    if accessor is None:
        return True  # Shopify ignores filters it does not know
    value = accessor(stored)
    values = value if isinstance(value, list) else [value]
    return any(_value_matches(candidate, term) for candidate in values)


def _value_matches(candidate: Any, term: Term) -> bool:
    if candidate is None:
        return False
    if term.field == "id":
        number = str(candidate).rsplit("/", 1)[-1].split("?", 1)[0]
        wanted = term.value.rsplit("/", 1)[-1]
        if number.isdigit() and wanted.isdigit():
            return _compare(int(number), term.op, int(wanted))
    if isinstance(candidate, int | float) and not isinstance(candidate, bool):
        try:
            return _compare(float(candidate), term.op, float(term.value))
        except ValueError:
            return False
    text, wanted = str(candidate).lower(), term.value.lower()
    if term.op == "=":
        return text.startswith(wanted[:-1]) if wanted.endswith("*") else text == wanted
    return _compare(text, term.op, wanted)


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    return left == right
