"""Steward decisions: pairs forced together or kept apart, applied on every run, with who, when and why."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

FORCE_MERGE, NEVER_MERGE = "force_merge", "never_merge"
KINDS: tuple[str, ...] = (FORCE_MERGE, NEVER_MERGE)


@dataclass(frozen=True, slots=True)
class Override:
    """One steward decision about two records."""

    kind: str
    record_a: str
    record_b: str
    who: str
    why: str
    at: datetime
    active: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"override kind must be one of {KINDS}, not {self.kind!r}")
        if self.record_a == self.record_b:
            raise ValueError("an override needs two different records")

    @property
    def pair(self) -> tuple[str, str]:
        """The two record keys, sorted."""
        return (self.record_a, self.record_b) if self.record_a < self.record_b else (self.record_b, self.record_a)


@dataclass
class Overrides:
    """The decisions in force: for each pair, the latest active decision wins."""

    force: set[tuple[str, str]] = field(default_factory=set)
    never: set[tuple[str, str]] = field(default_factory=set)

    @classmethod
    def from_decisions(cls, decisions: Iterable[Override]) -> Overrides:
        """Keep the latest decision per pair; inactive (withdrawn) ones cancel earlier ones."""
        latest: dict[tuple[str, str], Override] = {}
        for decision in sorted(decisions, key=lambda d: d.at):
            latest[decision.pair] = decision
        out = cls()
        for pair, decision in latest.items():
            if decision.active:
                (out.force if decision.kind == FORCE_MERGE else out.never).add(pair)
        return out

    def partners(self) -> dict[str, set[str]]:
        """Records tied by a steward decision of either kind (for finding what a change touches)."""
        out: dict[str, set[str]] = {}
        for a, b in self.force | self.never:
            out.setdefault(a, set()).add(b)
            out.setdefault(b, set()).add(a)
        return out

    def __bool__(self) -> bool:
        return bool(self.force or self.never)
