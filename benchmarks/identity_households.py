"""Households across two registers: the one-to-one constraint against household members free in both files.

    python -m benchmarks.identity_households [--people 3000] [--levels medium,high] [--share 0.1] [--seed 7]
        [--shape pairs|zipf] [--replaced-dates 0.3] [--similar-names]

Two-file email-less sets (benchmarks/corrupted_people.py, `pairs` shape: one record per person in each file) get
households added: for a share of the people, two more members of the household (same family name and address,
another given name drawn from the data and another birth date, or none for `--missing-birth-dates` of them), one
only in each file. Both are then free on the other side, the case where a one-to-one constraint could join them.
Each set is resolved with the constraint off (`register_sources=()`) and learned (the default); pairwise
precision, recall and F1, the links the constraint made and the household members merged with anyone are
printed.

`--shape zipf` adds one household member to the one-file sets instead; `--replaced-dates` generates the sets with
that share of birth date errors replacing the date (the engine then learns that matches often carry unrelated
birth dates); `--similar-names` gives each member, where the data has one, a given name a keyboard slip from the
person's (one edit from three letters, two from six: Louis / Louise, Marcel / Marcelle), drawn from the original
records' names: the household members a typo rule could mistake for the person.
"""

from __future__ import annotations

import argparse
import json
import random

from benchmarks.corrupted_people import PeopleSpec, generate, pairwise_quality
from canalis.identity import IdentityConfig, IdentityEngine, IdentityRecord
from canalis.identity.compare import given_typo


def with_households(
    rows: list[dict], truth: dict[str, str], share: float, missing: float, seed: int, similar: bool = False
) -> tuple[list[dict], dict[str, str], list[str]]:
    """The rows plus household members (one per file) for `share` of the people, and their record keys."""
    rng = random.Random(seed)
    given = sorted({row["given_name"] for row in rows if row.get("given_name")})
    originals = [row for row in rows if row["source"] == "a" or row["source_id"].endswith("-org")]
    clean = sorted({row["given_name"] for row in originals if row.get("given_name")})
    added: list[dict] = []
    keys: list[str] = []
    truth = dict(truth)
    sides = sorted({row["source"] for row in rows})
    for i, row in enumerate(originals):
        if rng.random() >= share:
            continue
        near = [g for g in clean if g != row.get("given_name") and given_typo(g, row.get("given_name", ""))]
        for side in sides:
            born = (
                None
                if rng.random() < missing
                else f"{rng.randint(1930, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            )
            name = rng.choice(near) if similar and near else rng.choice(given)
            member = {**row, "source": side, "source_id": f"household-{i}-{side}", "given_name": name,
                      "date_of_birth": born}  # fmt: skip
            added.append(member)
            keys.append(f"{side}:household-{i}-{side}")
            truth[keys[-1]] = keys[-1]
    return rows + added, truth, keys


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=3000)
    parser.add_argument("--levels", default="medium,high")
    parser.add_argument("--share", type=float, default=0.1)
    parser.add_argument("--missing-birth-dates", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shape", choices=("pairs", "zipf"), default="pairs")
    parser.add_argument("--replaced-dates", type=float, default=0.0)
    parser.add_argument("--similar-names", action="store_true")
    args = parser.parse_args(argv)
    for level in args.levels.split(","):
        spec = PeopleSpec(people=args.people, level=level, shape=args.shape, seed=args.seed,
                          replaced_dates=args.replaced_dates)  # fmt: skip
        rows, truth = generate(spec)
        rows, truth, members = with_households(
            rows, truth, args.share, args.missing_birth_dates, args.seed + 1, args.similar_names
        )
        records = [IdentityRecord.from_mapping(row) for row in rows]
        for name, config in (("off", IdentityConfig(register_sources=())), ("learned", IdentityConfig())):
            engine = IdentityEngine(config)
            report = engine.resolve(records).report
            quality = pairwise_quality({key: engine.customer_of(key) for key in truth}, truth)
            merged = sum(len(engine.members[engine.customer_of(key)]) > 1 for key in members)
            print(json.dumps({"level": level, "one_to_one": name, "records": len(records), **quality,
                              "registers": report.register_sources, "one_to_one_links": report.one_to_one_links,
                              "household_members": len(members), "household_members_merged": merged}))  # fmt: skip


if __name__ == "__main__":
    main()
