"""Planning writes before storing them: validated values, new or updated payloads, and SaveResults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from canalis.sandbox.emulators.salesforce.ids import to_18
from canalis.sandbox.emulators.salesforce.records import SaveError, check_values, new_payload, updated_payload
from canalis.sandbox.emulators.salesforce.schema import SObjectDef
from canalis.sandbox.objectstore import ObjectStore

SYSTEM = "salesforce"
ROLLED_BACK = SaveError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
)


@dataclass
class Planned:
    """One record of a write request after validation: its outcome, and the payload to store on success."""

    errors: list[SaveError]
    sobject: SObjectDef | None = None
    record_id: str | None = None
    payload: dict[str, Any] | None = None
    created: bool | None = None


class WritePlanning:
    """Create and update plans, and committing them all or none; mixed into the emulator."""

    store: ObjectStore

    def _now(self) -> datetime:
        raise NotImplementedError

    def _new_record_id(self, definition: SObjectDef) -> str:
        raise NotImplementedError

    def _save(self, definition: SObjectDef, payload: dict[str, Any]) -> None:
        raise NotImplementedError

    def _plan_create(self, definition: SObjectDef, values: dict[str, Any], version: str) -> Planned:
        cleaned, errors = check_values(definition, values, creating=True)
        if errors:
            return Planned(errors, definition)
        record_id = self._new_record_id(definition)
        payload = new_payload(
            definition, record_id, cleaned, self._now(), version, self._derived_on_create(definition, cleaned)
        )
        return Planned([], definition, record_id, payload, created=True)

    def _derived_on_create(self, definition: SObjectDef, values: dict[str, Any]) -> dict[str, Any]:
        if definition.name == "Case":
            return {"CaseNumber": f"{self.store.next_numeric_id(SYSTEM, 'Case:number') + 10_000_000:08d}"}
        if definition.name == "PricebookEntry" and values.get("Product2Id"):
            product = self.store.get(SYSTEM, "Product2", to_18(str(values["Product2Id"]))) or {}
            return {"Name": product.get("Name"), "ProductCode": product.get("ProductCode")}
        return {}

    def _plan_update(self, definition: SObjectDef, payload: dict[str, Any], values: dict[str, Any]) -> Planned:
        values = {k: v for k, v in values.items() if k not in ("Id", "id") or v is None}
        cleaned, errors = check_values(definition, values, creating=False)
        if errors:
            return Planned(errors, definition, payload["Id"], created=False)
        updated = updated_payload(definition, payload, cleaned, self._now())
        return Planned([], definition, payload["Id"], updated, created=False)

    def _commit(self, plans: list[Planned], all_or_none: bool) -> list[dict[str, Any]]:
        """Store the successful plans (none when allOrNone and one failed) and build the SaveResults."""
        failed = any(plan.errors for plan in plans)
        results = []
        for plan in plans:
            if plan.errors:
                results.append(
                    {
                        "id": None if plan.created is not False else plan.record_id,
                        "success": False,
                        "errors": [e.as_dict() for e in plan.errors],
                    }
                )
                continue
            if failed and all_or_none:
                results.append({"id": None, "success": False, "errors": [ROLLED_BACK.as_dict()]})
                continue
            assert plan.sobject is not None and plan.payload is not None
            self._save(plan.sobject, plan.payload)
            results.append({"id": plan.record_id, "success": True, "errors": []})
        return results
