"""Resolve one frame of records at once: keys, blocking, scoring, clustering (used by full and incremental runs)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from canalis.identity.blocking import BLOCK_KINDS, candidate_pairs
from canalis.identity.clusters import (
    ACCEPTED,
    RULE_INDEX,
    RULES,
    Clustering,
    Edges,
    build_clusters,
    connected_components,
)
from canalis.identity.compare import (
    FIELD_NAMES,
    FIELDS,
    NAME_WEAK_BELOW,
    Comparison,
    compare,
    given_misspelt,
    score_columns,
)
from canalis.identity.config import IdentityConfig
from canalis.identity.features import Frame
from canalis.identity.keys import KeyGroups, key_groups
from canalis.identity.one_to_one import as_edges, infer_registers, one_to_one_links, registers_for
from canalis.identity.overrides import Overrides
from canalis.identity.scoring import MatchModel, Scores, estimate_prior, match_weights, score, train

PROBABILISTIC = RULE_INDEX["probabilistic"]
MIN_RECORDS_TO_RELAX = 1000
_CHUNK = 500_000


@dataclass
class ScoredPairs:
    """Candidate pairs kept after scoring (links and possible matches) with their comparison and scores."""

    a: np.ndarray
    b: np.ndarray
    comparison: Comparison
    scores: Scores
    conflict: np.ndarray
    names_only: np.ndarray | None = None

    def evidence(self, i: int) -> dict:
        """Field by field agreement, similarity and weight of pair i."""
        fields: dict[str, dict] = {}
        for j, name in enumerate(FIELD_NAMES):
            level = int(self.comparison.levels[i, j])
            entry: dict = {"level": FIELDS[name][level], "weight": round(float(self.scores.field_weights[i, j]), 3)}
            sim = self.comparison.similarity.get(name)
            if sim is not None and level:
                entry["similarity"] = round(float(sim[i]), 3)
            fields[name] = entry
        out = {
            "probability": round(float(self.scores.probability[i]), 6),
            "match_weight": round(float(self.scores.total[i]), 3),
            "fields": fields,
        }
        if self.comparison.swapped[i]:
            out["names_swapped"] = True
        if self.conflict[i]:
            out["conflict"] = str(self.conflict[i])
        return out


REVIEW_REASONS: tuple[str, ...] = ("uncertain", "names_only", "large_profiles", "weak_bridge")
_NAMES = (FIELD_NAMES.index("given_name"), FIELD_NAMES.index("family_name"))


def names_only(comparison: Comparison) -> np.ndarray:
    """Pairs compared on their names alone (every other field missing on one side): however rare the name,
    such a pair cannot tell a person from a namesake."""
    others = np.ones(comparison.levels.shape[1], dtype=bool)
    others[list(_NAMES)] = False
    return ~(comparison.levels[:, others] > 0).any(axis=1)


@dataclass
class Proposals:
    """Merges not applied but put up for review: rows, reason, match probability, and the scored pair behind."""

    a: np.ndarray
    b: np.ndarray
    reason: np.ndarray
    probability: np.ndarray
    pair: np.ndarray

    def __len__(self) -> int:
        return len(self.a)


def _proposals(
    pairs: ScoredPairs, edges: Edges, edge_pair: np.ndarray, clustering: Clustering, config: IdentityConfig,
    never: dict[int, set[int]],
) -> Proposals:  # fmt: skip
    """Scored pairs in the review band whose records ended apart, and scored links refused for review reasons."""
    labels = clustering.labels
    p = pairs.scores.probability
    apart = (labels[pairs.a] != labels[pairs.b]) & (pairs.conflict == "")
    band = apart & (p >= config.review_probability) & (p < config.match_probability)
    alone = apart & (p >= config.match_probability) & pairs.names_only
    chosen = [np.flatnonzero(band), np.flatnonzero(alone)]
    reasons = [np.full(len(chosen[0]), "uncertain", dtype=object), np.full(len(chosen[1]), "names_only", dtype=object)]
    for reason in REVIEW_REASONS[2:]:
        refused = [e for e, r in clustering.reasons.items() if r == reason and edge_pair[e] >= 0]
        chosen.append(edge_pair[np.asarray(refused, dtype=np.int64)])
        reasons.append(np.full(len(refused), reason, dtype=object))
    index = np.concatenate(chosen).astype(np.int64)
    reason = np.concatenate(reasons)
    keep = np.fromiter(
        (int(pairs.b[i]) not in never.get(int(pairs.a[i]), ()) for i in index.tolist()), dtype=bool, count=len(index)
    )
    index, reason = index[keep], reason[keep]
    return Proposals(pairs.a[index], pairs.b[index], reason, p[index], index)


def proposal_reasons(batch: BatchResult) -> dict[str, int]:
    """Number of proposed merges by reason."""
    proposals = batch.proposals
    if proposals is None or not len(proposals):
        return {}
    reasons, counts = np.unique(proposals.reason.astype(str), return_counts=True)
    return {str(r): int(c) for r, c in zip(reasons, counts, strict=True)}


@dataclass
class BatchResult:
    """Everything one batch resolution decided."""

    frame: Frame
    model: MatchModel
    groups: KeyGroups
    edges: Edges
    edge_group: np.ndarray
    edge_pair: np.ndarray
    pairs: ScoredPairs
    clustering: Clustering
    candidate_count: int
    review_count: int
    skipped_blocks: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)
    key_rank: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    block_codes: dict[str, np.ndarray] = field(default_factory=dict)
    proposals: Proposals | None = None
    registers: tuple[str, ...] = ()
    one_to_one: int = 0

    def clusters(self) -> list[list[int]]:
        """Rows of each cluster, sorted by record key, clusters ordered by their first key."""
        labels = self.clustering.labels
        if len(labels) == 0:
            return []
        order = np.lexsort((self.key_rank, labels))
        sorted_labels = labels[order]
        starts = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
        groups = np.split(order, starts[1:])
        firsts = self.key_rank[order[starts]]
        return [groups[i].tolist() for i in np.argsort(firsts, kind="stable").tolist()]

    def edge_evidence(self, e: int) -> dict:
        """Evidence of link e: the key group behind a deterministic link, or the field scores of a scored one."""
        rule = RULES[int(self.edges.rule[e])]
        if rule == "probabilistic":
            evidence = {"rule": rule, **self.pairs.evidence(int(self.edge_pair[e]))}
            if e >= len(self.edges) - self.one_to_one:  # linked by the one-to-one constraint (added last)
                evidence["one_to_one"] = True
            return evidence
        if rule == "steward_merge":
            return {"rule": rule}
        return {"rule": rule, **self.groups.evidence(int(self.edge_group[e]))}


def key_rank(frame: Frame) -> np.ndarray:
    """Rank of each row's record key in sorted order (ties cannot happen: keys are unique)."""
    keys = frame.array("key")
    rank = np.empty(len(keys), dtype=np.int64)
    rank[np.argsort(keys, kind="stable")] = np.arange(len(keys))
    return rank


_GIVEN = FIELD_NAMES.index("given_name")
_DOB = FIELD_NAMES.index("birth_date")
_GIVEN_COMPATIBLE = FIELDS["given_name"].index("compatible")
_GIVEN_CONFIRMS = (FIELDS["given_name"].index("exact"), FIELDS["given_name"].index("close"))
_DOB_DIFFERENT = FIELDS["birth_date"].index("different")
_DOB_CONFIRMS = (FIELDS["birth_date"].index("exact"), FIELDS["birth_date"].index("typo"))


def birth_date_errors_common(model: MatchModel, config: IdentityConfig) -> bool:
    """Whether the data's own matches often carry unrelated birth dates (a date replaced), as EM learned it
    from at least MIN_RECORDS_TO_RELAX records (a handful of records cannot tell)."""
    learned_from = int(model.trained_on.get("records", 0))
    return learned_from >= MIN_RECORDS_TO_RELAX and model.m["birth_date"][_DOB_DIFFERENT] > config.birth_date_error_rate


def known_names(model: MatchModel) -> frozenset[str]:
    """Given and family names that two records or more held when the model learned (its name frequencies; names
    are compared in either field, since systems swap them). Empty when name frequencies are off."""
    tables = model.term_frequencies
    return frozenset(tables.get("given_name", {})) | frozenset(tables.get("family_name", {}))


def given_slips(
    columns: dict[str, np.ndarray], a: np.ndarray, b: np.ndarray, comparison: Comparison, known: frozenset[str]
) -> np.ndarray:
    """Pairs whose given names (in place or swapped) are a keyboard slip apart with one of them held by a single
    record of the data (`canalis.identity.compare.given_misspelt`): one name misspelt, not another name in use."""
    edits = comparison.similarity.get("given_edits")
    out = np.zeros(len(a), dtype=bool)
    if edits is None or not known:
        return out
    idx = np.flatnonzero((edits > 0) & (edits < 99))
    if len(idx):
        own = columns["given"][a[idx]]
        other = np.where(comparison.swapped[idx], columns["family"][b[idx]], columns["given"][b[idx]])
        out[idx] = [given_misspelt(x, y, known) for x, y in zip(own.tolist(), other.tolist(), strict=True)]
    return out


def _conflicts(
    comparison: Comparison, config: IdentityConfig, dob_errors_common: bool = False, slips: np.ndarray | None = None
) -> np.ndarray:
    """Pairs a score never links: given names that conflict unless the birth dates agree, and birth dates
    more than two edits apart (unless the given names agree, the same, close or one misspelt as `slips` marks
    them (`given_slips`), and the data shows that matches often carry unrelated birth dates:
    `birth_date_errors_common`).

    Given names conflict below `given_name_conflict_below` (Jaro-Winkler) when neither is an initial, prefix or
    token of the other nor a keyboard slip away from it. One of the two may be wrong in a record (a name or a
    date replaced), not both: this keeps apart members of one household (other given name, other or no birth
    date) and namesakes (other birth date) whom family name, address and shared contact details would otherwise
    join. Twins (one birth date, other given names at one address) can only be told apart by contact details or
    stewards.
    """
    levels = comparison.levels
    out = np.full(len(levels), "", dtype=object)
    given, dob = levels[:, _GIVEN], levels[:, _DOB]
    similarity = comparison.similarity["given_name"]
    related = (given == _GIVEN_COMPATIBLE) & (similarity < NAME_WEAK_BELOW)
    edits = comparison.similarity.get("given_edits")
    if edits is not None:  # a keyboard slip apart (see `typo_distance_limit`): one name mistyped
        related |= edits < 99
    given_conflict = (given >= _GIVEN_COMPATIBLE) & ~related & (similarity < config.given_name_conflict_below)
    out[given_conflict & ~np.isin(dob, _DOB_CONFIRMS)] = "given_name"
    dob_conflict = dob == _DOB_DIFFERENT
    if dob_errors_common:
        dob_conflict &= ~np.isin(given, _GIVEN_CONFIRMS)
        if slips is not None:
            dob_conflict &= ~slips
    out[dob_conflict] = "birth_date"
    return out


def _unambiguous_names(
    pairs: ScoredPairs, others: Edges, prob: Edges, linked: np.ndarray, config: IdentityConfig, n: int
) -> tuple[Edges, np.ndarray]:
    """Link the pairs scored on names alone whose records meet only one group of records that way.

    A record whose names match records of two groups that nothing else joins (namesakes) is not linked to
    either: those pairs stay proposed for review. Returns the scored links and their pair indexes.
    """
    sure = np.flatnonzero((pairs.scores.probability >= config.match_probability) & (pairs.conflict == "")
                          & pairs.names_only)  # fmt: skip
    if not len(sure):
        return prob, linked
    group = connected_components(n, others.a, others.b)
    a, b = pairs.a[sure], pairs.b[sure]
    met = np.unique(np.concatenate([a * n + group[b], b * n + group[a]]))
    groups_met = np.bincount(met // n, minlength=n)
    clear = sure[(groups_met[a] == 1) & (groups_met[b] == 1)]
    pairs.names_only[clear] = False
    linked = np.sort(np.concatenate([linked, clear]))
    prob = Edges(pairs.a[linked], pairs.b[linked], np.full(len(linked), PROBABILISTIC, dtype=np.int8),
                 pairs.scores.probability[linked])  # fmt: skip
    return prob, linked


def _apply_one_to_one(
    frame: Frame, pairs: ScoredPairs, edges: Edges, edge_group: np.ndarray, edge_pair: np.ndarray,
    clustering: Clustering, registers: tuple[str, ...], config: IdentityConfig, never: dict[int, set[int]],
    conflicts: set[int],
) -> tuple[Edges, np.ndarray, np.ndarray, Clustering]:  # fmt: skip
    """Add the links of the one-to-one constraint across registers (canalis.identity.one_to_one) as accepted
    scored links: pairs in the review band with no pairwise conflict whose fields other than the names weigh for
    the match and none of which disagrees (a namesake with another email is not a free record's double)."""
    levels, weights = pairs.comparison.levels, pairs.scores.field_weights
    others = np.ones(levels.shape[1], dtype=bool)
    others[list(_NAMES)] = False
    different = np.asarray([len(FIELDS[name]) - 1 for name in FIELD_NAMES])
    disagree = ((levels == different) & (levels > 0))[:, others].any(axis=1)
    sound = ~pairs.names_only & ~disagree & (weights[:, others].sum(axis=1) > 0)
    found = one_to_one_links(frame, clustering.labels, pairs.a, pairs.b, pairs.scores.probability,
                             sound & (pairs.conflict == ""), registers, config, never, conflicts,
                             covered_only=sound & (pairs.conflict == "given_name"))  # fmt: skip
    chosen = found.chosen
    if not len(chosen):
        return edges, edge_group, edge_pair, clustering
    start = len(edges)
    added = np.arange(start, start + len(chosen))
    edges = Edges.concat([edges, as_edges(chosen, pairs.a, pairs.b, pairs.scores.probability, PROBABILISTIC)])
    attach = list(clustering.attach)
    for e, a, b in zip(added.tolist(), pairs.a[chosen].tolist(), pairs.b[chosen].tolist(), strict=True):
        for row in (a, b):
            if attach[row] < 0:
                attach[row] = e
    clustering = Clustering(
        labels=found.labels, order=np.concatenate([clustering.order, added]),
        status=np.concatenate([clustering.status, np.full(len(chosen), ACCEPTED, dtype=clustering.status.dtype)]),
        reasons=clustering.reasons, attach=attach, flags=clustering.flags,
    )  # fmt: skip
    return (edges, np.concatenate([edge_group, np.full(len(chosen), -1)]),
            np.concatenate([edge_pair, chosen.astype(np.int64)]), clustering)  # fmt: skip


def resolve_frame(
    frame: Frame,
    config: IdentityConfig,
    *,
    model: MatchModel | None = None,
    overrides: Overrides | None = None,
    key_count: Callable[[str, str, int], int] | None = None,
    block_size: Callable[[str, list[str]], np.ndarray] | None = None,
) -> BatchResult:
    """Link and cluster the records of a frame; trains a model from them when none is given.

    `key_count` and `block_size` report sizes across all records when the frame is part of a larger set.
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    n = len(frame)
    columns = score_columns(frame)
    ranks = key_rank(frame)
    row_of = {key: row for row, key in enumerate(frame.key)}

    groups, det_a, det_b, det_group = key_groups(frame, config, key_count, ranks)
    det = Edges(
        det_a, det_b, np.fromiter((RULE_INDEX[k] for k in groups.kind_of(det_group)), dtype=np.int8,
                                  count=len(det_group)),
        np.ones(len(det_a)),
    )  # fmt: skip
    timings["keys"] = time.perf_counter() - clock

    clock = time.perf_counter()
    training = model is None
    samples: dict[str, tuple[np.ndarray, np.ndarray]] | None = {} if training else None
    # The EM sample is shared among the rules (blocking keys and deterministic keys).
    per_rule = max(config.em_sample_pairs // (len(BLOCK_KINDS) + len(config.deterministic_keys)), 1000)
    cand_a, cand_b, skipped, block_codes = candidate_pairs(
        frame, config.block_limits(), block_size, samples, per_rule, config.random_seed
    )
    flip = ranks[cand_a] > ranks[cand_b]
    cand_a, cand_b = np.where(flip, cand_b, cand_a), np.where(flip, cand_a, cand_b)
    timings["blocking"] = time.perf_counter() - clock

    clock = time.perf_counter()
    if training:
        assert samples is not None
        kinds = groups.kind_of(det_group)
        rng = np.random.default_rng(config.random_seed + 2)
        for kind in config.deterministic_keys:
            chosen = np.flatnonzero(kinds == kind)
            if len(chosen) > per_rule:
                chosen = np.sort(rng.choice(chosen, per_rule, replace=False))
            samples[kind] = (det.a[chosen], det.b[chosen])
        model = train(columns, n, samples, config)
        model.region = frame.region
    timings["training"] = time.perf_counter() - clock

    clock = time.perf_counter()
    # Pass 1, in chunks to bound memory: the Bayes factor of every candidate pair, and the evidence against it
    # from contact details, address and birth date (for the confident non-match guard).
    contact = [i for i, name in enumerate(FIELD_NAMES) if name not in ("given_name", "family_name")]
    total_pairs = len(cand_a)
    factors = np.zeros(total_pairs, dtype=np.float64)
    against = np.zeros(total_pairs, dtype=np.float32)
    levels = np.zeros((total_pairs, len(FIELD_NAMES)), dtype=np.int8)
    similarity = {
        name: np.zeros(total_pairs, dtype=np.float32)
        for name in ("given_name", "family_name", "address", "given_edits")
    }
    swapped = np.zeros(total_pairs, dtype=bool)
    assert model is not None
    for start in range(0, total_pairs, _CHUNK):
        stop = min(start + _CHUNK, total_pairs)
        a, b = cand_a[start:stop], cand_b[start:stop]
        chunk = compare(columns, a, b, config.workers)
        weights = match_weights(chunk, columns, a, model)
        factors[start:stop] = weights.sum(axis=1)
        against[start:stop] = weights[:, contact].sum(axis=1)
        levels[start:stop] = chunk.levels
        swapped[start:stop] = chunk.swapped
        for name, values in chunk.similarity.items():
            similarity[name][start:stop] = values
    if training:
        model.prior = estimate_prior(factors, n * (n - 1) / 2)
    probability = 1.0 / (1.0 + np.exp2(-np.clip(factors + model.prior_weight(), -60, 60)))
    kept = np.flatnonzero(probability >= min(config.review_probability, config.match_probability))
    review_count = int(((probability >= config.review_probability) & (probability < config.match_probability)).sum())
    # The comparisons and scores of the pairs worth keeping, as evidence.
    comparison = Comparison(
        levels=levels[kept],
        similarity={name: values[kept].astype(np.float64) for name, values in similarity.items()},
        swapped=swapped[kept],
    )
    del levels, similarity, swapped
    scores = score(comparison, columns, cand_a[kept], model)
    dob_common = birth_date_errors_common(model, config)
    known = known_names(model) if dob_common else frozenset()
    pairs = ScoredPairs(
        a=cand_a[kept],
        b=cand_b[kept],
        comparison=comparison,
        scores=scores,
        conflict=_conflicts(
            comparison, config, dob_common, given_slips(columns, cand_a[kept], cand_b[kept], comparison, known)
        ),
    )
    pairs.names_only = (
        names_only(comparison) if not config.link_on_names_alone else np.zeros(len(comparison.levels), dtype=bool)
    )
    linked = np.flatnonzero(
        (pairs.scores.probability >= config.match_probability) & (pairs.conflict == "") & ~pairs.names_only
    )
    prob = Edges(
        pairs.a[linked], pairs.b[linked], np.full(len(linked), PROBABILISTIC, dtype=np.int8),
        pairs.scores.probability[linked],
    )  # fmt: skip
    timings["scoring"] = time.perf_counter() - clock

    clock = time.perf_counter()
    steward_a: list[int] = []
    steward_b: list[int] = []
    never: dict[int, set[int]] = {}
    if overrides:
        for ka, kb in sorted(overrides.force):
            if ka in row_of and kb in row_of:
                steward_a.append(row_of[ka])
                steward_b.append(row_of[kb])
        for ka, kb in overrides.never:
            if ka in row_of and kb in row_of:
                never.setdefault(row_of[ka], set()).add(row_of[kb])
                never.setdefault(row_of[kb], set()).add(row_of[ka])
    steward = Edges(
        np.asarray(steward_a, dtype=np.int64), np.asarray(steward_b, dtype=np.int64),
        np.full(len(steward_a), RULE_INDEX["steward_merge"], dtype=np.int8), np.ones(len(steward_a)),
    )  # fmt: skip
    prob, linked = _unambiguous_names(pairs, Edges.concat([steward, det, prob]), prob, linked, config, n)
    edges = Edges.concat([steward, det, prob])
    edge_group = np.concatenate([np.full(len(steward), -1), det_group, np.full(len(prob), -1)])
    edge_pair = np.concatenate([np.full(len(steward) + len(det), -1), linked.astype(np.int64)])
    linked_rows = np.zeros(n, dtype=bool)
    for part in (steward, det, prob):
        linked_rows[part.a] = True
        linked_rows[part.b] = True
    low = np.flatnonzero((against < -config.conflict_weight) & linked_rows[cand_a] & linked_rows[cand_b])
    conflicts = set((cand_a[low] * n + cand_b[low]).tolist()) if config.conflict_weight > 0 else set()
    clustering = build_clusters(frame, edges, ranks, config, never, conflicts, dob_common, known)
    if training:
        model.registers = infer_registers(frame.array("source"), clustering.labels)
    registers = registers_for(config, model.registers)
    before = len(edges)
    edges, edge_group, edge_pair, clustering = _apply_one_to_one(
        frame, pairs, edges, edge_group, edge_pair, clustering, registers, config, never, conflicts
    )
    proposals = _proposals(pairs, edges, edge_pair, clustering, config, never)
    review_count = len(proposals)
    timings["clustering"] = time.perf_counter() - clock
    return BatchResult(
        frame=frame, model=model, groups=groups, edges=edges, edge_group=edge_group, edge_pair=edge_pair,
        pairs=pairs, clustering=clustering, candidate_count=len(cand_a), review_count=review_count,
        skipped_blocks=skipped, timings=timings, key_rank=ranks, block_codes=block_codes, proposals=proposals,
        registers=registers, one_to_one=len(edges) - before,
    )  # fmt: skip
