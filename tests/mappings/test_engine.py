"""The mapping engine: canonical records out, or an error naming source, field and record."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from canalis.connectors.registry import shipped_mappings
from canalis.mappings.declarative import Mapper, load_mapping
from canalis.sdk.errors import ConfigError, MappingError


def _mapper(tmp_path: Path, document: dict) -> Mapper:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return Mapper(load_mapping(path), connection="shop", channel="web")


ORDERS = {
    "mapping": "t",
    "connector": "file_drop",
    "streams": {
        "orders": {
            "strict": True,
            "ignore": ["note"],
            "targets": [
                {
                    "entity": "order",
                    "fields": {
                        "source_id": {"from": "id", "required": True},
                        "customer_source_id": "customer.id",
                        "channel": {"context": "channel"},
                        "ordered_at": {"from": "created", "transforms": ["datetime"], "required": True},
                        "total_amount": {"from": "total", "transforms": [{"decimal": {"decimal_comma": True}}]},
                        "currency": {"const": "EUR"},
                    },
                },
                {
                    "entity": "order_line",
                    "each": "lines",
                    "fields": {
                        "order_source_id": "id",
                        "line_id": "item._index",
                        "sku": "item.sku",
                        "quantity": {"from": "item.qty", "transforms": ["decimal"]},
                    },
                },
            ],
        }
    },
}


def test_maps_a_record_to_several_entities(tmp_path: Path) -> None:
    mapper = _mapper(tmp_path, ORDERS)
    raw = {
        "id": "o1",
        "customer": {"id": "c9"},
        "created": "2026-02-01T10:00:00Z",
        "total": "12,50",
        "note": "gift",
        "lines": [{"sku": "A", "qty": "2"}, {"sku": "B", "qty": "1"}],
    }
    mapped = mapper.map_record("orders", raw)
    order = mapped[0].record
    assert order.total_amount == Decimal("12.50") and order.channel == "web" and order.customer_source_id == "c9"
    lines = [m.record for m in mapped[1:]]
    assert [(line.sku, line.quantity, line.line_id) for line in lines] == [
        ("A", Decimal(2), "0"),
        ("B", Decimal(1), "1"),
    ]
    assert mapper.streams_for("order_line") == ["orders"]


def test_errors_name_source_field_and_record(tmp_path: Path) -> None:
    mapper = _mapper(tmp_path, ORDERS)
    with pytest.raises(MappingError) as caught:
        mapper.map_record("orders", {"id": "o2", "created": "2026-02-01T10:00:00Z", "total": "abc"})
    assert caught.value.source == "shop" and caught.value.field == "total_amount" and caught.value.record_key == "o2"
    assert "shop.orders field 'total_amount' record 'o2'" in str(caught.value)
    with pytest.raises(MappingError, match="required value is missing"):
        mapper.map_record("orders", {"id": "o3"})


def test_strict_mapping_rejects_unknown_source_fields(tmp_path: Path) -> None:
    mapper = _mapper(tmp_path, ORDERS)
    with pytest.raises(MappingError, match="unknown source field 'coupon'"):
        mapper.map_record("orders", {"id": "o4", "created": "2026-02-01T10:00:00Z", "coupon": "X"})
    assert mapper.map_record("orders", {"id": "o5", "created": "2026-02-01T10:00:00Z", "_line": 3})


def test_invalid_values_can_be_flagged_instead_of_quarantined(tmp_path: Path) -> None:
    document = {
        "mapping": "c",
        "connector": "file_drop",
        "streams": {
            "customers": {
                "targets": [
                    {
                        "entity": "customer_record",
                        "fields": {
                            "source_id": "id",
                            "email": {"from": "email", "transforms": ["email"], "on_invalid": "flag"},
                        },
                    }
                ]
            }
        },
    }
    record = _mapper(tmp_path, document).map_record("customers", {"id": "1", "email": "nope"})[0].record
    assert record.email is None
    assert record.attributes["invalid_fields"]["email"]["raw"] == "nope"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["streams"]["orders"]["targets"][0].update(entity="invoice"), "unknown entity 'invoice'"),
        (lambda d: d["streams"]["orders"]["targets"][0]["fields"].update(colour="red"), "has no field 'colour'"),
        (
            lambda d: d["streams"]["orders"]["targets"][0]["fields"]["total_amount"].update(transforms=["rot13"]),
            "unknown transform 'rot13'",
        ),
    ],
)
def test_bad_mapping_files_fail_naming_file_and_field(tmp_path: Path, change, message: str) -> None:
    import copy

    document = copy.deepcopy(ORDERS)
    change(document)
    with pytest.raises(ConfigError, match=message) as caught:
        _mapper(tmp_path, document)
    assert "m.yaml" in str(caught.value)


def test_every_shipped_mapping_file_loads() -> None:
    shipped = shipped_mappings()
    assert "file_drop" in shipped and "file_drop:pos" in shipped and "hubspot" in shipped
    for name, path in shipped.items():
        assert path.parent.name == name.split(":")[0], f"{name}'s mapping lives outside its connector's package"
        assert load_mapping(path).streams


def test_item_paths_are_ordinary_paths_outside_each(tmp_path: Path) -> None:
    document = {
        "mapping": "s",
        "connector": "file_drop",
        "streams": {
            "levels": {
                "strict": True,
                "targets": [
                    {
                        "entity": "stock_level",
                        "fields": {
                            "sku": "item.sku",
                            "location": "location.name",
                            "on_hand": {"from": "qty", "transforms": ["decimal"]},
                        },
                    }
                ],
            }
        },
    }
    record = (
        _mapper(tmp_path, document)
        .map_record("levels", {"item": {"sku": "A-1"}, "location": {"name": "Paris"}, "qty": "4"})[0]
        .record
    )
    assert (record.sku, record.location, record.on_hand) == ("A-1", "Paris", Decimal(4))


def test_canonical_timestamps_need_a_timezone_and_are_kept_in_utc() -> None:
    from datetime import UTC, datetime, timedelta, timezone

    from pydantic import ValidationError

    from canalis.canonical.records import Consent, CustomerRecord

    paris = timezone(timedelta(hours=1))
    record = CustomerRecord(source_id="1", source_updated_at=datetime(2026, 1, 1, 0, 30, tzinfo=paris))
    assert record.source_updated_at == datetime(2025, 12, 31, 23, 30, tzinfo=UTC)
    assert record.source_updated_at.tzinfo is UTC
    with pytest.raises(ValidationError, match="timestamp has no timezone"):
        Consent(source_id="1", purpose="marketing", channel="email", status="granted", recorded_at=datetime(2026, 1, 1))
    assert CustomerRecord(source_id="1", given_name=" Ann ").given_name == "Ann"  # other fields as before


def test_canonical_records_are_flat_so_rows_can_be_built_from_their_fields() -> None:
    import typing

    from pydantic import BaseModel

    from canalis.canonical.entities import ENTITIES

    def models_in(annotation: object) -> list[type]:
        found = [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []
        return found + [model for arg in typing.get_args(annotation) for model in models_in(arg)]

    for name, entity in ENTITIES.items():
        record_type = entity.record_type
        assert record_type.model_config.get("extra") == "forbid", name
        nested = {field: models_in(info.annotation) for field, info in record_type.model_fields.items()}
        assert not any(nested.values()), f"{name} holds a nested model: rows would need model_dump"


def test_a_list_item_that_does_not_map_is_named_by_its_path_and_the_rest_maps(tmp_path: Path) -> None:
    mapper = _mapper(tmp_path, ORDERS)
    raw = {
        "id": "o6",
        "created": "2026-02-01T10:00:00Z",
        "lines": [{"sku": "A", "qty": "2"}, {"sku": "B", "qty": "two"}, {"sku": "C", "qty": "-1"}, "junk"],
    }
    records, failures = mapper.map_record_parts("orders", raw)
    assert [m.entity for m in records] == ["order", "order_line"]
    assert records[1].record.sku == "A"
    assert [(f.entity, f.path) for f in failures] == [
        ("order_line", "lines[1].qty"),
        ("order_line", "lines[2].qty"),
        ("order_line", "lines[3]"),  # no SKU and no price: not a line at all
    ]
    assert "'two' is not a number" in failures[0].error.reason
    assert "negative" in failures[1].error.reason
    assert "needs a SKU or a unit price" in failures[2].error.reason
    assert failures[0].error.record_key == "o6" and "shop.orders field 'lines[1].qty' record 'o6'" in str(
        failures[0].error
    )
    with pytest.raises(MappingError, match=r"lines\[1\]\.qty"):  # map_record keeps failing the record as a whole
        mapper.map_record("orders", raw)


def test_a_list_that_is_not_a_list_fails_the_record(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="'lines' should be a list"):
        _mapper(tmp_path, ORDERS).map_record_parts(
            "orders", {"id": "o7", "created": "2026-02-01T10:00:00Z", "lines": "<<corrupted>>"}
        )


def test_a_typo_in_a_strict_mapping_names_the_field_it_probably_meant(tmp_path: Path) -> None:
    import copy

    document = copy.deepcopy(ORDERS)
    document["streams"]["orders"]["targets"][0]["fields"]["ordered_at"]["from"] = "craeted"
    with pytest.raises(MappingError, match="unknown source field 'created'") as caught:
        _mapper(tmp_path, document).map_record("orders", {"id": "o8", "created": "2026-02-01T10:00:00Z"})
    assert "the mapping reads 'craeted'" in str(caught.value)


def _with_rule(change) -> dict:
    import copy

    document = copy.deepcopy(ORDERS)
    change(document["streams"]["orders"]["targets"][0])
    return document


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["fields"]["total_amount"].update(transforms=[{"decimal": {"places": "two"}}]),
            r"total_amount.transforms: .*transform 'decimal' argument 'places': Input should be a valid integer",
        ),
        (
            lambda t: t["fields"]["total_amount"].update(transforms=[{"decimal": {"decimal_coma": True}}]),
            r"transform 'decimal' has no argument 'decimal_coma' \(arguments: decimal_comma, places\)",
        ),
        (
            lambda t: t["fields"]["total_amount"].update(transforms=[{"lookup": {"default": 0}}]),
            "transform 'lookup' needs the argument 'values'",
        ),
        (
            lambda t: t["fields"]["ordered_at"].update(transforms=[{"datetime": {"timezone": "Europe/Pariss"}}]),
            "unknown time zone 'Europe/Pariss'",
        ),
        (
            lambda t: t["fields"]["total_amount"].update({"from": "totals..gross"}),
            "'totals..gross' is not a source path",
        ),
        (lambda t: t["fields"].pop("ordered_at"), "entity 'order' needs the field 'ordered_at'"),
        (lambda t: t.update(each="lines."), "'lines.' is not a source path"),
    ],
)
def test_every_part_of_a_mapping_is_checked_when_it_loads(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _mapper(tmp_path, _with_rule(change))
    text = str(caught.value)
    assert text.startswith("mapping file m.yaml: streams.orders.targets.0")


def test_transform_arguments_are_kept_as_their_types() -> None:
    from canalis.mappings.declarative.spec import FieldRule

    rule = FieldRule.model_validate({"from": "x", "transforms": [{"decimal": {"places": "2"}}]})
    assert rule.transforms[0].args == {"places": 2}


def test_a_transform_failing_in_an_unexpected_way_fails_that_value_only(tmp_path: Path) -> None:
    from canalis.mappings.declarative.transforms import TRANSFORMS, register_transform

    @register_transform("test_fragile")
    def fragile(value: object) -> object:
        return {"known": 1}[str(value)]  # a KeyError on anything else

    try:
        document = _with_rule(lambda t: t["fields"].update(status={"from": "state", "transforms": ["test_fragile"]}))
        mapper = _mapper(tmp_path, document)
        with pytest.raises(MappingError, match=r"field 'status'.*could not be transformed \(KeyError"):
            mapper.map_record("orders", {"id": "o9", "created": "2026-02-01T10:00:00Z", "state": "odd"})
        assert mapper.map_record("orders", {"id": "o9", "created": "2026-02-01T10:00:00Z", "state": "known"})
        with pytest.raises(MappingError, match="not a timestamp in epoch seconds"):
            mapper.map_record("orders", {"id": "o10", "created": 1e20})
    finally:
        TRANSFORMS.pop("test_fragile")


@pytest.mark.parametrize(
    ("values", "field", "reason"),
    [
        ({"birth_date": "2999-01-01"}, "birth_date", "the birth date is in the future"),
        ({"birth_date": "1850-06-01"}, "birth_date", "the birth date is before 1900-01-01"),
    ],
)
def test_birth_dates_out_of_range_are_refused_without_showing_the_date(values: dict, field: str, reason: str) -> None:
    from pydantic import ValidationError

    from canalis.canonical.records import CustomerRecord

    with pytest.raises(ValidationError) as caught:
        CustomerRecord.model_validate({"source_id": "1", **values})
    (error,) = caught.value.errors()
    assert error["loc"] == (field,) and reason in error["msg"]
    assert values[field] not in error["msg"]


@pytest.mark.parametrize(
    ("model", "values", "field", "reason"),
    [
        ("Order", {"total_amount": "1E+400"}, "total_amount", "out of range"),
        ("Order", {"total_amount": "NaN"}, "total_amount", "finite"),
        ("Order", {"total_amount": "-1"}, "total_amount", "negative"),
        ("Order", {"currency": "EUX"}, "currency", "not an ISO 4217 currency code"),
        ("Price", {"amount": "-0.01"}, "amount", "negative"),
        ("Promotion", {"discount_value": "120"}, None, "cannot exceed 100"),
        ("Interaction", {"satisfaction_score": float("inf")}, "satisfaction_score", "finite"),
        ("StockLevel", {"on_hand": "-99999999999999", "reserved": "99999999999999"}, None, "out of range"),
    ],
)
def test_canonical_values_out_of_range_are_refused_with_the_reason(
    model: str, values: dict, field: str | None, reason: str
) -> None:
    from datetime import UTC, datetime

    from pydantic import ValidationError

    from canalis.canonical import records

    base = {
        "Order": {"source_id": "1", "channel": "web", "ordered_at": datetime(2026, 1, 1, tzinfo=UTC)},
        "Price": {"sku": "A", "price_list": "web", "amount": "1", "currency": "EUR"},
        "Promotion": {"code": "X", "discount_type": "percentage", "discount_value": "10"},
        "Interaction": {"source_id": "1", "channel": "email", "kind": "email", "occurred_at": datetime.now(UTC)},
        "StockLevel": {"sku": "A", "location": "Paris", "on_hand": "1"},
    }[model]
    with pytest.raises(ValidationError) as caught:
        getattr(records, model).model_validate({**base, **values})
    first = caught.value.errors()[0]
    assert (first["loc"][0] if first["loc"] else None) == field and reason in first["msg"]


def test_values_the_model_means_to_be_negative_are_kept() -> None:
    from datetime import UTC, datetime

    from canalis.canonical.records import Interaction, StockLevel

    refund = Interaction.model_validate(
        {"source_id": "r", "channel": "web", "kind": "refund", "occurred_at": datetime.now(UTC), "amount": "-20.00"}
    )
    assert refund.amount == Decimal("-20.00")
    oversold = StockLevel.model_validate({"sku": "A", "location": "Paris", "on_hand": "-3"})
    assert oversold.on_hand == Decimal(-3)
