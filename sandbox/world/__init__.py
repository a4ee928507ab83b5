"""The sandbox's seeded omnichannel world: persons, channel payloads, ground truth and a support Maildir."""

from __future__ import annotations

from typing import Any

from canalis.sandbox.world.spec import INCONSISTENCY_KINDS, SYSTEMS, WorldSpec, WorldSummary
from canalis.sandbox.world.truth import ground_truth_document, iter_identity_records

__all__ = [
    "INCONSISTENCY_KINDS",
    "SYSTEMS",
    "WorldSpec",
    "WorldSummary",
    "generate_world",
    "ground_truth_document",
    "iter_identity_records",
    "store_path",
]


def __getattr__(name: str) -> Any:
    """Import the generator lazily so `python -m canalis.sandbox.world.generate` runs cleanly."""
    if name in ("generate_world", "store_path"):
        from canalis.sandbox.world import generate

        return getattr(generate, name)
    raise AttributeError(name)
