"""Written-out target evaluators give what the rule interpreter gives, value for value and error for error."""

from __future__ import annotations

import pickle
import random
from pathlib import Path
from typing import Any

import pytest
import yaml

from canalis.connectors.registry import shipped_mappings
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.mappings.declarative.codegen import FieldFailure, target_code
from canalis.mappings.declarative.compiled import CompiledRule
from canalis.mappings.declarative.engine import MappingContext
from canalis.mappings.declarative.spec import Target
from canalis.mappings.declarative.transforms import TransformError
from canalis.sdk.errors import MappingError

# values a source may hold anywhere: empty, blank, padded text, dates, numbers, words, nested shapes
POOL: list[Any] = [
    None, "", "  ", " Lyon ", "abc", "ABC", "2024-02-29", "31/12/2023", "2024-01-02T10:00:00Z", "12.5", "12,5",
    "-3", "1e3", "true", "no", "closedwon", "COMPLAINT", "+33 6 12 34 56 78", "06 12 34 56 78", "léa@example.fr",
    "not-an-email", "France", "FR", "Atlantis", "1700000000000", 0, 7, 12.5, True, False, [], {}, ["x"], {"a": 1},
]  # fmt: skip


def reference(rules: list[tuple[str, CompiledRule]], raw: dict, item: Any, context_value) -> tuple:
    """The rule interpreter the evaluator replaces: CompiledRule.value per field, failures by field."""
    values: dict[str, Any] = {}
    invalid: dict[str, Any] = {}
    for field, rule in rules:
        try:
            value = rule.value(raw, item, context_value)
        except TransformError as error:
            if rule.flag:
                invalid[field] = {"raw": str(rule.raw_value(raw, item) or ""), "reason": str(error)}
                continue
            return ("failure", field, str(error))
        if value is None:
            if rule.required:
                return ("failure", field, "required value is missing")
            continue
        values[field] = value
    return ("ok", values, invalid or None)


def generated(rules: list[tuple[str, CompiledRule]], raw: dict, item: Any, context_value) -> tuple:
    evaluate = target_code(rules).build()
    try:
        values, invalid = evaluate(raw, item, context_value)
    except FieldFailure as failure:
        return ("failure", failure.field, failure.message)
    return ("ok", values, invalid)


PLAUSIBLE = {
    "datetime": "2024-01-02T10:00:00Z", "date": "2024-02-29", "decimal": "12.5", "integer": "7", "float": "1.5",
    "email": "ada@example.org", "phone_e164": "+33612345678", "country_code": "FR", "boolean": "true",
    "minor_units": "1250", "scale": "0.2",
}  # fmt: skip


def plausible(rule: CompiledRule, rng: random.Random) -> Any:
    """A value the rule's first transform accepts, so records also reach the end of the target."""
    for function, args in rule.calls:
        if "values" in args:  # a lookup: one of its keys
            return rng.choice(list(args["values"]) or ["x"])
        name = getattr(function, "__name__", "")
        for transform, value in PLAUSIBLE.items():
            if name in (transform, f"to_{transform}"):
                return value
    return rng.choice(["abc", "12", "Lyon"])


def _put(document: dict, parts: list[str], value: Any) -> None:
    current = document
    for part in parts[:-1]:
        current = current.setdefault(part, {}) if isinstance(current.get(part, {}), dict) else {}
    current[parts[-1]] = value


def random_record(rules: list[tuple[str, CompiledRule]], rng: random.Random) -> tuple[dict, Any]:
    """A record filling each rule's paths with values from the pool, sometimes leaving them out or breaking them."""
    raw: dict[str, Any] = {}
    item: dict[str, Any] = {"_index": rng.randrange(3)}
    for _, rule in rules:
        for from_item, parts in rule.paths:
            if rng.random() < 0.2:
                continue  # absent
            target = item if from_item else raw
            if rng.random() < 0.1 and len(parts) > 1:
                target[parts[0]] = rng.choice(["text", 3, ["a", {"b": "c"}]])  # a path through a non-dict
                continue
            if parts[-1].isdigit() and len(parts) > 1:  # a list index such as results.0.id
                _put(target, list(parts[:-1]), [rng.choice(POOL) for _ in range(rng.randrange(3))])
                continue
            _put(target, list(parts), plausible(rule, rng) if rng.random() < 0.6 else rng.choice(POOL))
    return raw, item


def _targets() -> list[tuple[str, str, Target]]:
    found = []
    for name, path in shipped_mappings().items():
        for stream, mapping in load_mapping(path).streams.items():
            found.extend((name, stream, target) for target in mapping.targets)
    return found


@pytest.mark.parametrize(("mapping", "stream", "target"), _targets(), ids=lambda value: getattr(value, "entity", value))
def test_every_shipped_target_evaluates_as_the_interpreter_does(mapping: str, stream: str, target: Target) -> None:
    rules = [(field, CompiledRule(rule, has_items=target.each is not None)) for field, rule in target.fields.items()]
    context = MappingContext(connection=mapping, channel="web", stream=stream).value
    rng = random.Random(f"{mapping}.{stream}.{target.entity}")
    outcomes = set()
    for _ in range(300):
        raw, item = random_record(rules, rng)
        expected = reference(rules, raw, item, context)
        assert generated(rules, raw, item, context) == expected, (raw, item)
        outcomes.add(expected[0])
    if any(rule.required for _, rule in rules):
        assert outcomes == {"ok", "failure"}  # the records reached both ends, so both were compared


RULES: dict[str, Any] = {
    "source_id": {"from": "id", "required": True},
    "given_name": {"from": ["first", "name.first"], "transforms": ["trim", "title"]},
    "family_name": {"from": "names.1", "transforms": ["upper"]},
    "email": {"from": "email", "transforms": ["email"], "on_invalid": "flag"},
    "phone": {"from": "phone", "transforms": ["phone_e164"]},
    "city": {"from": ["address.city", "town"], "join": " / "},
    "region": {"const": "  Nord  ", "transforms": ["trim", "lower"]},
    "country": {"from": "country", "transforms": ["country_code"], "default": "FR"},
    "loyalty_id": {"context": "connection"},
    "street": {"from": "street", "transforms": [{"truncate": {"length": 3}}], "default": ""},
}


def test_hand_made_rules_cover_every_origin_and_outcome() -> None:
    target = Target(entity="customer_record", fields=RULES)
    rules = [(field, CompiledRule(rule)) for field, rule in target.fields.items()]
    context = MappingContext(connection="shop", channel="web", stream="customers").value
    records = [
        {"id": "1", "first": " ada ", "names": ["x", "lovelace"], "email": "ADA@Example.org", "street": "Baker"},
        {"id": "2", "name": {"first": "grace"}, "email": "nope", "country": "Atlantis", "address": {"city": "Lille"}},
        {"id": "3", "first": "", "names": "not a list", "phone": "not a phone", "town": "Roubaix"},
        {"id": "5", "email": "nope", "address": {"city": "Lille"}, "town": "Roubaix"},
        {"id": "", "first": "x"},
        {"first": "no id"},
        {"id": "4", "street": "", "country": ""},
    ]
    outcomes = [reference(rules, record, None, context) for record in records]
    assert [generated(rules, record, None, context) for record in records] == outcomes
    assert outcomes[0][1]["given_name"] == "Ada" and outcomes[0][1]["street"] == "Bak"
    assert outcomes[1] == ("failure", "country", outcomes[1][2])  # Atlantis is no country: the record stops
    assert outcomes[2] == ("failure", "phone", outcomes[2][2]) and "phone" in outcomes[2][2]
    assert outcomes[3][2]["email"]["raw"] == "nope"  # flagged: the record goes on without it
    assert outcomes[3][1]["city"] == "Lille / Roubaix" and "email" not in outcomes[3][1]
    assert outcomes[4] == outcomes[5] == ("failure", "source_id", "required value is missing")
    assert outcomes[6][1]["country"] == "FR" and outcomes[6][1]["street"] == ""  # defaults, even an empty one
    assert outcomes[6][1]["region"] == "nord" and outcomes[6][1]["loyalty_id"] == "shop"


def test_a_mapper_sent_to_another_process_maps_the_same(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    document = {
        "mapping": "m",
        "connector": "file_drop",
        "streams": {"customers": {"targets": [{"entity": "customer_record", "fields": RULES}]}},
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    mapper = Mapper(load_mapping(path), connection="shop", channel="web")
    record = {"id": "9", "first": "lin", "email": "LIN@example.org"}
    before = mapper.map_record("customers", record)
    copy = pickle.loads(pickle.dumps(mapper))  # noqa: S301 - our own object, as a worker process receives it

    assert copy.map_record("customers", record) == before
    with pytest.raises(MappingError) as caught:
        copy.map_record("customers", {"first": "no id"})
    assert (caught.value.field, caught.value.record_key) == ("source_id", "?")
