"""The one-to-one constraint of linkage across registers: evidence beyond the pair for doubtful links.

A register is a source that holds one record per person (a customer file without duplicates). Where two or more
sources are registers, a person has at most one record in each, so a record already matched to a record of the
other register is not free, and two doubtful records that are both free on the other side, each other's best
remaining candidate and met by no third cluster are most likely one person. This is what tells a person whose
given name and birth date were both replaced from a member of the household: pairwise they look alike, but the
household member is already matched to its own record of the other register, or scores with the matched person
of its household when its own record is missing.

Registers are declared (`IdentityConfig.register_sources`, and every `one_record_per_source`) or learned from
the data on a full run: a source whose records are often matched to records of another source while almost never
to each other. The choice is kept with the model for incremental runs and reported in the run's summary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from canalis.identity.clusters import Edges
from canalis.identity.config import IdentityConfig
from canalis.identity.features import Frame

# A source is learned as a register when at least this share of its records (and MIN_MATCHED records) ends with
# a record of another source, while records ending with another record of the same source are at most
# MAX_DUPLICATE_SHARE of those matched ones.
MIN_MATCHED_SHARE = 0.2
MIN_MATCHED = 50
MAX_DUPLICATE_SHARE = 0.01
# Pairs whose given names conflict (a name replaced, or a household member) are linked only between registers
# whose records are almost all matched to each other already: there a free record very likely has its double
# among the free records of the other register, while a household member free in both is rare.
MIN_COVERAGE = 0.85


def infer_registers(source: np.ndarray, labels: np.ndarray) -> tuple[str, ...]:
    """Sources that behave as registers in a clustering: matched across sources often, within never."""
    names, code = np.unique(source.astype(str), return_inverse=True)
    if len(names) < 2:
        return ()
    n = len(labels)
    # Records per (cluster, source), and sources per cluster.
    held = np.unique(labels * len(names) + code, return_counts=True)
    cluster_of, source_of = held[0] // len(names), held[0] % len(names)
    sources_in = np.bincount(cluster_of, minlength=n)
    totals = np.bincount(code, minlength=len(names))
    duplicated = np.bincount(source_of, weights=np.where(held[1] > 1, held[1], 0), minlength=len(names))
    matched = np.bincount(source_of, weights=np.where(sources_in[cluster_of] > 1, held[1], 0), minlength=len(names))
    out = [
        str(name)
        for name, total, dup, hit in zip(names, totals, duplicated, matched, strict=True)
        if hit >= max(MIN_MATCHED, MIN_MATCHED_SHARE * total) and dup <= MAX_DUPLICATE_SHARE * hit
    ]
    return tuple(out) if len(out) >= 2 else ()


def registers_for(config: IdentityConfig, learned: tuple[str, ...]) -> tuple[str, ...]:
    """The registers of a run: the configured ones when set, else the learned ones, plus declared
    `one_record_per_source` sources."""
    chosen = config.register_sources if config.register_sources is not None else learned
    return tuple(sorted(set(chosen) | set(config.one_record_per_source)))


@dataclass
class OneToOne:
    """Pairs linked by the constraint (indexes into the scored pairs) and the new cluster labels."""

    chosen: np.ndarray
    labels: np.ndarray


def one_to_one_links(
    frame: Frame,
    labels: np.ndarray,
    pair_a: np.ndarray,
    pair_b: np.ndarray,
    probability: np.ndarray,
    eligible: np.ndarray,
    registers: tuple[str, ...],
    config: IdentityConfig,
    never: dict[int, set[int]],
    conflicts: set[int],
    covered_only: np.ndarray | None = None,
) -> OneToOne:
    """Link doubtful pairs across registers whose clusters are free for each other and mutual best.

    A pair (scored at or above the review probability, `eligible` saying which pairs may be linked at all) is a
    candidate when its records are in different clusters, of two different registers, and the two clusters
    together hold at most one record of each register. Among candidates, a pair is linked when neither cluster
    scores with a third cluster and it is the single best candidate of both (a tie links neither), within the
    cluster size limit, with no never-merge decision and no confident non-match across the two clusters. Pairs
    in `covered_only` are candidates only between two registers of which MIN_COVERAGE of the smaller one's
    clusters are already matched to the other.
    """
    n = len(labels)
    nothing = OneToOne(np.zeros(0, dtype=np.int64), labels)
    if not 2 <= len(registers) <= 62 or not len(pair_a):
        return nothing
    names = sorted(registers)
    position = {name: i for i, name in enumerate(names)}
    # The register code of each row (its source's place among the registers, -1 for other sources).
    by_source = {source: position.get(source, -1) for source in set(frame.source)}
    code = np.fromiter(map(by_source.__getitem__, frame.source), dtype=np.int64, count=len(frame.source))
    is_register = code >= 0
    la, lb = labels[pair_a], labels[pair_b]
    if covered_only is not None and covered_only.any():
        covered = coverage(labels, code, len(names)) >= MIN_COVERAGE
        eligible = eligible | (covered_only & covered[np.maximum(code[pair_a], 0), np.maximum(code[pair_b], 0)])
    candidate = (
        eligible
        & (probability >= config.review_probability)
        & (la != lb)
        & is_register[pair_a]
        & is_register[pair_b]
        & (code[pair_a] != code[pair_b])
    )
    index = np.flatnonzero(candidate)
    if not len(index):
        return nothing
    # Records of each register per cluster: two clusters are free for each other when no register is in both.
    rows = np.flatnonzero(is_register)
    mask = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(mask, labels[rows], np.left_shift(1, code[rows]).astype(np.int64))
    index = index[(mask[la[index]] & mask[lb[index]]) == 0]
    sizes = np.bincount(labels, minlength=n)
    index = index[sizes[la[index]] + sizes[lb[index]] <= config.max_cluster_size]
    if not len(index):
        return nothing
    # No rival: neither cluster has a scored pair (at or above the review probability, vetoed or not) with a
    # third cluster. A household member free on both sides is met so: it scores with the matched person of its
    # household too.
    scored = np.flatnonzero((probability >= config.review_probability) & (labels[pair_a] != labels[pair_b]))
    sa, sb = labels[pair_a[scored]], labels[pair_b[scored]]
    met = np.unique(np.concatenate([sa * n + sb, sb * n + sa]))
    rivals = np.bincount(met // n, minlength=n)
    index = index[(rivals[la[index]] == 1) & (rivals[lb[index]] == 1)]
    if not len(index):
        return nothing
    # Mutual best: the pair is the single best candidate of both its clusters.
    p = probability[index]
    best = np.full(n, -1.0)
    np.maximum.at(best, la[index], p)
    np.maximum.at(best, lb[index], p)
    top = np.zeros(n, dtype=np.int64)
    at_a, at_b = p == best[la[index]], p == best[lb[index]]
    np.add.at(top, la[index][at_a], 1)
    np.add.at(top, lb[index][at_b], 1)
    chosen = index[at_a & at_b & (top[la[index]] == 1) & (top[lb[index]] == 1)]
    chosen = chosen[_allowed(chosen, labels, pair_a, pair_b, never, conflicts, n)]
    if not len(chosen):
        return nothing
    low, high = np.minimum(la[chosen], lb[chosen]), np.maximum(la[chosen], lb[chosen])
    relabel = np.arange(n)
    relabel[high] = low  # each cluster is in one chosen pair at most (a single best)
    return OneToOne(np.sort(chosen), relabel[labels])


def coverage(labels: np.ndarray, code: np.ndarray, count: int) -> np.ndarray:
    """Share of the clusters of the smaller register of each two (rows, columns: register codes) that hold a
    record of the other: how completely two registers are already matched."""
    rows = np.flatnonzero(code >= 0)
    held = np.unique(labels[rows] * count + code[rows])
    cluster, register = held // count, held % count
    per_register = np.bincount(register, minlength=count)
    start = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]])
    both = np.zeros((count, count), dtype=np.int64)
    # Clusters holding the same set of registers count alike: each distinct set (a bit mask) is added once.
    masks = np.bitwise_or.reduceat(np.left_shift(1, register).astype(np.int64), start) if len(start) else start
    for mask, clusters in zip(*(found.tolist() for found in np.unique(masks, return_counts=True)), strict=True):
        group = [i for i in range(count) if mask >> i & 1]
        if len(group) > 1:
            both[np.ix_(group, group)] += clusters
    smaller = np.minimum.outer(per_register, per_register)
    return np.divide(both, smaller, out=np.zeros((count, count)), where=smaller > 0)


def _allowed(
    chosen: np.ndarray, labels: np.ndarray, pair_a: np.ndarray, pair_b: np.ndarray, never: dict[int, set[int]],
    conflicts: set[int], n: int,
) -> np.ndarray:  # fmt: skip
    """Chosen pairs whose clusters hold no never-merge decision and no confident non-match between them."""
    # Barred pairs of clusters, each as one code: cluster * n + other cluster.
    barred = [int(labels[x]) * n + int(labels[y]) for x, partners in never.items() for y in partners]
    codes = np.fromiter(conflicts, dtype=np.int64, count=len(conflicts))
    x, y = labels[codes // n], labels[codes % n]
    every = np.concatenate([np.asarray(barred, dtype=np.int64), x * n + y, y * n + x])
    if not len(every):
        return np.ones(len(chosen), dtype=bool)
    return ~np.isin(labels[pair_a[chosen]] * n + labels[pair_b[chosen]], every)


def as_edges(chosen: np.ndarray, pair_a: np.ndarray, pair_b: np.ndarray, probability: np.ndarray, rule: int) -> Edges:
    """The links made by the constraint, as scored links."""
    return Edges(pair_a[chosen], pair_b[chosen], np.full(len(chosen), rule, dtype=np.int8), probability[chosen])


__all__ = ["OneToOne", "as_edges", "infer_registers", "one_to_one_links", "registers_for"]
