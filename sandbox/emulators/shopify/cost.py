"""Query cost and the leaky bucket behind Shopify's GraphQL rate limit.

Cost follows Shopify's published rules: scalars and enums cost 0, an object 1, a connection 2 plus `first`
times the cost of one node, a mutation field 10. The requested cost is taken up front; the difference to the
actual cost (computed from what was returned) is given back after the query ran.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
)
from graphql.execution.values import get_argument_values

MAX_QUERY_COST = 1000
MUTATION_COST = 10
DEFAULT_MAXIMUM = 2000.0
DEFAULT_RESTORE_RATE = 100.0


@dataclass
class CostWalker:
    """Computes the requested (and actual) cost of one operation."""

    schema: GraphQLSchema
    fragments: dict[str, FragmentDefinitionNode]
    variables: dict[str, Any]

    def operation_cost(self, operation: OperationDefinitionNode, data: Any = None, *, actual: bool = False) -> int:
        """The cost of an operation; with `actual`, counted from the returned data."""
        if operation.operation.value == "mutation":
            return MUTATION_COST * len(self._fields(operation.selection_set))
        root = self.schema.query_type
        assert root is not None
        return self._selection_cost(operation.selection_set, root, data, actual)

    def _fields(self, selection_set: SelectionSetNode) -> list[FieldNode]:
        """The fields of a selection set with fragments flattened."""
        fields: list[FieldNode] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                fields.extend(self._fields(selection.selection_set))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    fields.extend(self._fields(fragment.selection_set))
        return fields

    def _field_type(self, parent: Any, name: str) -> Any:
        """The field definition of `name` on an object, interface or union parent (None if unknown)."""
        candidates = [parent]
        if not isinstance(parent, GraphQLObjectType) and hasattr(parent, "types"):
            candidates = list(parent.types)
        elif not isinstance(parent, GraphQLObjectType):
            candidates = [parent, *self.schema.get_implementations(parent).objects]
        for candidate in candidates:
            field = getattr(candidate, "fields", {}).get(name)
            if field is not None:
                return field
        return None

    def _selection_cost(self, selection_set: SelectionSetNode | None, parent: Any, data: Any, actual: bool) -> int:
        if selection_set is None:
            return 0
        total = 0
        for node in self._fields(selection_set):
            name = node.name.value
            if name.startswith("__"):
                continue
            field = self._field_type(parent, name)
            if field is None:
                continue
            key = node.alias.value if node.alias else name
            value = data.get(key) if isinstance(data, dict) else None
            if actual and value is None:
                continue
            total += self._field_cost(node, field, value, actual)
        return total

    def _field_cost(self, node: FieldNode, field: Any, value: Any, actual: bool) -> int:
        named = get_named_type(field.type)
        if is_leaf_type(named):
            return 0
        if named.name.endswith("Connection"):
            return 2 + self._connection_cost(node, field, named, value, actual)
        if node.name.value == "nodes" and not actual:
            ids = get_argument_values(field, node, self.variables).get("ids") or []
            return len(ids) * (1 + self._selection_cost(node.selection_set, named, None, False))
        if actual and isinstance(value, list):
            return sum(1 + self._selection_cost(node.selection_set, named, item, True) for item in value if item)
        return 1 + self._selection_cost(node.selection_set, named, value if actual else None, actual)

    def _connection_cost(self, node: FieldNode, field: Any, connection: Any, value: Any, actual: bool) -> int:
        """Nodes times the cost of one node (edges and nodes both count)."""
        total = 0
        for part in self._fields(node.selection_set) if node.selection_set else []:
            part_name = part.name.value
            if part_name == "nodes":
                item_type = get_named_type(connection.fields["nodes"].type)
                items = (value or {}).get(part.alias.value if part.alias else "nodes") if actual else None
                total += self._per_node(part, item_type, items, node, field, actual)
            elif part_name == "edges":
                edge_type = get_named_type(connection.fields["edges"].type)
                for edge_part in self._fields(part.selection_set) if part.selection_set else []:
                    if edge_part.name.value != "node":
                        continue
                    item_type = get_named_type(edge_type.fields["node"].type)
                    edges = (value or {}).get(part.alias.value if part.alias else "edges") if actual else None
                    key = edge_part.alias.value if edge_part.alias else "node"
                    items = [edge.get(key) for edge in edges or []] if actual else None
                    total += self._per_node(edge_part, item_type, items, node, field, actual)
        return total

    def _per_node(
        self, part: FieldNode, item_type: Any, items: list[Any] | None, node: FieldNode, field: Any, actual: bool
    ) -> int:
        if actual:
            return sum(1 + self._selection_cost(part.selection_set, item_type, item, True) for item in items or [])
        first = get_argument_values(field, node, self.variables).get("first") or 0
        return int(first) * (1 + self._selection_cost(part.selection_set, item_type, None, False))


class LeakyBucket:
    """Shopify's cost bucket: `maximum` points refilled at `restore_rate` per second."""

    def __init__(
        self,
        maximum: float = DEFAULT_MAXIMUM,
        restore_rate: float = DEFAULT_RESTORE_RATE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self.clock = clock
        self._available = maximum
        self._updated = clock()
        self._lock = threading.Lock()

    def configure(self, maximum: float, restore_rate: float) -> None:
        """Change the bucket size and rate (the sandbox reads them from its store on each request)."""
        with self._lock:
            if (maximum, restore_rate) != (self.maximum, self.restore_rate):
                self.maximum, self.restore_rate = maximum, restore_rate
                self._available = min(self._available, maximum)

    def _refill(self) -> None:
        now = self.clock()
        elapsed = max(0.0, now - self._updated)  # a replaced clock may start below the last reading
        self._available = min(self.maximum, self._available + elapsed * self.restore_rate)
        self._updated = now

    def take(self, cost: float) -> bool:
        """Take `cost` points if they are there; False (nothing taken) when the bucket is short."""
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def give_back(self, points: float) -> None:
        """Return points that were taken but not used."""
        with self._lock:
            self._refill()
            self._available = min(self.maximum, self._available + max(0.0, points))

    def status(self) -> dict[str, float]:
        """The throttleStatus block of a response."""
        with self._lock:
            self._refill()
            return {
                "maximumAvailable": float(self.maximum),
                "currentlyAvailable": int(self._available),
                "restoreRate": float(self.restore_rate),
            }
