"""Blocking: cheap keys that bring likely pairs together, and all pairs within blocks of a sane size."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from canalis.identity.features import Frame

BLOCK_KINDS: tuple[str, ...] = (
    "family_given_postcode", "full_name", "birth_given", "birth_family", "email_local", "street_postcode",
)  # fmt: skip


def block_values(frame: Frame, kind: str) -> list[str]:
    """The block key of every row for one kind ("" when the row has no such key)."""
    f = frame
    match kind:
        case "family_given_postcode":
            return [
                f"{s}|{g[:1]}|{p}" if s and p else ""
                for s, g, p in zip(f.family_sound, f.given, f.postcode, strict=True)
            ]
        case "full_name":
            return ["|".join(sorted((g, n))) if g and n else "" for g, n in zip(f.given, f.family, strict=True)]
        case "birth_given":
            return [f"{d}|{g[:1]}" if d and g else "" for d, g in zip(f.dob, f.given, strict=True)]
        case "birth_family":
            return [f"{d}|{s[:2]}" if d and s else "" for d, s in zip(f.dob, f.family_sound, strict=True)]
        case "email_local":
            return [e if len(e) >= 5 else "" for e in f.email_local]
        case "street_postcode":
            return [f"{s}|{p}" if s and p else "" for s, p in zip(f.street, f.postcode, strict=True)]
    raise ValueError(f"unknown block kind {kind!r}")


def row_block_values(frame: Frame, row: int) -> dict[str, str]:
    """The block keys of one row, by kind (only the non-empty ones)."""
    single = frame.take([row])
    out = {}
    for kind in BLOCK_KINDS:
        value = block_values(single, kind)[0]
        if value:
            out[kind] = value
    return out


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
    block_size: Callable[[str, list[str]], np.ndarray] | None = None,
    samples: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
    sample_size: int = 0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, dict[str, int], dict[str, np.ndarray]]:
    """Distinct pairs (a < b) of rows sharing a block key; blocks larger than `max_block_size` are skipped.

    `max_block_size` may be given per kind. `block_size(kind, values)` gives the blocks' sizes across all
    records (defaults to their size in the frame).
    When `samples` is a dict, up to `sample_size` pairs of each kind are put in it (to train the model).
    Returns the pairs, per kind how many blocks were skipped as too large, and per kind the hash of each
    row's block value (0 when the row has none), which the incremental indexes reuse.
    """
    n = len(frame)
    parts: list[np.ndarray] = []
    skipped: dict[str, int] = {}
    rng = np.random.default_rng(seed)
    all_codes: dict[str, np.ndarray] = {}
    for kind in BLOCK_KINDS:
        values = block_values(frame, kind)
        codes = np.fromiter(map(hash, values), dtype=np.int64, count=n)  # hash("") is 0: no block
        valid = codes != 0
        all_codes[kind] = codes

        limit = max_block_size.get(kind, 0) if isinstance(max_block_size, dict) else max_block_size

        def keep(
            first_rows: np.ndarray, sizes: np.ndarray, kind: str = kind, values: list[str] = values, limit: int = limit
        ) -> np.ndarray:
            total = sizes if block_size is None else block_size(kind, [values[r] for r in first_rows])
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
