"""What checking read records costs: the NaN/Infinity walk and the child-record split, against the rest of
`validate_page` and the JSON encoding every landed record goes through.

    python -m benchmarks.record_checks_benchmark --records 50000

Records are HubSpot deals with three line items each (about 40 values a record); a share of them (`--bad`) holds
a malformed line item, so the split of incomplete records is measured too. Prints microseconds per record.
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from typing import Any

from canalis.connectors.hubspot.streams import Deals
from canalis.sdk.base import validate_page
from canalis.sdk.children import non_finite
from canalis.sdk.jsoncodec import dumps
from canalis.sdk.state import StreamState
from canalis.sdk.streams import Page

STAMPS = {"createdAt": "2026-10-01T10:00:00Z", "updatedAt": "2026-10-02T10:00:00Z", "archived": False}


def _line_item(number: int, rng: random.Random) -> dict[str, Any]:
    properties = {
        "name": f"Item {number}",
        "hs_sku": f"SKU-{rng.randrange(500):04d}",
        "quantity": str(rng.randrange(1, 5)),
        "price": f"{rng.uniform(1, 200):.2f}",
        "amount": f"{rng.uniform(1, 800):.2f}",
        "hs_lastmodifieddate": "2026-10-02T10:00:00Z",
    }
    return {"id": str(number), "properties": properties, **STAMPS}


def deals(count: int, bad_share: float, seed: int = 11) -> list[dict[str, Any]]:
    """`count` deals with three line items each; about `bad_share` of them with one corrupted line item."""
    rng = random.Random(seed)
    records = []
    for number in range(count):
        items = [_line_item(number * 10 + k, rng) for k in range(3)]
        if rng.random() < bad_share:
            items[1] = {**items[1], "properties": "<<corrupted>>"}
        properties = {
            "dealname": f"Deal {number}",
            "amount": f"{rng.uniform(10, 900):.2f}",
            "dealstage": rng.choice(["closedwon", "appointmentscheduled"]),
            "pipeline": "default",
            "closedate": "2026-10-02T10:00:00Z",
            "deal_currency_code": "EUR",
            "hs_lastmodifieddate": "2026-10-02T10:00:00Z",
        }
        associations = {"contacts": {"results": [{"id": str(number), "type": "deal_to_contact"}]}}
        records.append(
            {"id": str(100000 + number), "properties": properties, "associations": associations, "line_items": items}
            | STAMPS
            | {"_currency": "EUR", "score": rng.random()}
        )
    return records


def _per_record(records: list[dict[str, Any]], step: Callable[[dict[str, Any]], Any]) -> float:
    started = time.perf_counter()
    for record in records:
        step(record)
    return (time.perf_counter() - started) / len(records) * 1e6


def run(count: int, bad_share: float) -> dict[str, float]:
    records = deals(count, bad_share)
    state = StreamState.empty()
    started = time.perf_counter()
    page = validate_page(Deals, Page(records=records, state=state))
    validate_us = (time.perf_counter() - started) / count * 1e6
    return {
        "records": count,
        "incomplete": sum(1 for rejection in page.rejected if rejection.incomplete),
        "nan_walk_us": round(_per_record(records, non_finite), 2),
        "validate_page_us": round(validate_us, 2),
        "json_encoding_us": round(_per_record(records, dumps), 2),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--bad", type=float, default=0.01, help="share of deals with a malformed line item")
    options = parser.parse_args(argv)
    figures = run(options.records, options.bad)
    print("record checks (HubSpot deals with 3 line items; microseconds per record)")
    for name, value in figures.items():
        print(f"  {name:<26} {value}")


if __name__ == "__main__":
    main()
