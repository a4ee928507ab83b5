"""Blocking: cheap keys that bring likely pairs together, and all pairs within blocks of a sane size."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from canalis.identity.features import Frame
from canalis.mappings.normalize import phonetic_key

# Blocking keys: each joins two or three signals of a record (sound-alike names, birth date, postcode, city,
# street number and street name), so that two records of one person meet when any such pair survived the
# typos, missing values and swaps between them. Pairs of signals rather than single ones keep blocks small.
# `names` is symmetric (given and family names swapped meet); `full_name`, `street_postcode` and `email_local`
# use the exact normalised values.
BLOCK_SIGNALS: dict[str, tuple[str, ...]] = {
    "names": ("given_sound", "family_sound"),
    "full_name": ("given", "family"),
    "family_given_postcode": ("family_sound", "given_initial", "postcode"),
    "birth_given": ("dob", "given_initial"),
    "birth_family": ("dob", "family_sound"),
    "birth_postcode": ("dob", "postcode"),
    "birth_city": ("dob", "city"),
    "given_postcode": ("given_sound", "postcode"),
    "given_city": ("given_sound", "city"),
    "family_city": ("family_sound", "city"),
    "given_street": ("given_sound", "street_sound"),
    "family_street": ("family_sound", "street_sound"),
    "number_postcode": ("street_number", "postcode"),
    "number_street": ("street_number", "street_sound"),
    "street_city": ("street_sound", "city"),
    "street_postcode": ("street", "postcode"),
    "street_sound_postcode": ("street_sound", "postcode"),
    "given_number": ("given_sound", "street_number"),
    "family_number": ("family_sound", "street_number"),
    "birth_number": ("dob", "street_number"),
    "email_local": ("email_local",),
}
BLOCK_KINDS: tuple[str, ...] = tuple(BLOCK_SIGNALS)
SYMMETRIC: frozenset[str] = frozenset({"names", "full_name"})
_MIX = np.uint64(0x9E3779B97F4A7C15)


@lru_cache(maxsize=1_000_000)
def stable_code(value: str) -> int:
    """A 64-bit code of a text, the same in every process (Python's hash() is not); 0 only for ""."""
    if not value:
        return 0
    code = int.from_bytes(hashlib.blake2b(value.encode(), digest_size=8).digest(), "little", signed=True)
    return code or 1


def stable_codes(values: Sequence, text: Callable[[Any], str] | None = None) -> np.ndarray:
    """stable_code of every value (or of `text(value)`), computed once per distinct value."""
    table = {value: stable_code(value if text is None else text(value)) for value in set(values)}
    return np.fromiter(map(table.__getitem__, values), dtype=np.int64, count=len(values))


def _street_parts(street: str) -> tuple[str, str]:
    """(house number, sound-alike key of the street name's words in sorted order) of a normalised street line."""
    tokens = street.split()
    number = next((t for t in tokens if t[:1].isdigit()), "")
    name = "".join(sorted(t for t in tokens if not t[:1].isdigit()))  # word order does not matter
    return number, phonetic_key(name, 5) if name else ""


def signal_codes(frame: Frame, names: Iterable[str]) -> dict[str, np.ndarray]:
    """Stable codes of the wanted signals of every row (0: missing)."""
    f = frame
    wanted = set(names)
    out: dict[str, np.ndarray] = {}
    # Each signal: a frame column and how a value of it reads as the signal's text (None: as it is).
    signals: dict[str, tuple[list, Callable[[Any], str] | None]] = {
        "given": (f.given, None),
        "family": (f.family, None),
        "given_sound": (f.given, _sound),
        "family_sound": (f.family_sound, None),
        "given_initial": (f.given, _initial),
        "dob": (f.dob, _dob_text),
        "postcode": (f.postcode, None),
        "city": (f.city, None),
        "street": (f.street, None),
        "email_local": (f.email_local, _long_local),
    }
    if wanted & {"street_number", "street_sound"}:
        parts = {street: _street_parts(street) if street else ("", "") for street in set(f.street)}
        out["street_number"] = stable_codes(f.street, lambda street: parts[street][0])
        out["street_sound"] = stable_codes(f.street, lambda street: parts[street][1])
    for name in wanted - set(out):
        out[name] = stable_codes(*signals[name])
    return out


def _sound(given: str) -> str:
    return phonetic_key(given) if given else ""


def _initial(name: str) -> str:
    return name[:1]


def _dob_text(dob: int) -> str:
    return str(dob) if dob else ""


def _long_local(local: str) -> str:
    """An email's local part long enough to block on (five characters or more), else ""."""
    return local if len(local) >= 5 else ""


def _combine(kind: str, parts: list[np.ndarray]) -> np.ndarray:
    """One code per row from its signal codes: 0 when any signal is missing; order-free for symmetric kinds."""
    if len(parts) == 1:
        return parts[0]
    if kind in SYMMETRIC:
        parts = [np.minimum(parts[0], parts[1]), np.maximum(parts[0], parts[1])]
    with np.errstate(over="ignore"):
        code = np.full(len(parts[0]), stable_code(kind), dtype=np.int64).view(np.uint64)
        present = np.ones(len(parts[0]), dtype=bool)
        for part in parts:
            present &= part != 0
            code = (code ^ part.view(np.uint64)) * _MIX
            code ^= code >> np.uint64(29)
    code = code.view(np.int64)
    code[code == 0] = 1
    code[~present] = 0
    return code


def block_codes(frame: Frame, kinds: Iterable[str] = BLOCK_KINDS) -> dict[str, np.ndarray]:
    """The block code of every row for each kind (0 when the row has no such key), stable across processes."""
    kinds = list(kinds)
    signals = signal_codes(frame, {s for kind in kinds for s in BLOCK_SIGNALS[kind]})
    return {kind: _combine(kind, [signals[s] for s in BLOCK_SIGNALS[kind]]) for kind in kinds}


def row_block_codes(frame: Frame, row: int) -> dict[str, int]:
    """The block codes of one row, by kind (only the non-empty ones)."""
    codes = block_codes(frame.take([row]))
    return {kind: int(values[0]) for kind, values in codes.items() if values[0]}


def pairs_within_groups(codes: np.ndarray, valid: np.ndarray, keep_group: Callable | None = None):
    """All pairs of rows sharing a code; `keep_group(first_rows, sizes)` may veto groups. Returns (a, b, groups)."""
    rows = np.flatnonzero(valid)
    if len(rows) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, (empty, empty)
    order = rows[np.argsort(codes[rows], kind="stable")]
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    keep = sizes > 1
    if keep_group is not None and keep.any():
        keep[keep] = keep_group(order[starts[keep]], sizes[keep])
    starts, sizes = starts[keep], sizes[keep]
    if len(starts) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, (starts, sizes)
    offsets = np.arange(sizes.max())
    within = offsets[None, :] < sizes[:, None] if sizes.max() <= 64 else None
    if within is not None:
        positions = (starts[:, None] + offsets[None, :])[within]
        partner_counts = (sizes[:, None] - 1 - offsets[None, :])[within]
    else:
        positions = np.concatenate([np.arange(s, s + n) for s, n in zip(starts, sizes, strict=True)])
        partner_counts = np.concatenate([np.arange(n - 1, -1, -1) for n in sizes])
    total = int(partner_counts.sum())
    a_pos = np.repeat(positions, partner_counts)
    step = np.arange(total) - np.repeat(np.cumsum(partner_counts) - partner_counts, partner_counts)
    b_pos = a_pos + 1 + step
    return order[a_pos], order[b_pos], (starts, sizes)


def candidate_pairs(
    frame: Frame,
    max_block_size: int | dict[str, int],
    block_size: Callable[[str, np.ndarray], np.ndarray] | None = None,
    samples: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    sample_size: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, int], dict[str, np.ndarray]]:
    """Distinct pairs (a < b) of rows sharing a block key; blocks larger than `max_block_size` are skipped.

    `max_block_size` may be given per kind. `block_size(kind, codes)` gives the blocks' sizes across all
    records (defaults to their size in the frame).
    When `samples` is a dict, up to `sample_size` pairs of each kind are put in it (to train the model).
    Returns the pairs, per kind how many blocks were skipped as too large, and per kind the code of each
    row's block (0 when the row has none), which the incremental indexes reuse.
    """
    n = len(frame)
    parts: list[np.ndarray] = []
    skipped: dict[str, int] = {}
    rng = np.random.default_rng(seed)
    all_codes = block_codes(frame)
    for kind in BLOCK_KINDS:
        codes = all_codes[kind]
        valid = codes != 0

        limit = max_block_size.get(kind, 0) if isinstance(max_block_size, dict) else max_block_size

        def keep(
            first_rows: np.ndarray, sizes: np.ndarray, kind: str = kind, codes: np.ndarray = codes, limit: int = limit
        ) -> np.ndarray:
            total = sizes if block_size is None else block_size(kind, codes[first_rows])
            ok = np.asarray(total) <= limit
            skipped[kind] = int((~ok).sum())
            return ok

        a, b, _ = pairs_within_groups(codes, valid, keep)
        if samples is not None and len(a):
            pick = np.sort(rng.choice(len(a), sample_size, replace=False)) if len(a) > sample_size else slice(None)
            samples[kind] = (a[pick], b[pick])
        if len(a):
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            parts.append(lo.astype(np.int64) * n + hi)
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, skipped, all_codes
    pair_codes = np.concatenate(parts)
    pair_codes.sort()
    if len(pair_codes) > 1:
        pair_codes = pair_codes[np.r_[True, pair_codes[1:] != pair_codes[:-1]]]
    return pair_codes // n, pair_codes % n, skipped, all_codes
