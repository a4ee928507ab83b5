"""What every system builder shares while a world is generated: clock, catalogue, ids and the row sink."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world.catalog import Catalog
from canalis.sandbox.world.formats import store_timestamp
from canalis.sandbox.world.ids import Counters
from canalis.sandbox.world.spec import WorldSpec


@dataclass
class WorldContext:
    """Shared generation state; rows are buffered per chunk and flushed to the store."""

    spec: WorldSpec
    store: ObjectStore | None
    catalog: Catalog
    counters: Counters = field(default_factory=Counters)
    rows: dict[tuple[str, str], list[tuple[str, str, dict[str, Any], str]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    truth: list[tuple[str, str, str, str]] = field(default_factory=list)
    fault_details: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    numeric_ids: dict[tuple[str, str], int] = field(default_factory=dict)
    tallies: dict[str, Any] = field(default_factory=lambda: defaultdict(int))
    chunk_state: dict[str, Any] = field(default_factory=dict)

    @property
    def now(self) -> datetime:
        """The world's fixed clock."""
        return self.spec.now

    def joined(self, rng: random.Random, person: Any, *, days: int) -> datetime:
        """When a person's record was made in a system: within `days` of first being seen, and before the clock."""
        return moment_between(
            rng, person.first_seen, min(person.first_seen + timedelta(days=days), self.now - CLOCK_MARGIN)
        )

    def add(
        self,
        system: str,
        object_type: str,
        object_id: str,
        payload: dict[str, Any],
        *,
        created_at: datetime,
        updated_at: datetime,
        person_id: str | None = None,
    ) -> None:
        """Buffer one vendor object (and its owner in the ground truth)."""
        updated = store_timestamp(updated_at)
        created = updated if created_at == updated_at else store_timestamp(created_at)
        self.rows[(system, object_type)].append((object_id, updated, payload, created))
        if person_id is not None:
            self.truth.append((system, object_type, object_id, person_id))

    def numeric(self, system: str, object_type: str, base: int = 0) -> int:
        """The next integer id of a type (base + counter), remembered for emulators' next ids."""
        value = base + self.counters.next(system, object_type)
        self.numeric_ids[(system, object_type)] = value
        return value

    def flush(self) -> None:
        """Write buffered rows and truth to the store."""
        assert self.store is not None, "a chunk made apart from the store is not flushed"
        for (system, object_type), rows in self.rows.items():
            self.store.put_many(system, object_type, rows)
        self.rows.clear()
        self.store.put_truth_records(self.truth)
        self.truth.clear()
        self.chunk_state.clear()


CLOCK_MARGIN = timedelta(hours=1)
"""How long before the world's clock its newest records were made: nothing is dated after `now`."""


def moment_between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A random moment between two datetimes, to the millisecond."""
    if end <= start:
        return start
    span_ms = int((end - start).total_seconds() * 1000)
    return start + timedelta(milliseconds=rng.randrange(span_ms + 1))


def complaint_may_stay_open(person_consent: str, faults: dict[str, str], system: str) -> bool:
    """Open complaints only for people opted out of marketing, unless one is injected here on purpose."""
    return person_consent == "unsubscribed" or faults.get("open_complaint") == system


def opted_out_in(person_consent: str, faults: dict[str, str], system: str) -> bool:
    """Whether the system holds the person as opted out of marketing email."""
    return person_consent == "unsubscribed" or faults.get("consent_optout") == system
