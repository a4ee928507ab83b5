"""JSON decoding and encoding: the standard library's results, never a rounded id."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest

from canalis.sdk.jsoncodec import dumps, loads


@pytest.mark.parametrize(
    "text",
    [
        '{"id": 18446744073709551616}',  # one more than the largest unsigned 64-bit integer
        '{"id": -9223372036854775809}',
        '[12345678901234567890123, "x"]',
        '{"note": "order 12345678901234567890123 is late", "n": 1}',
        '{"a": 1.5, "b": [true, null, "é"]}',
    ],
)
def test_loads_gives_what_the_json_module_gives(text: str) -> None:
    assert loads(text) == json.loads(text)
    assert loads(text.encode()) == json.loads(text)


def test_values_orjson_refuses_still_decode() -> None:
    assert math.isnan(loads('{"a": NaN}')["a"])
    assert loads('{"b": "\\ud800"}') == {"b": "\ud800"}


def test_invalid_json_raises_value_error() -> None:
    with pytest.raises(ValueError):
        loads('{"a": ')


def test_dumps_is_compact_sorted_and_matches_the_json_module() -> None:
    value = {"b": [1, 2.5, "é"], "a": {"z": None, "y": True}, "big": 2**70}
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert dumps(value) == expected
    assert dumps({"price": Decimal("1.50")}, default=lambda v: format(v, "f")) == '{"price":"1.50"}'


def test_subclasses_of_str_and_bytes_decode() -> None:
    class Text(str):
        pass

    assert loads(Text('{"a": 1}')) == {"a": 1}
    assert loads(bytearray(b"[1, 2]")) == [1, 2]
