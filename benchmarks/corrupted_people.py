"""Generated person records without email or phone, with controlled corruption, and their ground truth.

The kind of data store tills, paper loyalty forms, ERP partners and legacy CRMs hold: given name, family name,
street number and lines, suburb, postcode, state and date of birth. Each person gets an original record and
duplicates; every duplicate receives a number of modifications drawn for its corruption level:

- typos: a character inserted, deleted, substituted or two swapped (also a space lost or added);
- phonetic variants (ph/f, ck/k, ie/y...);
- missing values;
- a value replaced by another person's (a new family name, another street: a move or a wrong entry);
- given and family names swapped; words of an address line reordered;
- street types abbreviated (street -> st) or written out;
- postcode digits changed or swapped; dates of birth with a digit changed, two digits swapped, day and month
  swapped or the year off by one;
- with `replaced_dates` (0 by default), that share of the date-of-birth modifications replaces the date with
  an unrelated one instead, as in keyed-in legacy data (the engine then learns that matches often carry
  unrelated birth dates).

Two shapes, as in the public record-linkage benchmarks: `pairs` (one duplicate per person, originals in file
`a` and duplicates in file `b`) and `zipf` (one file, up to `max_duplicates` duplicates per person, most people
with few). Names and places come from Faker's English-speaking locales, so the sets share nothing with the
sandbox's French world. Nothing here is fitted to any public data set.

    python benchmarks/corrupted_people.py --people 5000 --level medium --shape zipf --out people.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

FIELDS: tuple[str, ...] = (
    "given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode", "state",
    "date_of_birth",
)  # fmt: skip
# How many modifications a duplicate receives, by level (inclusive range), and the share of exact copies.
LEVELS: dict[str, tuple[int, int]] = {"low": (1, 2), "medium": (1, 4), "high": (2, 6), "extreme": (4, 8)}
# Relative chance that a modification hits each field.
FIELD_WEIGHTS: dict[str, float] = {
    "given_name": 1.0, "surname": 1.0, "street_number": 0.5, "address_1": 1.0, "address_2": 0.5, "suburb": 0.8,
    "postcode": 0.8, "state": 0.4, "date_of_birth": 0.9, "swap_names": 0.15,
}  # fmt: skip
SUFFIXES: dict[str, str] = {
    "street": "st", "road": "rd", "avenue": "ave", "place": "pl", "crescent": "cres", "court": "ct",
    "drive": "dr", "lane": "ln", "circuit": "cct", "close": "cl", "parade": "pde", "terrace": "tce",
    "boulevard": "blvd", "highway": "hwy", "square": "sq", "way": "wy", "grove": "gr", "gardens": "gdns",
}  # fmt: skip
PHONETIC: tuple[tuple[str, str], ...] = (
    ("ph", "f"), ("f", "ph"), ("ck", "k"), ("ie", "y"), ("y", "ie"), ("ae", "e"), ("ll", "l"), ("nn", "n"),
    ("c", "k"), ("k", "c"), ("ss", "s"), ("tt", "t"), ("ee", "ea"), ("ou", "ow"), ("s", "z"), ("mm", "m"),
)  # fmt: skip
STATES: dict[str, tuple[str, ...]] = {
    "en_AU": ("nsw", "vic", "qld", "wa", "sa", "tas", "act", "nt"),
    "en_US": ("ca", "ny", "tx", "fl", "pa", "oh", "il", "wa", "ga", "mi"),
    "en_GB": ("", ),
}  # fmt: skip


@dataclass(frozen=True)
class PeopleSpec:
    """What to generate."""

    people: int = 2000
    level: str = "medium"
    shape: str = "zipf"
    max_duplicates: int = 9
    missing_share: float = 0.03
    locale: str = "en_AU"
    seed: int = 7
    replaced_dates: float = 0.0


@lru_cache(maxsize=8)
def pools(locale: str, seed: int) -> dict[str, list[str]]:
    """Given names, surnames, street names, suburbs and postcodes to draw people from."""
    from faker import Faker

    names = Faker(["en_AU", "en_US", "en_GB", "en_IE", "en_NZ"])
    names.seed_instance(seed)
    places = Faker(locale)
    places.seed_instance(seed + 1)
    given = sorted({names.first_name().lower() for _ in range(6000)})
    surnames = sorted({names.last_name().lower() for _ in range(10_000)})
    streets = sorted({places.street_name().lower() for _ in range(6000)})
    localities = sorted({places.city().lower() for _ in range(4000)})
    postcodes = sorted({places.postcode().replace(" ", "") for _ in range(4000)})
    return {"given": given, "surname": surnames, "street": streets, "suburb": localities, "postcode": postcodes,
            "state": list(STATES.get(locale, ("",)))}  # fmt: skip


def _person(rng: random.Random, pool: dict[str, list[str]]) -> dict[str, str]:
    born = date(1925, 1, 1) + timedelta(days=rng.randrange(80 * 365))
    street = rng.choice(pool["street"])
    if street.split()[-1] in SUFFIXES and rng.random() < 0.1:
        street = " ".join(street.split()[:-1]) + " " + SUFFIXES[street.split()[-1]]
    return {
        "given_name": rng.choice(pool["given"]),
        "surname": rng.choice(pool["surname"]),
        "street_number": str(int(rng.paretovariate(1.2) * 3)),
        "address_1": street,
        "address_2": rng.choice(pool["suburb"]) + rng.choice(("", " village", " estate", " manor", " house"))
        if rng.random() < 0.4
        else "",
        "suburb": rng.choice(pool["suburb"]),
        "postcode": rng.choice(pool["postcode"]),
        "state": rng.choice(pool["state"]),
        "date_of_birth": born.strftime("%Y%m%d") if rng.random() > 0.05 else "",
    }


# --- modifications ---------------------------------------------------------------------------------


def typo(value: str, rng: random.Random) -> str:
    """One keyboard slip: a character inserted, deleted, substituted, two swapped, or a space lost or added."""
    if not value:
        return value
    alphabet = string.digits if value.isdigit() else string.ascii_lowercase
    i = rng.randrange(len(value))
    kind = rng.choice(("insert", "delete", "substitute", "transpose", "space"))
    if kind == "insert":
        return value[:i] + rng.choice(alphabet) + value[i:]
    if kind == "delete" and len(value) > 1:
        return value[:i] + value[i + 1 :]
    if kind == "transpose" and len(value) > 1:
        i = min(i, len(value) - 2)
        return value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    if kind == "space" and " " in value:
        j = value.index(" ")
        return value[:j] + rng.choice(("", alphabet[rng.randrange(len(alphabet))])) + value[j + 1 :]
    return value[:i] + rng.choice(alphabet) + value[i + 1 :]


def phonetic(value: str, rng: random.Random) -> str:
    """A sound-alike spelling, or a typo when no rule applies."""
    rules = [(a, b) for a, b in PHONETIC if a in value]
    if not rules:
        return typo(value, rng)
    a, b = rng.choice(rules)
    return value.replace(a, b, 1)


def abbreviate(value: str, rng: random.Random) -> str:
    """The street type abbreviated (or written out), or words reordered when there is none."""
    words = value.split()
    for i, word in enumerate(words):
        if word in SUFFIXES:
            words[i] = SUFFIXES[word]
            return " ".join(words)
        for full, short in SUFFIXES.items():
            if word == short:
                words[i] = full
                return " ".join(words)
    if len(words) > 1:
        rng.shuffle(words)
        return " ".join(words)
    return typo(value, rng)


def date_error(value: str, rng: random.Random) -> str:
    """A date of birth typed wrongly: a digit changed, two swapped, day and month swapped, or the year off by one."""
    if len(value) != 8:
        return value
    kind = rng.choice(("digit", "transpose", "day_month", "year"))
    if kind == "day_month" and int(value[6:8]) <= 12:
        return value[:4] + value[6:8] + value[4:6]
    if kind == "year":
        return f"{int(value[:4]) + rng.choice((-1, 1)):04d}" + value[4:]
    if kind == "transpose":
        i = rng.randrange(7)
        return value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    i = rng.randrange(2, 8)
    return value[:i] + rng.choice(string.digits) + value[i + 1 :]


def digit_error(value: str, rng: random.Random) -> str:
    """A postcode or street number with a digit changed or two swapped."""
    if not value:
        return value
    if len(value) > 1 and rng.random() < 0.3:
        i = rng.randrange(len(value) - 1)
        return value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    i = rng.randrange(len(value))
    return value[:i] + rng.choice(string.digits) + value[i + 1 :]


def _modify(
    record: dict[str, str], field: str, rng: random.Random, pool: dict[str, list[str]], replaced_dates: float = 0.0
) -> None:
    if field == "swap_names":
        record["given_name"], record["surname"] = record["surname"], record["given_name"]
        return
    value = record[field]
    roll = rng.random()
    replace_pool = {"given_name": "given", "surname": "surname", "address_1": "street", "suburb": "suburb",
                    "postcode": "postcode", "address_2": "suburb"}.get(field)  # fmt: skip
    if roll < 0.15 or not value:
        record[field] = "" if value else (rng.choice(pool[replace_pool]) if replace_pool else value)
        return
    if roll < 0.22 and replace_pool:
        record[field] = rng.choice(pool[replace_pool])
        return
    if field == "date_of_birth" and replaced_dates and rng.random() < replaced_dates:
        record[field] = (date(1925, 1, 1) + timedelta(days=rng.randrange(80 * 365))).strftime("%Y%m%d")
        return
    edits: dict[str, Callable[[str, random.Random], str]] = {
        "date_of_birth": date_error, "postcode": digit_error, "street_number": digit_error,
    }  # fmt: skip
    if field in edits:
        record[field] = edits[field](value, rng)
    elif field == "address_1" and roll < 0.45:
        record[field] = abbreviate(value, rng)
    elif field in ("given_name", "surname") and roll < 0.4:
        record[field] = phonetic(value, rng)
    else:
        record[field] = typo(value, rng)


def duplicate(
    original: dict[str, str], level: str, rng: random.Random, pool: dict[str, list[str]], replaced_dates: float = 0.0
) -> dict:
    """A corrupted copy of a record with as many modifications as the level draws."""
    low, high = LEVELS[level]
    record = dict(original)
    names = list(FIELD_WEIGHTS)
    weights = list(FIELD_WEIGHTS.values())
    for _ in range(rng.randint(low, high)):
        _modify(record, rng.choices(names, weights)[0], rng, pool, replaced_dates)
    return record


def _duplicate_count(rng: random.Random, spec: PeopleSpec) -> int:
    if spec.shape == "pairs":
        return 1
    # Few duplicates for most people, up to `max_duplicates` for some (a Zipf-like tail).
    if rng.random() < 0.35:
        return 0
    return min(spec.max_duplicates, int(rng.paretovariate(1.3)))


def generate(spec: PeopleSpec) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Records (JSON-ready dicts with source and source_id) and the truth: record key -> person id."""
    if spec.level not in LEVELS:
        raise ValueError(f"level must be one of {sorted(LEVELS)}")
    rng = random.Random(spec.seed)
    pool = pools(spec.locale, spec.seed)
    rows: list[dict[str, Any]] = []
    truth: dict[str, str] = {}
    for person in range(spec.people):
        original = _person(rng, pool)
        for field in FIELDS:
            if rng.random() < spec.missing_share:
                original[field] = ""
        copies = [original] + [
            duplicate(original, spec.level, rng, pool, spec.replaced_dates) for _ in range(_duplicate_count(rng, spec))
        ]
        for number, record in enumerate(copies):
            source = ("a" if number == 0 else "b") if spec.shape == "pairs" else "file"
            source_id = f"rec-{person}-{'org' if number == 0 else f'dup-{number - 1}'}"
            rows.append({"source": source, "source_id": source_id, **{k: v for k, v in record.items() if v}})
            truth[f"{source}:{source_id}"] = f"p{person}"
    rng.shuffle(rows)
    return rows, truth


def pairwise_quality(assigned: dict[str, str], truth: dict[str, str]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of clusters (record key -> cluster id) against the truth."""
    from collections import Counter

    def pairs(counter: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counter.values())

    predicted = pairs(Counter(assigned[k] for k in truth))
    actual = pairs(Counter(truth.values()))
    correct = pairs(Counter((assigned[k], truth[k]) for k in truth))
    precision = correct / predicted if predicted else 1.0
    recall = correct / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "true_pairs": actual, "predicted_pairs": predicted}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=PeopleSpec.people)
    parser.add_argument("--level", choices=sorted(LEVELS), default=PeopleSpec.level)
    parser.add_argument("--shape", choices=("pairs", "zipf"), default=PeopleSpec.shape)
    parser.add_argument("--locale", default=PeopleSpec.locale)
    parser.add_argument("--seed", type=int, default=PeopleSpec.seed)
    parser.add_argument(
        "--replaced-dates", type=float, default=0.0, help="share of date-of-birth modifications that replace the date"
    )
    parser.add_argument("--out", type=Path, required=True, help="JSONL of the records")
    parser.add_argument("--truth", type=Path, default=None, help="JSON of record key -> person id")
    args = parser.parse_args(argv)
    spec = PeopleSpec(people=args.people, level=args.level, shape=args.shape, locale=args.locale, seed=args.seed,
                      replaced_dates=args.replaced_dates)  # fmt: skip
    rows, truth = generate(spec)
    with args.out.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    if args.truth:
        args.truth.write_text(json.dumps(truth))
    pairs = pairwise_quality(truth, truth)["true_pairs"]
    print(json.dumps({"records": len(rows), "people": spec.people, "true_pairs": pairs}))


if __name__ == "__main__":
    main()
