"""The world's random generator: Python's Mersenne Twister, with shorter paths for the draws the generator makes most.

`choice`, `randint` and `randrange` on whole numbers draw exactly what `random.Random`'s do (the same numbers from the
same state, so a seeded world stays the same); they only skip the argument checks and conversions that the standard
methods go through on every call. Anything unusual (steps, floats, empty ranges) goes to the standard methods.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


class WorldRandom(random.Random):
    """A `random.Random` whose most frequent draws are cheaper and give the same values."""

    def choice(self, seq: Sequence[T]) -> T:
        """A random element of a non-empty sequence (the same element `random.Random.choice` picks)."""
        size = len(seq)
        if not size:
            raise IndexError("Cannot choose from an empty sequence")
        return seq[self._randbelow(size)]

    def randint(self, a: int, b: int) -> int:
        """A random whole number from a to b, both included (as `random.Random.randint`)."""
        if type(a) is int and type(b) is int and b >= a:
            return a + self._randbelow(b - a + 1)
        return super().randint(a, b)

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:  # type: ignore[override]
        """A random whole number from range(start, stop, step) (as `random.Random.randrange`)."""
        if step == 1 and type(start) is int:
            if stop is None:
                if start > 0:
                    return self._randbelow(start)
            elif type(stop) is int and stop > start:
                return start + self._randbelow(stop - start)
        return super().randrange(start, stop, step)
