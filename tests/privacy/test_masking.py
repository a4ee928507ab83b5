"""Masking personal values in what Dagster shows: by field name, by shape, nested, and nothing else."""

from __future__ import annotations

from canalis.assets.metadata import bullet_list, markdown_table
from canalis.privacy import MASK, mask_record, mask_text


def test_personal_fields_are_masked_wherever_they_sit() -> None:
    record = {
        "id": "101",
        "properties": {"email": "Jean.Dupont@example.fr", "firstname": "Jean", "name": "Jean Dupont", "city": "Lyon"},
        "defaultAddress": {"address1": "12 rue Victor Hugo", "zip": "69002", "firstName": "Jean"},
        "attributes": {"SMS": "33612345678", "LASTNAME": "Dupont"},
        "partner_id": [119, "Jean Dupont"],
        "note": "rappeler au +33 6 12 34 56 78 ou jean@example.fr",
        "birthDate": "1980-02-03",
    }
    masked = mask_record(record)
    assert (
        masked["id"] == "101" and masked["properties"]["city"] == "Lyon" and masked["defaultAddress"]["zip"] == "69002"
    )
    assert masked["properties"]["email"] == masked["properties"]["firstname"] == masked["properties"]["name"] == MASK
    assert masked["defaultAddress"]["address1"] == masked["defaultAddress"]["firstName"] == MASK
    assert masked["attributes"] == {"SMS": MASK, "LASTNAME": MASK}
    assert masked["partner_id"] == [119, MASK] and masked["birthDate"] == MASK
    assert masked["note"] == f"rappeler au {MASK} ou {MASK}"


def test_business_values_are_left_alone() -> None:
    product = {"sku": "PAP-1003", "name": "Carnet A5 kraft", "amount": "12.90", "updated": "2026-12-07T09:00:00+00:00"}
    assert mask_record(product) == product  # a product's name is not a person's
    assert (
        mask_text("order 100012345678 of 2026-12-07, total 1 234,50 EUR")
        == "order 100012345678 of 2026-12-07, total 1 234,50 EUR"
    )


def test_metadata_tables_mask_unless_asked_not_to() -> None:
    rows = [{"email": "a@example.fr", "sku": "X-1"}]
    assert "a@example.fr" not in markdown_table(rows).value and "X-1" in markdown_table(rows).value
    assert "a@example.fr" in markdown_table(rows, mask=False).value
    assert "a@example.fr" not in bullet_list(["email a@example.fr is not valid"]).value
