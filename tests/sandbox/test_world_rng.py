"""The world's random generator and opaque ids: faster paths that must give the same values as the plain ones."""

from __future__ import annotations

import hashlib
import random

import pytest

from canalis.sandbox.world.ids import BASE36, opaque_id
from canalis.sandbox.world.rng import WorldRandom


def test_world_random_draws_what_the_standard_generator_draws() -> None:
    ours, theirs = WorldRandom("seed:1"), random.Random("seed:1")
    items = ("a", "b", "c", "d", "e")
    for n in range(1, 3000):
        assert ours.choice(items) == theirs.choice(items)
        assert ours.randint(-3, n) == theirs.randint(-3, n)
        assert ours.randint(n, n) == theirs.randint(n, n)
        assert ours.randrange(n) == theirs.randrange(n)
        assert ours.randrange(n, 3 * n) == theirs.randrange(n, 3 * n)
        assert ours.randrange(0, 2 * n, 2) == theirs.randrange(0, 2 * n, 2)
        assert ours.sample(items, 2) == theirs.sample(items, 2)
        assert ours.random() == theirs.random()


def test_world_random_refuses_what_the_standard_generator_refuses() -> None:
    rng = WorldRandom(1)
    with pytest.raises(IndexError):
        rng.choice([])
    with pytest.raises(ValueError):
        rng.randint(5, 4)
    with pytest.raises(ValueError):
        rng.randrange(0)


def _plain_opaque_id(label: str, n: int, length: int) -> str:
    """The hash's base-36 digits, least significant first, one digit at a time."""
    value = int.from_bytes(hashlib.blake2b(f"{label}:{n}".encode(), digest_size=20).digest(), "big")
    digits = []
    for _ in range(length):
        value, digit = divmod(value, 36)
        digits.append(BASE36[digit])
    return "".join(digits)


@pytest.mark.parametrize("length", [1, 5, 6, 7, 20, 22, 24, 27, 30])
def test_opaque_ids_are_the_hash_in_base_36(length: int) -> None:
    for n in range(300):
        assert opaque_id("order:42", n, length) == _plain_opaque_id("order:42", n, length)
