"""One chunk of persons written into every system that knows them, apart from the store (in a worker process or not).

A chunk depends only on the world's spec and catalogue, its own persons and its position: its ids are counted from
a block of numbers reserved for that position (chunk 0 starts where the catalogue left off, as a world of one chunk
always did), so chunks can be made in any order and in several processes and still give the same world.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canalis.sandbox.objectstore import encode_payload
from canalis.sandbox.world import maildir
from canalis.sandbox.world.catalog import Catalog
from canalis.sandbox.world.context import WorldContext
from canalis.sandbox.world.ids import Counters
from canalis.sandbox.world.people import Person, stable_rng
from canalis.sandbox.world.spec import WorldSpec
from canalis.sandbox.world.systems import brevo, freshdesk, hubspot, mailchimp, odoo, salesforce, shopify, square

PersonEmitter = Callable[[WorldContext, Person, random.Random, dict[str, Any]], None]

# Shopify runs before Odoo, which mirrors the web orders as sale orders.
PERSON_EMITTERS: tuple[tuple[str, PersonEmitter], ...] = (
    ("shopify", shopify.emit_person),
    ("odoo", odoo.emit_person),
    ("square", square.emit_person),
    ("salesforce", salesforce.emit_person),
    ("hubspot", hubspot.emit_person),
    ("brevo", brevo.emit_person),
    ("mailbox", maildir.emit_person),
    # Last, and drawing from their own seeded generators: adding them changed no other system's copy.
    ("freshdesk", freshdesk.emit_person),
    ("mailchimp", mailchimp.emit_person),
)
# Systems whose members are chosen apart from the shared draw of systems, each from the person's own generator.
LATE_JOINERS: tuple[Callable[[Person, int], bool], ...] = (freshdesk.joins, mailchimp.joins)
LATE_SYSTEMS: tuple[str, ...] = ("freshdesk", "mailchimp")

IDS_PER_PERSON = 10
"""How many numbers of each id sequence a chunk reserves per person (about 3 at most are used); checked."""

EncodedRow = tuple[str, str, str, str]
"""(object id, updated_at, payload as JSON, created_at)."""


@dataclass(frozen=True)
class ChunkSetting:
    """What every chunk of a world shares: spec, catalogue, the id counters after the catalogue, the Maildir."""

    spec: WorldSpec
    catalog: Catalog
    counters: dict[tuple[str, str], int]
    maildir_root: Path

    @property
    def block(self) -> int:
        """How many numbers of each id sequence one chunk owns."""
        return self.spec.chunk_size * IDS_PER_PERSON


@dataclass
class ChunkTask:
    """The persons of one chunk, with the details of the faults injected into them (chunk 0 only)."""

    number: int
    people: list[Person]
    fault_details: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


@dataclass
class ChunkResult:
    """What one chunk made: encoded rows per (system, type), ground-truth rows and its share of the tallies."""

    number: int
    rows: dict[tuple[str, str], list[EncodedRow]]
    truth: list[tuple[str, str, str, str]]
    used: dict[tuple[str, str], int]
    numeric_ids: dict[tuple[str, str], int]
    brevo_lists: Counter[int]
    brevo_blacklisted: int
    fault_details: dict[tuple[str, str], dict[str, Any]]


def emit_chunk(setting: ChunkSetting, task: ChunkTask) -> ChunkResult:
    """Every system's records of the chunk's persons, payloads encoded, Maildir files written."""
    spec, people = setting.spec, task.people
    start = task.number * setting.block
    ctx = WorldContext(spec=spec, store=None, catalog=setting.catalog)
    ctx.counters = Counters(start)
    ctx.counters.last = {key: last + start for key, last in setting.counters.items()}
    initial = dict(ctx.counters.last)
    ctx.fault_details = task.fault_details
    ctx.tallies["maildir_root"] = setting.maildir_root
    rng = stable_rng(spec.seed, "systems", people[0].index)
    for person in people:
        for system, joins in zip(LATE_SYSTEMS, LATE_JOINERS, strict=True):
            if joins(person, spec.seed):
                person.systems.add(system)
        scratch: dict[str, Any] = {}
        for system, emit_person in PERSON_EMITTERS:
            if system in person.systems:
                emit_person(ctx, person, rng, scratch)
    used = {key: last - initial.get(key, start) for key, last in ctx.counters.last.items()}
    overflow = sorted(key for key, count in used.items() if count > setting.block)
    if overflow:  # pragma: no cover - would take a chunk far busier than any the generator makes
        raise RuntimeError(f"chunk {task.number} used more ids than its block holds for {overflow}")
    encode = encode_payload
    rows = {
        key: [(object_id, updated, encode(payload), created) for object_id, updated, payload, created in items]
        for key, items in ctx.rows.items()
    }
    return ChunkResult(
        number=task.number,
        rows=rows,
        truth=ctx.truth,
        used=used,
        numeric_ids=ctx.numeric_ids,
        brevo_lists=ctx.tallies.get("brevo_lists", Counter()),
        brevo_blacklisted=ctx.tallies.get("brevo_blacklisted", 0),
        fault_details=ctx.fault_details,
    )


_SETTING: ChunkSetting | None = None


def init_worker(setting: ChunkSetting) -> None:
    """Keep the world's shared setting in a worker process (sent once, not with every chunk)."""
    global _SETTING
    _SETTING = setting


def emit_chunk_in_worker(task: ChunkTask) -> ChunkResult:
    """emit_chunk with the setting the worker was started with."""
    assert _SETTING is not None, "init_worker was not called"
    return emit_chunk(_SETTING, task)
