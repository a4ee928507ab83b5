"""Why true pairs are missed: each true pair the engine left apart, sorted into the step that lost it.

    python -m benchmarks.identity_misses --level medium --shape zipf [--people 3000] [--show 10]
    python -m benchmarks.identity_misses --jsonl records.jsonl --truth truth.json

Generated email-less sets (benchmarks/corrupted_people.py) or any JSONL file with a truth file (record key
`source:source_id` -> person) are resolved as `canalis identity resolve` does; every true pair whose records
ended in different customers is put in one class:

- `not_blocked`: no blocking key brought the two records together;
- `below_review`: compared, scored below the review probability;
- `review_band`: scored between the review and match probabilities (proposed, not applied);
- `vetoed:<why>`: scored above the match probability but vetoed pairwise (given name or birth date conflict);
- `names_only`: scored on names alone and left for review;
- `guard:<reason>`: linked, but refused by a cluster guard;
- `indirect`: scored as a link and accepted, yet the records ended apart (a split after the fact).

Counts per class are printed as JSON, then up to `--show` examples of each class with the two records' fields
and the field levels and weights behind the score.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from canalis.identity import IdentityConfig, IdentityEngine, IdentityRecord
from canalis.identity.blocking import candidate_pairs
from canalis.identity.compare import FIELD_NAMES, FIELDS, compare, score_columns
from canalis.identity.resolver import _conflicts, birth_date_errors_common, given_slips, known_names, names_only
from canalis.identity.scoring import match_weights

_SHOWN = ("given_name", "family_name", "birth_date", "street", "postcode", "city")


def _load(args: argparse.Namespace) -> tuple[list[dict], dict[str, str]]:
    if args.jsonl:
        rows = [json.loads(line) for line in Path(args.jsonl).read_text(encoding="utf-8").splitlines() if line]
        return rows, json.loads(Path(args.truth).read_text(encoding="utf-8"))
    from benchmarks.corrupted_people import PeopleSpec, generate

    return generate(PeopleSpec(people=args.people, level=args.level, shape=args.shape, seed=args.seed))


def classify(rows: list[dict], truth: dict[str, str], config: IdentityConfig) -> tuple[Counter, dict, dict]:
    """Counts of missed true pairs by class, examples by class, and the overall pairwise figures."""
    records = [IdentityRecord.from_mapping(row) for row in rows]
    engine = IdentityEngine(config)
    resolution = engine.resolve(records)
    batch = resolution.batch
    assert batch is not None and engine.model is not None
    frame = batch.frame
    row_of = {key: i for i, key in enumerate(frame.key)}
    labels = batch.clustering.labels
    by_person: dict[str, list[int]] = defaultdict(list)
    for key, person in truth.items():
        by_person[person].append(row_of[key])
    missed_a: list[int] = []
    missed_b: list[int] = []
    true_pairs = 0
    for members in by_person.values():
        members.sort()
        for i, x in enumerate(members):
            for y in members[i + 1 :]:
                true_pairs += 1
                if labels[x] != labels[y]:
                    missed_a.append(x)
                    missed_b.append(y)
    predicted = sum(int(c) * (int(c) - 1) // 2 for c in np.bincount(labels))
    correct = true_pairs - len(missed_a)
    totals = {"true_pairs": true_pairs, "predicted_pairs": predicted, "missed": len(missed_a),
              "precision": round(correct / max(predicted, 1), 4),
              "recall": round(correct / max(true_pairs, 1), 4)}  # fmt: skip
    n = len(frame)
    cand_a, cand_b, _, _ = candidate_pairs(frame, config.block_limits())
    candidates = set((np.minimum(cand_a, cand_b) * n + np.maximum(cand_a, cand_b)).tolist())
    a = np.asarray(missed_a, dtype=np.int64)
    b = np.asarray(missed_b, dtype=np.int64)
    columns = score_columns(frame)
    comparison = compare(columns, a, b, config.workers)
    weights = match_weights(comparison, columns, a, engine.model)
    total = weights.sum(axis=1) + engine.model.prior_weight()
    probability = 1.0 / (1.0 + np.exp2(-np.clip(total, -60, 60)))
    common = birth_date_errors_common(engine.model, config)
    slips = given_slips(columns, a, b, comparison, known_names(engine.model) if common else frozenset())
    conflict = _conflicts(comparison, config, common, slips)
    alone = names_only(comparison)
    refused = {}
    edges = batch.edges
    for e, reason in batch.clustering.reasons.items():
        x, y = int(edges.a[e]), int(edges.b[e])
        refused[(min(x, y), max(x, y))] = reason
    counts: Counter = Counter()
    examples: dict[str, list[dict]] = defaultdict(list)
    for i, (x, y) in enumerate(zip(a.tolist(), b.tolist(), strict=True)):
        if x * n + y not in candidates:
            kind = "not_blocked"
        elif probability[i] < config.review_probability:
            kind = "below_review"
        elif probability[i] < config.match_probability:
            kind = "review_band"
        elif conflict[i]:
            kind = f"vetoed:{conflict[i]}"
        elif alone[i]:
            kind = "names_only"
        elif (x, y) in refused:
            kind = f"guard:{refused[(x, y)]}"
        else:
            kind = "indirect"
        counts[kind] += 1
        if len(examples[kind]) < 50:
            fields = {
                name: f"{FIELDS[name][int(comparison.levels[i, j])]} {weights[i, j]:+.1f}"
                for j, name in enumerate(FIELD_NAMES)
                if comparison.levels[i, j]
            }
            show = [{f: getattr(frame.record[r], f) for f in _SHOWN} for r in (x, y)]
            examples[kind].append({"p": round(float(probability[i]), 4), "w": round(float(total[i]), 1),
                                   "fields": fields, "records": show})  # fmt: skip
    return counts, examples, totals


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--level", default="medium")
    parser.add_argument("--shape", default="zipf")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--jsonl", default=None)
    parser.add_argument("--truth", default=None)
    parser.add_argument("--show", type=int, default=5)
    args = parser.parse_args(argv)
    rows, truth = _load(args)
    counts, examples, totals = classify(rows, truth, IdentityConfig())
    print(json.dumps({"totals": totals, "missed_by_class": dict(counts.most_common())}))
    for kind, found in examples.items():
        for example in found[: args.show]:
            print(json.dumps({"class": kind, **example}, default=str))


if __name__ == "__main__":
    main()
