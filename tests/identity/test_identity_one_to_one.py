"""The one-to-one constraint across registers: learned registers, free records, mutual best, and the gain on
two-file email-less data."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from benchmarks.corrupted_people import PeopleSpec, generate, pairwise_quality
from canalis.identity import IdentityConfig, IdentityEngine, IdentityRecord
from canalis.identity.cli import run_resolve
from canalis.identity.features import Frame
from canalis.identity.one_to_one import infer_registers, one_to_one_links, registers_for
from canalis.identity.scoring import MatchModel


def test_sources_matched_across_and_never_within_are_learned_as_registers() -> None:
    people = 100
    source = np.asarray(["a"] * people + ["b"] * people + ["c"] * 60)
    labels = np.concatenate([np.arange(people), np.arange(people), np.arange(200, 260)])
    assert infer_registers(source, labels) == ("a", "b"), "c is never matched: not a register"
    duplicated = labels.copy()
    duplicated[10:20] = 0  # ten records of a end with another record of a
    assert infer_registers(source, duplicated) == (), "a holds duplicates: one register left, no constraint"
    assert infer_registers(source[:people], labels[:people]) == ()


def test_registers_can_be_set_or_turned_off_in_config() -> None:
    assert registers_for(IdentityConfig(), ("a", "b")) == ("a", "b")
    assert registers_for(IdentityConfig(register_sources=()), ("a", "b")) == ()
    assert registers_for(IdentityConfig(register_sources=(), one_record_per_source=("x", "y")), ()) == ("x", "y")
    model = MatchModel(m={}, u={}, prior=0.1, registers=("a", "b"))
    assert MatchModel.from_dict(model.to_dict()).registers == ("a", "b")


def _frame(sources: list[str]) -> Frame:
    records = [IdentityRecord(s, str(i), family_name="Martin") for i, s in enumerate(sources)]
    return Frame.from_records(records, IdentityConfig())


def _links(frame: Frame, labels: list[int], pairs: list[tuple[int, int, float]], **kwargs) -> list[tuple[int, int]]:
    a = np.asarray([p[0] for p in pairs])
    b = np.asarray([p[1] for p in pairs])
    p = np.asarray([p[2] for p in pairs])
    found = one_to_one_links(frame, np.asarray(labels), a, b, p, np.ones(len(a), dtype=bool),
                             kwargs.pop("registers", ("a", "b")), IdentityConfig(), kwargs.pop("never", {}),
                             set())  # fmt: skip
    return [(int(a[i]), int(b[i])) for i in found.chosen]


def test_a_free_record_links_its_sole_free_candidate_but_not_beside_a_household_member() -> None:
    # Rows 0 (a) and 1 (b): one person, already matched. Rows 2 (a) and 3 (b): free, each other's only candidate.
    frame = _frame(["a", "b", "a", "b"])
    labels = [0, 0, 2, 3]
    assert _links(frame, labels, [(2, 3, 0.7)]) == [(2, 3)]
    assert _links(frame, labels, [(2, 3, 0.7)], registers=()) == []
    assert _links(frame, labels, [(2, 3, 0.7)], never={2: {3}, 3: {2}}) == []
    # Row 2 also scores with the matched person's record (a household member does): it is not linked at all.
    assert _links(frame, labels, [(2, 1, 0.9), (2, 3, 0.7)]) == []


def test_ties_rivals_and_pairs_within_one_source_are_not_linked() -> None:
    frame = _frame(["a", "b", "b", "a"])
    labels = [0, 1, 2, 3]
    assert _links(frame, labels, [(0, 1, 0.8), (0, 2, 0.8)]) == [], "two candidates: neither"
    assert _links(frame, labels, [(0, 3, 0.9)]) == [], "one register: never two records of it"
    assert _links(frame, labels, [(0, 1, 0.8), (3, 2, 0.7)]) == [(0, 1), (3, 2)]
    assert _links(frame, labels, [(0, 1, 0.8), (0, 2, 0.6), (3, 2, 0.7)]) == [], "0 and 2 each meet two clusters"


def test_two_files_without_duplicates_gain_recall_without_losing_precision(tmp_path: Path) -> None:
    rows, truth = generate(PeopleSpec(people=600, level="high", shape="pairs", seed=5))
    source = tmp_path / "people.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    results = {}
    for name, config in (("off", IdentityConfig(register_sources=())), ("learned", IdentityConfig())):
        target = tmp_path / f"{name}.jsonl"
        summary = run_resolve(source, target, config=config)
        assigned = {}
        for line in target.read_text().splitlines():
            found = json.loads(line)
            assigned[f"{found['source']}:{found['source_id']}"] = found["customer_id"]
        results[name] = (summary, pairwise_quality(assigned, truth))
    off, learned = results["off"], results["learned"]
    assert learned[0]["register_sources"] == ["a", "b"] and off[0]["register_sources"] == []
    assert off[0]["one_to_one_links"] == 0 < learned[0]["one_to_one_links"]
    assert learned[1]["recall"] > off[1]["recall"]
    assert learned[1]["precision"] >= off[1]["precision"]


def test_conflicting_given_names_link_only_between_registers_matched_almost_completely() -> None:
    # Ten people matched across a and b, and two free records (rows 20, 21) whose given names conflict.
    frame = _frame(["a"] * 10 + ["b"] * 10 + ["a", "b"])
    matched = [*range(10), *range(10)]
    a, b, p = np.asarray([20]), np.asarray([21]), np.asarray([0.97])
    nothing = np.zeros(1, dtype=bool)
    conflict = np.ones(1, dtype=bool)

    def links(labels: list[int]) -> int:
        found = one_to_one_links(frame, np.asarray(labels), a, b, p, nothing, ("a", "b"), IdentityConfig(), {},
                                 set(), covered_only=conflict)  # fmt: skip
        return len(found.chosen)

    assert links([*matched, 20, 21]) == 1, "ten of eleven clusters of a matched: coverage above the minimum"
    half = [*range(10), *range(30, 40)]  # the same records, no longer matched to each other
    assert links([*half, 20, 21]) == 0


def test_links_of_the_constraint_say_so_in_their_evidence(tmp_path: Path) -> None:
    rows, _ = generate(PeopleSpec(people=300, level="high", shape="pairs", seed=5))
    source = tmp_path / "people.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    target = tmp_path / "out.jsonl"
    summary = run_resolve(source, target, explain=True)
    marked = [
        (line["source_id"], link["matched_with"])
        for line in map(json.loads, target.read_text().splitlines())
        for link in line["links"]
        if link.get("one_to_one")
    ]
    assert summary["one_to_one_links"] > 0
    assert len(marked) == 2 * summary["one_to_one_links"], "both records of each such link carry it"


def test_household_members_free_in_both_files_stay_apart() -> None:
    # Two files of one record per person, plus households: two more members of a person's household (same
    # family name and address, other given names and birth dates), one only in each file, so both are free.
    rows, truth = generate(PeopleSpec(people=1500, level="high", shape="pairs", seed=9))
    rng = random.Random(4)
    given = sorted({row["given_name"] for row in rows if row.get("given_name")})
    members: list[str] = []
    for i, row in enumerate([row for row in rows if row["source"] == "a"][:150]):
        for side in ("a", "b"):
            born = f"{rng.randint(1930, 2000)}0{rng.randint(1, 9)}1{rng.randint(0, 9)}"
            member = {**row, "source": side, "source_id": f"h{i}{side}", "given_name": rng.choice(given),
                      "date_of_birth": born}  # fmt: skip
            rows.append(member)
            members.append(f"{side}:h{i}{side}")
            truth[members[-1]] = members[-1]
    records = [IdentityRecord.from_mapping(row) for row in rows]
    merged = {}
    for name, config in (("off", IdentityConfig(register_sources=())), ("learned", IdentityConfig())):
        engine = IdentityEngine(config)
        report = engine.resolve(records).report
        merged[name] = sum(len(engine.members[engine.customer_of(key)]) > 1 for key in members)
        if name == "learned":
            assert report.one_to_one_links > 0
    assert merged["learned"] <= merged["off"]
