"""Clusters: a union-find over links that refuses over-merges, and stable customer ids across runs."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from canalis.identity.compare import dob_compatible, dob_distance, given_confirms, given_misspelt, names_compatible
from canalis.identity.config import IdentityConfig
from canalis.identity.features import Frame
from canalis.identity.keys import name_codes

# Link rules, strongest first: a link's position is its priority when clusters are built.
RULES: tuple[str, ...] = ("steward_merge", "external_id", "loyalty_id", "email", "phone", "probabilistic")
RULE_INDEX: dict[str, int] = {rule: i for i, rule in enumerate(RULES)}
# Rules strong enough to merge records whose names disagree (birth date conflicts still block them).
NAME_PROOF: frozenset[str] = frozenset({"steward_merge", "external_id", "loyalty_id"})
# A link is accepted when its two records end in one customer, refused (by a guard) when they do not.
ACCEPTED, REFUSED = 0, 1
STATUS_NAMES: tuple[str, ...] = ("accepted", "refused")
_MAX_KEPT_NAMES = 8


@dataclass
class Edges:
    """Links to consider, as parallel arrays of frame rows, rule index and score (1.0 for deterministic links)."""

    a: np.ndarray
    b: np.ndarray
    rule: np.ndarray
    score: np.ndarray

    @classmethod
    def concat(cls, parts: Iterable[Edges]) -> Edges:
        """One edge set from several."""
        parts = list(parts)
        if not parts:
            return cls.empty()
        return cls(*(np.concatenate([getattr(p, name) for p in parts]) for name in ("a", "b", "rule", "score")))

    @classmethod
    def empty(cls) -> Edges:
        """No edges."""
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.float64))

    def __len__(self) -> int:
        return len(self.a)


@dataclass
class Clustering:
    """The outcome of clustering: a label per row, what each link did, and flags per cluster."""

    labels: np.ndarray
    order: np.ndarray
    status: np.ndarray
    reasons: dict[int, str]
    attach: list[int]
    flags: dict[int, set[str]] = field(default_factory=dict)

    def members(self) -> dict[int, list[int]]:
        """Rows by cluster label."""
        out: dict[int, list[int]] = {}
        for row, label in enumerate(self.labels.tolist()):
            out.setdefault(label, []).append(row)
        return out


def edge_order(edges: Edges, key_rank: np.ndarray) -> np.ndarray:
    """Deterministic processing order: rule strength, then score (high first), then record keys."""
    ra, rb = key_rank[edges.a], key_rank[edges.b]
    return np.lexsort((np.maximum(ra, rb), np.minimum(ra, rb), -edges.score, edges.rule))


def connected_components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Label of each row's connected component (the smallest row in it), vectorised."""
    parent = np.arange(n, dtype=np.int64)
    if len(a) == 0:
        return parent
    while True:
        pa, pb = parent[a], parent[b]
        differ = pa != pb
        if not differ.any():
            return parent
        low, high = np.minimum(pa, pb)[differ], np.maximum(pa, pb)[differ]
        np.minimum.at(parent, high, low)
        while True:
            jumped = parent[parent]
            if np.array_equal(jumped, parent):
                break
            parent = jumped


def _dirty_components(
    frame: Frame, comp: np.ndarray, config: IdentityConfig, never: dict[int, set[int]], conflicts: set[int]
) -> np.ndarray:
    """Components where a guard might refuse a link (every other component simply merges)."""
    n = len(frame)
    dirty = np.zeros(n, dtype=bool)
    sizes = np.bincount(comp, minlength=n)
    dirty[sizes > config.max_cluster_size] = True
    for x, partners in never.items():
        for y in partners:
            if comp[x] == comp[y]:
                dirty[comp[x]] = True
    if conflicts:
        codes = np.fromiter(conflicts, dtype=np.int64, count=len(conflicts))
        x, y = codes // n, codes % n
        same = comp[x] == comp[y]
        dirty[comp[x[same]]] = True
    if config.large_profile_records:
        dirty[sizes >= 2 * config.large_profile_records] = True
    if config.one_record_per_source:
        source = frame.array("source")
        rows = np.flatnonzero(np.isin(source, list(config.one_record_per_source)))
        if len(rows):
            codes = np.fromiter(map(hash, source[rows].tolist()), dtype=np.int64, count=len(rows))
            held, counts = np.unique(np.stack([comp[rows], codes], axis=1), axis=0, return_counts=True)
            dirty[held[counts > 1, 0]] = True
    multi = sizes[comp] > 1
    dob = frame.array("dob")
    has_dob = multi & (dob > 0)
    low = np.full(n, np.iinfo(np.int64).max)
    high = np.full(n, -1)
    np.minimum.at(low, comp[has_dob], dob[has_dob])
    np.maximum.at(high, comp[has_dob], dob[has_dob])
    varied = np.zeros(n, dtype=bool)
    varied[(high >= 0) & (low != high)] = True
    codes = name_codes(frame)
    named = multi & (codes != -1)
    low = np.full(n, np.iinfo(np.int64).max)
    high = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(low, comp[named], codes[named])
    np.maximum.at(high, comp[named], codes[named])
    varied[(high != np.iinfo(np.int64).min) & (low != high)] = True
    given, family = frame.given, frame.family
    varied &= ~dirty
    if varied.any():
        candidates = np.flatnonzero(varied[comp])
        order = candidates[np.argsort(comp[candidates], kind="stable")]
        labels = comp[order]
        starts = np.flatnonzero(np.r_[True, labels[1:] != labels[:-1]])
        threshold = config.given_name_conflict_below
        for start, stop in zip(starts.tolist(), [*starts[1:].tolist(), len(order)], strict=True):
            members = order[start:stop].tolist()
            dobs = sorted({frame.dob[r] for r in members} - {0})
            if any(not dob_compatible(x, y) for i, x in enumerate(dobs) for y in dobs[i + 1 :]):
                dirty[labels[start]] = True
                continue
            people = sorted({(given[r], family[r]) for r in members} - {("", "")})
            if any(
                not names_compatible(p[0], p[1], q[0], q[1], threshold)
                for i, p in enumerate(people)
                for q in people[i + 1 :]
            ):
                dirty[labels[start]] = True
    return dirty


def _identity_conflict(
    da: set[int], db: set[int], na: list, nb: list, rule: int, name_proof: set[int], probabilistic: int,
    threshold: float, dob_errors_common: bool, misspelt: Callable[[], bool] | None = None,
) -> str | None:  # fmt: skip
    """Why two clusters cannot be one person, or None.

    Key links (email, phone) need birth dates that may be one (no pair further apart than two edits) and names
    that may be one. A scored link already weighed both: it is refused only when neither the birth dates nor
    the given names of the two clusters have anything in common (one of them may have been replaced).
    `misspelt`: whether the clusters' main given names are one name and a misspelling of it (`given_misspelt`),
    asked only when a birth date conflict needs it.
    """
    dob_ok = not da or not db or da == db or any(dob_compatible(x, y) for x in da for y in db)
    # Where the data shows birth dates often replaced in matches, given names that are the same (in place or
    # swapped with the family name), or one misspelt, outweigh a birth date conflict.
    if rule == probabilistic:
        names_ok = (
            not na
            or not nb
            or any(names_compatible(ga, fa, gb, fb, threshold, given_only=True) for ga, fa in na for gb, fb in nb)
        )
        dob_confirms = bool(da & db) or any(dob_distance(x, y) <= 1 for x in da for y in db)
        if not names_ok and not dob_confirms:
            return "name_conflict"
        if not dob_ok and not (
            dob_errors_common
            and (
                any(given_confirms(ga, fa, gb, fb) for ga, fa in na for gb, fb in nb)
                or (misspelt is not None and misspelt())
            )
        ):
            return "birth_date_conflict"
        return None
    if not dob_ok:
        return "birth_date_conflict"
    if rule in name_proof or not na or not nb:
        return None
    if not any(names_compatible(ga, fa, gb, fb, threshold) for ga, fa in na for gb, fb in nb):
        return "name_conflict"
    return None


def weak_bridges(edges: Edges, accepted: np.ndarray, below: float, min_side: int = 2) -> np.ndarray:
    """Accepted scored links under `below` that alone hold a cluster together, with `min_side` records or more
    on each side: a cluster joined by one doubtful link is split there (the link goes up for review)."""
    probabilistic = RULE_INDEX["probabilistic"]
    weak = np.flatnonzero(accepted & (edges.rule == probabilistic) & (edges.score < below))
    if not len(weak):
        return weak
    used = np.flatnonzero(accepted)
    # Only the clusters holding a weak link are searched: the graph is built for their links alone.
    component = connected_components(int(max(edges.a.max(), edges.b.max())) + 1, edges.a[used], edges.b[used])
    searched = np.zeros(len(component), dtype=bool)
    searched[component[edges.a[weak]]] = True
    used = used[searched[component[edges.a[used]]]]
    neighbours: dict[int, list[tuple[int, int]]] = {}
    for e, x, y in zip(used.tolist(), edges.a[used].tolist(), edges.b[used].tolist(), strict=True):
        neighbours.setdefault(x, []).append((y, e))
        neighbours.setdefault(y, []).append((x, e))
    out: list[int] = []
    removed: set[int] = set()
    for e in weak.tolist():
        start, goal = int(edges.a[e]), int(edges.b[e])
        seen, stack = {start}, [start]
        while stack and goal not in seen:
            node = stack.pop()
            for other, via in neighbours.get(node, ()):
                if via != e and via not in removed and other not in seen:
                    seen.add(other)
                    stack.append(other)
        if goal in seen or len(seen) < min_side:
            continue
        other_side, stack = {goal}, [goal]
        while stack and len(other_side) < min_side:
            node = stack.pop()
            for other, via in neighbours.get(node, ()):
                if via != e and via not in removed and other not in other_side:
                    other_side.add(other)
                    stack.append(other)
        if len(other_side) >= min_side:
            out.append(e)
            removed.add(e)
    return np.asarray(out, dtype=np.int64)


def build_clusters(
    frame: Frame,
    edges: Edges,
    key_rank: np.ndarray,
    config: IdentityConfig,
    never: dict[int, set[int]] | None = None,
    conflicts: set[int] | None = None,
    dob_errors_common: bool = False,
    known_names: Container[str] = frozenset(),
) -> Clustering:
    """Clusters from the links, refusing links that would break a guard.

    Guards: never-merge pairs (always), the cluster size limit (but for steward merges, which are flagged),
    conflicting birth dates (but for steward merges) and, for email, phone and scored links, names that
    no pair across the two clusters shares, or a pair across them scored as a confident non-match
    (`conflicts` holds those pairs as `low * n + high`). Connected groups of records where no guard can fire
    are merged at once; the others go through a union-find that takes links strongest first.
    A link is accepted when its records end in one cluster, refused (with the guard's reason) otherwise;
    each record is attached by its strongest accepted link.
    """
    n = len(frame)
    never = never or {}
    conflicts = conflicts or set()
    order = edge_order(edges, key_rank) if len(edges) else np.zeros(0, dtype=np.int64)
    comp = connected_components(n, edges.a, edges.b)
    dirty = _dirty_components(frame, comp, config, never, conflicts) if len(edges) else np.zeros(n, dtype=bool)
    labels = comp.copy()
    reasons: dict[int, str] = {}
    flags: dict[int, set[str]] = {}
    if dirty.any():
        dirty_order = order[dirty[comp[edges.a[order]]]]
        roots, reasons, flags = _constrained_union(
            frame, edges, dirty_order, config, never, conflicts, dob_errors_common, known_names
        )
        rows = np.flatnonzero(dirty[comp])
        labels[rows] = np.asarray(roots, dtype=np.int64)[rows]
    same = labels[edges.a] == labels[edges.b] if len(edges) else np.zeros(0, dtype=bool)
    if config.split_weak_bridges and len(edges):
        bridges = weak_bridges(edges, same, config.bridge_probability)
        if len(bridges):
            same[bridges] = False
            labels = connected_components(n, edges.a[same], edges.b[same])
            same = labels[edges.a] == labels[edges.b]
            reasons.update({int(e): "weak_bridge" for e in bridges.tolist()})
    status = np.where(same, ACCEPTED, REFUSED).astype(np.int8)
    reasons = {e: r for e, r in reasons.items() if not same[e]}
    position = np.empty(len(edges), dtype=np.int64)
    position[order] = np.arange(len(edges))
    first = np.full(n, len(edges), dtype=np.int64)
    accepted = np.flatnonzero(same)
    np.minimum.at(first, edges.a[accepted], position[accepted])
    np.minimum.at(first, edges.b[accepted], position[accepted])
    attach = (
        np.where(first < len(edges), order[np.minimum(first, max(len(edges) - 1, 0))], -1).tolist()
        if len(edges)
        else [-1] * n
    )
    return Clustering(labels=labels, order=order, status=status, reasons=reasons, attach=attach, flags=flags)


def _constrained_union(
    frame: Frame,
    edges: Edges,
    order: np.ndarray,
    config: IdentityConfig,
    never: dict[int, set[int]] | None = None,
    conflicts: set[int] | None = None,
    dob_errors_common: bool = False,
    known_names: Container[str] = frozenset(),
) -> tuple[list[int], dict[int, str], dict[int, set[str]]]:
    """Union-find over the given links in order, refusing a union that would break a guard.

    Returns the root of every row, the refusal reason per refused link, and flags per root.

    Where birth dates are often replaced in matches (`dob_errors_common`), each cluster's main given name (the
    one most of its records hold) is followed: a birth date conflict is outweighed when the main given name of
    one cluster, held by two of its records or more, has a misspelling for the other's (`given_misspelt` with
    `known_names`). The main names, not any pair across the clusters: a misspelt record inside a profile (tiom
    in Tim's) is no reason to join a household member (Tom); and two records each alone with its name (Emma,
    Gemma) do not show which one is misspelt.

    Guards: never-merge pairs (always), the cluster size limit (but for steward merges, which are flagged),
    conflicting birth dates (but for steward merges) and, for email, phone and scored links, names that
    no pair across the two clusters shares, or a pair across them scored as a confident non-match
    (`conflicts` holds those pairs as `low * n + high`).
    """
    n = len(frame)
    parent = list(range(n))
    size = [1] * n
    dobs: dict[int, set[int]] = {}
    names: dict[int, list[tuple[str, str]]] = {}
    never = never or {}
    blocked: dict[int, set[int]] = {row: set(rows) for row, rows in never.items()}
    reasons: dict[int, str] = {}
    flags: dict[int, set[str]] = {}
    ea, eb, erule = edges.a.tolist(), edges.b.tolist(), edges.rule.tolist()
    dob, given, family = frame.dob, frame.given, frame.family
    threshold = config.given_name_conflict_below
    limit = config.max_cluster_size
    steward = RULE_INDEX["steward_merge"]
    probabilistic = RULE_INDEX["probabilistic"]
    name_proof = {RULE_INDEX[r] for r in NAME_PROOF}

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    single_sources = frozenset(config.one_record_per_source)
    large = config.large_profile_records
    sources: dict[int, set[str]] = {}
    source = frame.source

    def source_set(root: int) -> set[str]:
        return sources.get(root) or {source[root]}

    def dob_set(root: int) -> set[int]:
        found = dobs.get(root)
        if found is None:
            return {dob[root]} if dob[root] else set()
        return found

    def name_list(root: int) -> list[tuple[str, str]]:
        found = names.get(root)
        if found is None:
            return [(given[root], family[root])] if given[root] or family[root] else []
        return found

    conflicts = conflicts or set()
    members: dict[int, list[int]] = {}
    follow_given = dob_errors_common and bool(known_names)
    name_counts: dict[int, tuple[Counter[str], Counter[str]]] = {}

    def name_count(root: int) -> tuple[Counter[str], Counter[str]]:
        found = name_counts.get(root)
        if found is None:
            return Counter([given[root]] if given[root] else []), Counter([family[root]] if family[root] else [])
        return found

    def main_name(counts: Counter[str]) -> tuple[str, int]:
        """The name more records of the cluster hold than any other, and how many; none when two names tie
        (chelsea, khelsea: which one is misspelt?)."""
        top = counts.most_common(2)
        if not top or (len(top) == 2 and top[1][1] == top[0][1]):
            return "", 0
        return top[0]

    def supported_misspelling(x: str, cx: int, y: str, cy: int) -> bool:
        """One name held by two records or more of its cluster, the other a misspelling of it held by no other
        record of the data (`given_misspelt`)."""
        supported = (cx >= 2 and x in known_names and y not in known_names) or (
            cy >= 2 and y in known_names and x not in known_names
        )
        return supported and given_misspelt(x, y, known_names)

    def misspelt_main(ra: int, rb: int) -> bool:
        """The main given names of the two clusters are a name and a misspelling of it (`supported_misspelling`),
        in place, or with the main names of one cluster swapped: its main given name the other's main family
        name, its main family name a misspelling of the other's main given name."""
        (ga, fa), (gb, fb) = name_count(ra), name_count(rb)
        (x, cx), (y, cy) = main_name(ga), main_name(gb)
        if supported_misspelling(x, cx, y, cy):
            return True
        (fx, cfx), (fy, cfy) = main_name(fa), main_name(fb)
        return bool(fx and y == fx and supported_misspelling(x, cx, fy, cfy)) or bool(
            fy and x == fy and supported_misspelling(fx, cfx, y, cy)
        )

    def member_list(root: int) -> list[int]:
        return members.get(root) or [root]

    def confident_non_match(ra: int, rb: int) -> bool:
        for x in member_list(ra):
            for y in member_list(rb):
                if (x * n + y if x < y else y * n + x) in conflicts:
                    return True
        return False

    for e in order.tolist():
        a, b, rule = ea[e], eb[e], erule[e]
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        reason = None
        if blocked and (ra in blocked or rb in blocked):
            small, other = (ra, rb) if len(blocked.get(ra, ())) <= len(blocked.get(rb, ())) else (rb, ra)
            if any(find(x) == other for x in blocked.get(small, ())):
                reason = "never_merge"
        if reason is None and rule != steward and size[ra] + size[rb] > limit:
            reason = "size_limit"
        if reason is None and single_sources and rule != steward:
            shared = source_set(ra) & source_set(rb) & single_sources
            if shared:
                reason = "same_source"
        if reason is None and rule == probabilistic and large and min(size[ra], size[rb]) >= large:
            reason = "large_profiles"
        if reason is None and rule != steward:
            reason = _identity_conflict(
                dob_set(ra),
                dob_set(rb),
                name_list(ra),
                name_list(rb),
                rule,
                name_proof,
                probabilistic,
                threshold,
                dob_errors_common,
                partial(misspelt_main, ra, rb) if follow_given and rule == probabilistic else None,
            )
        if (
            reason is None
            and conflicts
            and rule not in name_proof
            and size[ra] + size[rb] > 2
            and confident_non_match(ra, rb)
        ):
            reason = "confident_non_match"
        if reason is not None:
            reasons[e] = reason
            flags.setdefault(ra, set()).add(reason)
            flags.setdefault(rb, set()).add(reason)
            continue
        if size[ra] < size[rb]:
            ra, rb = rb, ra
        parent[rb] = ra
        size[ra] += size[rb]
        if conflicts:
            members[ra] = member_list(ra) + member_list(rb)
            members.pop(rb, None)
        if single_sources:
            sources[ra] = source_set(ra) | source_set(rb)
            sources.pop(rb, None)
        if follow_given:
            (ga, fa), (gb, fb) = name_count(ra), name_count(rb)
            ga.update(gb)  # the counts of ra are its own (a fresh pair for a single record): updated in place
            fa.update(fb)
            name_counts[ra] = (ga, fa)
            name_counts.pop(rb, None)
        merged_dobs = dob_set(ra) | dob_set(rb)
        if merged_dobs:
            dobs[ra] = merged_dobs
        merged_names = name_list(ra)
        for item in name_list(rb):
            if item not in merged_names and len(merged_names) < _MAX_KEPT_NAMES:
                merged_names = [*merged_names, item]
        if merged_names:
            names[ra] = merged_names
        if rb in blocked or ra in blocked:
            blocked[ra] = blocked.get(ra, set()) | blocked.pop(rb, set())
        if rb in flags:
            flags.setdefault(ra, set()).update(flags.pop(rb))
        if rule == steward and size[ra] > limit:
            flags.setdefault(ra, set()).add("oversized")
        dobs.pop(rb, None)
        names.pop(rb, None)
    roots = [find(i) for i in range(n)]
    final_flags: dict[int, set[str]] = {}
    for root, found in flags.items():
        final_flags.setdefault(find(root), set()).update(found)
    return roots, reasons, final_flags


# --- Stable ids ------------------------------------------------------------------------------------


class _Either:
    """Membership in either of two containers."""

    def __init__(self, first: Container[str], second: Container[str]) -> None:
        self.first, self.second = first, second

    def __contains__(self, item: object) -> bool:
        return item in self.second or item in self.first


def mint_id(anchor: str, taken: Container[str] | None = None) -> str:
    """A deterministic customer id from the cluster's first record key; a counter avoids ids already used."""
    attempt = 0
    while True:
        seed = anchor if attempt == 0 else f"{anchor}#{attempt}"
        candidate = "cu_" + hashlib.blake2b(seed.encode(), digest_size=10).hexdigest()
        if not taken or candidate not in taken:
            return candidate
        attempt += 1


@dataclass(slots=True)
class IdEvent:
    """A change of customer ids: new, merged (alias kept), split (new id from an old one) or retired."""

    kind: str
    customer_id: str
    other_id: str | None = None


def assign_ids(
    clusters: Sequence[Sequence[str]],
    previous: dict[str, str],
    age: dict[str, tuple],
    taken: Container[str],
) -> tuple[list[str], list[IdEvent]]:
    """Give each cluster (its sorted record keys) an id, keeping ids stable across runs.

    An old id stays with the cluster holding most of its records (ties: the cluster with the smallest key);
    a cluster holding several old ids keeps the oldest by `age` and the others become its aliases; a cluster
    holding none gets a new id minted from its first record key. `taken` holds every id ever issued.
    """
    if not previous:
        used_fresh: set[str] = set()
        fresh: list[str] = []
        for keys in clusters:
            new_id = mint_id(keys[0], _Either(taken, used_fresh))
            used_fresh.add(new_id)
            fresh.append(new_id)
        return fresh, [IdEvent("new", cid) for cid in fresh]
    counts: list[Counter[str]] = [Counter(previous[k] for k in keys if k in previous) for keys in clusters]
    holder: dict[str, tuple[int, str, int]] = {}
    for index, (keys, found) in enumerate(zip(clusters, counts, strict=True)):
        first = keys[0]
        for old, count in found.items():
            best = holder.get(old)
            if best is None or (-count, first) < (-best[0], best[1]):
                holder[old] = (count, first, index)
    claims: dict[int, list[str]] = {}
    for old, (_, _, index) in holder.items():
        claims.setdefault(index, []).append(old)
    ids: list[str] = []
    events: list[IdEvent] = []
    used: set[str] = set()
    for index, keys in enumerate(clusters):
        held = claims.get(index)
        if held:
            held.sort(key=lambda cid: (age.get(cid, (float("inf"),)), cid))
            survivor = held[0]
            ids.append(survivor)
            events.extend(IdEvent("merged", other, survivor) for other in held[1:])
            continue
        new_id = mint_id(keys[0], _Either(taken, used))
        used.add(new_id)
        ids.append(new_id)
        found = counts[index]
        if found:
            origin = sorted(found.items(), key=lambda item: (-item[1], item[0]))[0][0]
            events.append(IdEvent("split", new_id, origin))
        else:
            events.append(IdEvent("new", new_id))
    still = set(ids)
    aliased = {e.customer_id for e in events if e.kind == "merged"}
    for old in sorted(set(previous.values()) - still - aliased):
        if old not in holder:
            events.append(IdEvent("retired", old))
    return ids, events
