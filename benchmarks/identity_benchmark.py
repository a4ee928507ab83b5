"""Benchmark of Canalis identity resolution: quality on the sandbox world, speed and memory at scale.

    python benchmarks/identity_benchmark.py [--customers N] [--records N] [--seed S] [--world-dir DIR]

Quality: a sandbox world of `--customers` people is generated (connectors/sandbox/world) and its identity
records resolved; pairwise precision, recall and F1 are computed against the world's ground truth, and the
trap pairs (households sharing an email, namesakes, people sharing a company's contact address or a store's
phone) merged by mistake are counted.

Speed: `--records` records are resolved in full (features, keys, blocking, training, scoring, clustering,
ids, golden records), then 10,000 held-out records are resolved incrementally against that state. Generating
a sandbox world of a million records takes many minutes, so by default the speed set is synthesised from the
quality world: each person is cloned into new people (new names drawn from the world's own names, new
emails, phone numbers, loyalty numbers, street numbers and birth dates), keeping how each system spells them
(case, accents, phone formats, swapped names, missing fields). `--speed-world DIR` uses a generated world
instead. Peak memory is the process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from canalis.identity import IdentityConfig, IdentityEngine, IdentityRecord
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world import WorldSpec, generate_world, iter_identity_records
from canalis.sandbox.world.generate import store_path

INCREMENTAL_RECORDS = 10_000


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_world(directory: Path, customers: int, seed: int) -> list[dict[str, Any]]:
    """The identity records of a sandbox world, generated into `directory` unless already there."""
    marker = directory / f"identity-benchmark-{seed}-{customers}.done"
    if not marker.exists():
        generate_world(WorldSpec(seed=seed, customers=customers), directory)
        marker.write_text("ok")
    store = ObjectStore(store_path(directory))
    try:
        return list(iter_identity_records(store))
    finally:
        store.close()


def to_records(rows: Iterable[dict[str, Any]]) -> tuple[list[IdentityRecord], dict[str, str]]:
    """IdentityRecords and the ground truth (record key -> person id)."""
    records, truth = [], {}
    for row in rows:
        record = IdentityRecord.from_mapping(row)
        records.append(record)
        truth[record.key] = row["truth_person_id"]
    return records, truth


def pairs_of(groups: dict[str, list[str]]) -> int:
    return sum(len(keys) * (len(keys) - 1) // 2 for keys in groups.values())


def quality(engine: IdentityEngine, truth: dict[str, str]) -> dict[str, float]:
    """Pairwise precision, recall and F1 of the engine's clusters against the truth."""
    by_customer: dict[str, list[str]] = defaultdict(list)
    by_person: dict[str, list[str]] = defaultdict(list)
    both: dict[tuple[str, str], int] = defaultdict(int)
    for key, person in truth.items():
        customer = engine.customer_of(key)
        by_customer[customer].append(key)
        by_person[person].append(key)
        both[(customer, person)] += 1
    predicted = pairs_of(by_customer)
    actual = pairs_of(by_person)
    correct = sum(n * (n - 1) // 2 for n in both.values())
    precision = correct / predicted if predicted else 1.0
    recall = correct / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 5), "recall": round(recall, 5), "f1": round(f1, 5),
            "predicted_pairs": predicted, "true_pairs": actual}  # fmt: skip


def trap_merges(engine: IdentityEngine, rows: list[dict[str, Any]], records: list[IdentityRecord]) -> dict:
    """Pairs of different people sharing an email or phone (households, company addresses, store phones) or a
    full name (namesakes) whose records were merged."""
    by_key: dict[tuple[str, str], set[str]] = defaultdict(set)
    for row, record in zip(rows, records, strict=True):
        person = row["truth_person_id"]
        if record.email:
            by_key[("email", record.email.strip().lower())].add(person)
        if record.phone:
            digits = "".join(ch for ch in record.phone if ch.isdigit())[-9:]
            by_key[("phone", digits)].add(person)
        if record.given_name and record.family_name:
            name = " ".join(sorted((fold(record.given_name), fold(record.family_name))))
            by_key[("namesake", name)].add(person)
    customers_of: dict[str, set[str]] = defaultdict(set)
    for row, record in zip(rows, records, strict=True):
        customers_of[row["truth_person_id"]].add(engine.customer_of(record.key))
    traps: dict[str, set[tuple[str, str]]] = defaultdict(set)
    merged: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for (kind, _), people in by_key.items():
        people_list = sorted(people)
        for i, a in enumerate(people_list):
            for b in people_list[i + 1 :]:
                traps[kind].add((a, b))
                if customers_of[a] & customers_of[b]:
                    merged[kind].add((a, b))
    return {kind: {"trap_pairs": len(traps[kind]), "merged": len(merged[kind])} for kind in sorted(traps)}


def fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().strip()


# --- synthesising a large population from the world's people ----------------------------------------


def _style(surface: str, base: str) -> str:
    """Spell `base` the way `surface` was spelled (upper, lower, no accents)."""
    out = base
    if surface.isascii() and not base.isascii():
        out = unicodedata.normalize("NFKD", out).encode("ascii", "ignore").decode()
    if surface.isupper():
        out = out.upper()
    elif surface.islower():
        out = out.lower()
    return out


def _swap_digits(text: str, digits: str) -> str:
    """Replace the last len(digits) digits of `text`, keeping its spaces, dots and prefixes."""
    chars = list(text)
    positions = [i for i, ch in enumerate(chars) if ch.isdigit()][-len(digits) :]
    for i, digit in zip(positions, digits[-len(positions) :], strict=True):
        chars[i] = digit
    return "".join(chars)


def name_pools(seed: int) -> tuple[list[str], list[str]]:
    """Given and family names drawn with Faker (French and British), as many as a large population holds."""
    from faker import Faker

    givens: set[str] = set()
    families: set[str] = set()
    for locale, share in (("fr_FR", 4), ("en_GB", 1)):
        faker = Faker(locale)
        faker.seed_instance(seed)
        for _ in range(3000 * share):
            givens.add(faker.first_name())
            families.add(faker.last_name())
    return sorted(givens), sorted(families)


def clone_population(rows: list[dict[str, Any]], total: int, seed: int) -> Iterator[dict[str, Any]]:
    """`total` records: the world's records, then clones of its people under new identities.

    A clone gets a new given and family name (from Faker's name lists, so that names are as varied as in a
    real population), email, phone digits, loyalty number, street number and birth date, each spelled the way
    the original record spelled its own (case, accents, phone format, swapped names, missing fields).
    """
    rng = random.Random(seed)
    people: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        people[row["truth_person_id"]].append(row)
    givens, families = name_pools(seed)
    made = 0
    for row in rows[:total]:
        made += 1
        yield row
    clone = 0
    persons = sorted(people)
    while made < total:
        clone += 1
        for person in persons:
            for row in _clone_person(people[person], f"{person}~{clone}", clone, givens, families, rng):
                if made >= total:
                    return
                made += 1
                yield row


def _canonical(values: list[str]) -> str:
    for value in values:
        if value and not value.isupper() and not value.islower():
            return value
    return values[0] if values else ""


def _clone_person(records: list[dict[str, Any]], new_id: str, clone: int, givens: list[str],
                  families: list[str], rng: random.Random) -> list[dict[str, Any]]:  # fmt: skip
    old_given = _canonical([r["given_name"] for r in records if r.get("given_name")])
    old_family = _canonical([r["family_name"] for r in records if r.get("family_name")])
    new_given, new_family = rng.choice(givens), rng.choice(families)
    phone_digits = f"{rng.randrange(10**8):08d}"
    loyalty = f"FID{rng.randrange(10**8):08d}"
    shift = timedelta(days=rng.randint(-4000, 4000))
    number = str(rng.randint(1, 199))
    out = []
    for row in records:
        new = dict(row)
        new["source_id"] = f"{row['source_id']}~{clone}"
        new["truth_person_id"] = new_id
        for field in ("given_name", "family_name"):
            surface = row.get(field)
            if not surface:
                continue
            if fold(surface) == fold(old_given):
                new[field] = _style(surface, new_given)
            elif fold(surface) == fold(old_family):
                new[field] = _style(surface, new_family)
            else:
                new[field] = _style(surface, new_given if field == "given_name" else new_family)
        if row.get("email"):
            local, _, domain = row["email"].partition("@")
            swapped = local
            for old, fresh in ((old_given, new_given), (old_family, new_family)):
                if old:
                    swapped = swapped.replace(fold(old).replace(" ", ""), fold(fresh).replace(" ", "").replace("'", ""))
            if swapped == local:
                swapped = f"{local}{clone}"
            new["email"] = f"{swapped}@{domain}"
        if row.get("phone"):
            new["phone"] = _swap_digits(row["phone"], phone_digits)
        if row.get("loyalty_id"):
            new["loyalty_id"] = loyalty
        if row.get("street"):
            parts = row["street"].split(" ", 1)
            new["street"] = f"{number} {parts[1]}" if len(parts) == 2 and parts[0][:1].isdigit() else row["street"]
        if row.get("birth_date"):
            from datetime import date

            new["birth_date"] = (date.fromisoformat(str(row["birth_date"])[:10]) + shift).isoformat()
        out.append(new)
    return out


# --- runs ----------------------------------------------------------------------------------------


def run_quality(world_dir: Path, customers: int, seed: int, config: IdentityConfig) -> dict:
    rows = load_world(world_dir, customers, seed)
    records, truth = to_records(rows)
    engine = IdentityEngine(config)
    started = time.perf_counter()
    resolution = engine.resolve(records)
    seconds = time.perf_counter() - started
    return {
        "customers": customers,
        "records": len(records),
        **quality(engine, truth),
        "trap_merges": trap_merges(engine, rows, records),
        "merged_trap_pairs": sum(v["merged"] for v in trap_merges(engine, rows, records).values()),
        "customers_found": resolution.report.customers_total,
        "seconds": round(seconds, 3),
        "model": engine.model.describe() if engine.model else None,
    }, rows


def run_speed(source: Iterable[dict[str, Any]], total: int, seed: int, config: IdentityConfig) -> dict:
    """Full resolution of `total` records from `source`, then 10,000 more resolved incrementally."""
    started = time.perf_counter()
    records, truth = to_records(islice(source, total + INCREMENTAL_RECORDS))
    gc.collect()
    prepared = time.perf_counter() - started
    rng = random.Random(seed)
    extra_count = (
        min(INCREMENTAL_RECORDS, len(records) // 10)
        if len(records) < total + INCREMENTAL_RECORDS
        else (INCREMENTAL_RECORDS)
    )
    held_out = set(rng.sample(range(len(records)), extra_count))
    base = [r for i, r in enumerate(records) if i not in held_out]
    extra = [records[i] for i in sorted(held_out)]
    engine = IdentityEngine(config)
    gc.collect()
    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    resolution = engine.resolve(base)
    full_seconds = time.perf_counter() - started
    full_cpu = time.process_time() - cpu_started
    report = resolution.report
    del resolution
    started, cpu_started = time.perf_counter(), time.process_time()
    update = engine.update(extra)
    incremental_seconds = time.perf_counter() - started
    incremental_cpu = time.process_time() - cpu_started
    result = {
        "records_full": len(base),
        "prepare_seconds": round(prepared, 2),
        "full_seconds": round(full_seconds, 2),
        "full_cpu_seconds": round(full_cpu, 2),
        "records_per_second": round(len(base) / full_seconds),
        "records_per_cpu_second": round(len(base) / full_cpu),
        "load_average_before": round(load_before, 2),
        "full_stage_seconds": report.timings,
        "candidate_pairs": report.candidate_pairs,
        "customers": report.customers_total,
        "incremental_records": len(extra),
        "incremental_seconds": round(incremental_seconds, 3),
        "incremental_cpu_seconds": round(incremental_cpu, 3),
        "incremental_resolved": update.report.records_resolved,
        "incremental_stage_seconds": update.report.timings,
        "peak_rss_mb": round(peak_rss_mb()),
    }
    scale = quality(engine, truth)
    result["quality_at_scale"] = {k: v for k, v in scale.items() if k in ("precision", "recall", "f1")}
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=WorldSpec().customers, help="people in the quality world")
    parser.add_argument("--records", type=int, default=1_000_000, help="records for the speed run (0: skip)")
    parser.add_argument("--seed", type=int, default=WorldSpec().seed)
    parser.add_argument("--world-dir", type=Path, default=None, help="where to generate (or find) the world")
    parser.add_argument(
        "--speed-world",
        type=Path,
        default=None,
        help="a generated world directory to take the speed records from, instead of clones",
    )
    args = parser.parse_args(argv)
    config = IdentityConfig()
    with tempfile.TemporaryDirectory(prefix="canalis-identity-bench-") as scratch:
        world_dir = args.world_dir or Path(scratch) / "world"
        quality_result, rows = run_quality(world_dir, args.customers, args.seed, config)
        model = quality_result.pop("model")
        print(json.dumps({"quality": quality_result}, indent=2))
        print(json.dumps({"model_weights": model}))
        if args.records:
            if args.speed_world is not None:
                store = ObjectStore(store_path(args.speed_world))
                try:
                    speed = run_speed(iter_identity_records(store), args.records, args.seed, config)
                finally:
                    store.close()
            else:
                source = clone_population(rows, args.records + INCREMENTAL_RECORDS, args.seed)
                speed = run_speed(source, args.records, args.seed, config)
            print(json.dumps({"speed": speed}, indent=2))
    print(f"peak_rss_mb={peak_rss_mb():.0f}")


if __name__ == "__main__":
    main()
