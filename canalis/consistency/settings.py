"""The `consistency` section of the connections file: tolerances, buffers and which rules run."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from canalis.sdk.errors import ConfigError
from canalis.sdk.settings import validation_problems

CLOSED_STATUSES = (
    "closed",
    "resolved",
    "solved",
    "done",
    "completed",
    "cancelled",
    "canceled",
    "rejected",
    "merged",
)


class ConsistencySettings(BaseModel):
    """Settings of the inconsistency rules (the `consistency:` section of canalis.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    disabled_rules: list[str] = Field(default_factory=list, description="rule codes not to run")
    severities: dict[str, Literal["error", "warn"]] = Field(
        default_factory=dict, description="severity overrides per rule code"
    )
    price_tolerance: Decimal | None = Field(
        default=None, ge=0, description="largest price difference taken as equal; default the publish section's"
    )
    price_tolerance_share: Decimal = Field(
        default=Decimal("0"), ge=0, description="relative price tolerance, e.g. 0.01 for 1 % of the desired price"
    )
    promo_value_tolerance: Decimal = Field(default=Decimal("0.005"), ge=0, description="discount value tolerance")
    promo_grace_hours: int = Field(
        default=24, ge=0, description="hours after a promotion's end before a channel still running it is flagged"
    )
    marketing_purpose: str = Field(default="marketing", description="consent purpose of promotional messages")
    marketing_channel: str = Field(default="email", description="consent channel of promotional messages")
    closed_statuses: list[str] = Field(
        default_factory=lambda: list(CLOSED_STATUSES), description="interaction statuses meaning a case is closed"
    )
    compare_attributes: list[Literal["birth_date", "email", "phone", "name", "address"]] = Field(
        default_factory=lambda: ["birth_date", "email", "phone", "name"],
        description="customer attributes compared across systems (address is opt-in: see address_current_days)",
    )
    ignored_phones: list[str] = Field(
        default_factory=list, description="E.164 numbers never compared (shop or switchboard numbers)"
    )
    email_typo_distance: int = Field(
        default=2, ge=0, description="emails this close (edit distance) are the same address mistyped, not a conflict"
    )
    address_current_days: int = Field(
        default=30,
        ge=0,
        description="an address is current when its record changed within this many days of the customer's latest",
    )
    max_worst_cases: int = Field(default=10, ge=1, description="cases listed in metadata and check results")
    _publish: Any = PrivateAttr(default=None)

    @field_validator("disabled_rules", "severities")
    @classmethod
    def _known_rules(cls, value: Any) -> Any:
        from canalis.consistency.rules import RULES

        unknown = sorted(set(value) - set(RULES))
        if unknown:
            raise ValueError(f"unknown rule code '{unknown[0]}' (known: {', '.join(sorted(RULES))})")
        return value

    @property
    def publish(self) -> Any:
        """The publish configuration the rules compare channels against (systems of record, policies)."""
        return self._publish

    def with_publish(self, publish: Any) -> ConsistencySettings:
        """A copy that knows the publish configuration."""
        copy = self.model_copy()
        copy._publish = publish
        return copy

    def severity_of(self, code: str, default: Literal["error", "warn"]) -> Literal["error", "warn"]:
        """The severity in force for a rule."""
        return self.severities.get(code, default)


def load_consistency_settings(section: dict[str, Any] | None, *, publish: Any = None) -> ConsistencySettings:
    """Validate a `consistency` section; a ConfigError names every offending field."""
    try:
        settings = ConsistencySettings.model_validate(section or {})
    except ValidationError as error:
        raise ConfigError.of(validation_problems(error, "consistency", ConsistencySettings)) from None
    return settings.with_publish(publish) if publish is not None else settings
