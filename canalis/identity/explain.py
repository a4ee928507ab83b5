"""Explanations: why two records are, or are not, the same customer."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from canalis.identity.clusters import ACCEPTED, RULES
from canalis.identity.compare import FIELD_NAMES, FIELDS, compare, score_columns
from canalis.identity.config import IdentityConfig
from canalis.identity.keys import DEMOTED, judge, row_values
from canalis.identity.records import IdentityRecord
from canalis.identity.resolver import (
    ScoredPairs,
    _conflicts,
    birth_date_errors_common,
    given_slips,
    known_names,
    resolve_frame,
)
from canalis.identity.scoring import MatchModel, default_model, score

if TYPE_CHECKING:
    from canalis.identity.engine import IdentityEngine


def _shared_keys(engine: IdentityEngine, ra: int, rb: int) -> list[dict]:
    frame = engine.frame
    out = []
    for kind in engine.config.deterministic_keys:
        for value in sorted(set(row_values(frame, kind, ra)) & set(row_values(frame, kind, rb))):
            members = engine._key_members(kind, value) or [ra, rb]
            sub = frame.take(members)
            local = {row: i for i, row in enumerate(members)}
            group = judge(sub, kind, value, list(range(len(members))), len(members), engine.config)
            together = group.status != DEMOTED and any(
                local[ra] in persona and local[rb] in persona for persona in group.personas
            )
            entry = group.evidence()
            entry["links_these_records"] = together
            out.append(entry)
    return out


def _pair_evidence(engine: IdentityEngine, ra: int, rb: int) -> dict:
    sub = engine.frame.take([ra, rb])
    columns = score_columns(sub)
    a, b = np.array([0]), np.array([1])
    comparison = compare(columns, a, b)
    model = engine.model or default_model()
    scores = score(comparison, columns, a, model)
    common = birth_date_errors_common(model, engine.config)
    known = known_names(model) if common else frozenset()
    conflict = _conflicts(comparison, engine.config, common, given_slips(columns, a, b, comparison, known))
    pairs = ScoredPairs(a, b, comparison, scores, conflict)
    return pairs.evidence(0)


def _path(engine: IdentityEngine, ra: int, rb: int) -> list[dict]:
    """The chain of links joining two records of one customer."""
    cid = engine.customer[ra]
    rows = sorted(engine.members.get(cid, []), key=engine.frame.key.__getitem__)
    if ra not in rows or rb not in rows:
        return []
    batch = resolve_frame(
        engine.frame.take(rows), engine.config, model=engine.model, overrides=engine.overrides,
        key_count=engine._key_count, block_size=engine._block_size,
    )  # fmt: skip
    local = {row: i for i, row in enumerate(rows)}
    graph: dict[int, list[tuple[int, int]]] = {}
    for e in np.flatnonzero(batch.clustering.status == ACCEPTED).tolist():
        a, b = int(batch.edges.a[e]), int(batch.edges.b[e])
        graph.setdefault(a, []).append((b, e))
        graph.setdefault(b, []).append((a, e))
    start, goal = local[ra], local[rb]
    came: dict[int, tuple[int, int]] = {start: (-1, -1)}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            break
        for other, e in sorted(graph.get(node, [])):
            if other not in came:
                came[other] = (node, e)
                queue.append(other)
    if goal not in came:
        return []
    steps = []
    node = goal
    while came[node][0] >= 0:
        prev, e = came[node]
        steps.append({
            "from": engine.frame.key[rows[prev]],
            "to": engine.frame.key[rows[node]],
            **batch.edge_evidence(e),
        })  # fmt: skip
        node = prev
    return steps[::-1]


def explain_rows(engine: IdentityEngine, ra: int, rb: int) -> dict:
    """The explanation of two rows of an engine's state."""
    frame = engine.frame
    ka, kb = frame.key[ra], frame.key[rb]
    ca, cb = engine.customer[ra], engine.customer[rb]
    same = ca is not None and ca == cb
    pair = tuple(sorted((ka, kb)))
    keys = _shared_keys(engine, ra, rb)
    evidence = _pair_evidence(engine, ra, rb)
    reasons: list[str] = []
    if pair in engine.overrides.never:
        reasons.append("a steward decided these records are different people (never_merge)")
    if pair in engine.overrides.force:
        reasons.append("a steward merged these records (force_merge)")
    for key in keys:
        if key["links_these_records"]:
            reasons.append(f"they share the {key['key']} {key['value']}")
        else:
            why = key.get("reason") or "the records holding it disagree"
            reasons.append(f"they share the {key['key']} {key['value']}, which is not used to link them ({why})")
    probability = evidence["probability"]
    conflict = evidence.get("conflict")
    if conflict == "birth_date":
        reasons.append("their birth dates conflict, so no weak evidence can merge them")
    elif conflict == "given_name":
        reasons.append("their given names conflict, so only a strong key can merge them")
    verdict = "at or above" if probability >= engine.config.match_probability else "below"
    reasons.append(
        f"field comparison gives probability {probability:.4f}, {verdict} the threshold "
        f"{engine.config.match_probability}"
    )
    path = _path(engine, ra, rb) if same else []
    if same and path and len(path) > 1:
        reasons.append(f"they are joined through {len(path)} links via other records")
    flags = engine.flags.get(ca or "", []) + (engine.flags.get(cb or "", []) if cb != ca else [])
    if not same and flags:
        reasons.append(f"guards refused links of these customers: {', '.join(sorted(set(flags)))}")
    return {
        "record_a": ka,
        "record_b": kb,
        "customer_a": ca,
        "customer_b": cb,
        "same_customer": same,
        "summary": ("same customer: " if same else "different customers: ") + "; ".join(reasons),
        "shared_keys": keys,
        "comparison": evidence,
        "path": path,
        "fields": {name: FIELDS[name][1:] for name in FIELD_NAMES},
    }


def explain(
    record_a: IdentityRecord,
    record_b: IdentityRecord,
    *,
    config: IdentityConfig | None = None,
    model: MatchModel | None = None,
) -> dict:
    """Explain two records on their own, with a trained model when given, else generic weights."""
    from canalis.identity.engine import IdentityEngine

    engine = IdentityEngine(config, model=model or default_model())
    engine.resolve([record_a, record_b])
    return engine.explain(record_a.key, record_b.key)


__all__ = ["RULES", "explain", "explain_rows"]
