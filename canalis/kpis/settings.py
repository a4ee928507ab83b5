"""The `kpis` section of the connections file: windows, channel roles, contact kinds and subject families."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from canalis.sdk.errors import ConfigError
from canalis.sdk.settings import validation_problems

GENERIC_COMPLAINT_FAMILY = "complaint"

DEFAULT_SUBJECT_FAMILIES: dict[str, list[str]] = {
    "damaged_or_wrong_item": [
        "endommag",
        "abime",
        "damaged",
        "defectueux",
        "defective",
        "broken",
        "casse",
        "mauvais article",
        "wrong item",
        "incomplet",
        "incomplete",
        "missing item",
    ],
    "refund_or_return": ["rembours", "refund", "retour", "return", "echange", "exchange"],
    "billing": ["facture", "invoice", "billing", "paiement", "payment", "charged", "debit"],
    "account_or_loyalty": [
        "adresse",
        "address",
        "compte",
        "account",
        "fidelite",
        "loyalty",
        "mot de passe",
        "password",
    ],
    "delivery": [
        "livraison",
        "delivery",
        "colis",
        "parcel",
        "suivi",
        "tracking",
        "follow-up",
        "where is my order",
        "commande",
        "order",
        "shipping",
        "expedition",
    ],
    "product_information": [
        "taille",
        "size",
        "disponibilit",
        "availability",
        "stock",
        "information produit",
        "product information",
    ],
    "store_experience": ["accueil", "boutique", "magasin", "vendeur", "staff", "store"],
    GENERIC_COMPLAINT_FAMILY: ["reclamation", "complaint", "plainte"],
}

DEFAULT_PASSIVE_STATUSES: dict[str, list[str]] = {
    "campaign_event": [
        "sent",
        "delivered",
        "open",
        "opened",
        "unique_opened",
        "softbounces",
        "hardbounces",
        "bounce",
        "bounced",
        "deferred",
        "blocked",
        "unsubscribed",
        "spam",
        "invalid",
    ],
    "email_block": ["*"],
}


def fold(text: str) -> str:
    """Lower-case text without accents, for keyword matching."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _lower_list(values: list[str]) -> list[str]:
    return [value.strip().lower() for value in values if value.strip()]


class KpiSettings(BaseModel):
    """How the omnichannel KPIs read the canonical store."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repeat_window_days: int = Field(7, ge=1, le=365, description="a contact repeats an earlier one within this")
    ropo_window_days: int = Field(14, ge=1, le=365, description="online research counts this long before a purchase")
    online_channels: list[str] = Field(
        default=["web", "email", "marketing", "chat", "form", "sms", "social", "app"],
        description="channels that are online",
    )
    offline_channels: list[str] = Field(default=["store", "phone"], description="channels that are offline")
    back_office_channels: list[str] = Field(
        default=["erp"],
        description="systems that record what happened on other channels (an ERP mirroring web orders): never a "
        "channel a customer used, and their orders are left out of lifetime value so nothing counts twice",
    )
    channel_of_kind: dict[str, str] = Field(
        default={"call": "phone", "chat": "chat", "email": "email", "sms": "sms"},
        description="interactions of these kinds happened on this channel, whatever the system's channel",
    )
    contact_kinds: list[str] = Field(
        default=["case", "ticket", "email", "call", "chat"], description="interaction kinds that are service contacts"
    )
    agent_statuses: list[str] = Field(
        default=["sent"], description="statuses of interactions written by the company (outbound replies)"
    )
    resolved_statuses: list[str] = Field(
        default=["closed", "resolved", "solved", "done", "completed", "sent"],
        description="a thread whose latest interaction has one of these statuses is resolved",
    )
    purchase_kinds: list[str] = Field(default=["order", "pos_sale"], description="interaction kinds that are purchases")
    excluded_order_statuses: list[str] = Field(
        default=["cancelled", "canceled", "cancel", "refunded", "voided", "void", "draft"],
        description="orders and purchases in these statuses count nowhere",
    )
    passive_statuses: dict[str, list[str]] = Field(
        default=DEFAULT_PASSIVE_STATUSES,
        description="per interaction kind, statuses that are not an action of the customer ('*': every status)",
    )
    subject_families: dict[str, list[str]] = Field(
        default=DEFAULT_SUBJECT_FAMILIES,
        description="subject keywords per family, first family that matches wins; 'complaint' is generic",
    )
    order_reference_attributes: list[str] = Field(
        default=["order_ref", "order_reference", "order_id", "order_number", "order_name"],
        description="interaction attributes holding the order a contact is about",
    )
    order_reference_pattern: str = Field(
        default=r"(?:#\s?|\b(?:order|commande|cmd)\s*(?:n[o°]\.?\s*)?#?\s*)([A-Za-z]{0,3}\d{3,})",
        description="regular expression whose first group finds an order reference in a subject",
    )
    csat_satisfied_min: float = Field(4, ge=1, le=5, description="on the 1-5 scale, scores from this are satisfied")
    score_scales: dict[str, Literal["csat_5", "nps_10"]] = Field(
        default_factory=dict,
        description="per source, the scale of satisfaction scores; else 0-10 when a score above 5 exists",
    )

    @field_validator(
        "online_channels",
        "offline_channels",
        "back_office_channels",
        "contact_kinds",
        "agent_statuses",
        "resolved_statuses",
        "purchase_kinds",
        "excluded_order_statuses",
    )
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return _lower_list(value)

    @field_validator("channel_of_kind")
    @classmethod
    def _lower_mapping(cls, value: dict[str, str]) -> dict[str, str]:
        return {kind.strip().lower(): channel.strip().lower() for kind, channel in value.items()}

    @field_validator("passive_statuses")
    @classmethod
    def _lower_passive(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        return {kind.strip().lower(): _lower_list(statuses) for kind, statuses in value.items()}

    @field_validator("subject_families")
    @classmethod
    def _fold_keywords(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        folded = {
            family: [fold(keyword).strip() for keyword in keywords if keyword.strip()]
            for family, keywords in value.items()
        }
        empty = [family for family, keywords in folded.items() if not keywords]
        if empty:
            raise ValueError(f"family '{empty[0]}' has no keywords")
        return folded

    @field_validator("order_reference_pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            pattern = re.compile(value)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from None
        if pattern.groups < 1:
            raise ValueError("the pattern needs one group, the reference")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> KpiSettings:
        both = sorted(set(self.offline_channels) & set(self.online_channels))
        if both:
            raise ValueError(f"channel '{both[0]}' is both online and offline")
        return self


def kpi_settings(section: dict[str, Any] | None) -> KpiSettings:
    """Validate a `kpis` section; a ConfigError names every offending field (`kpis.<field>`)."""
    try:
        return KpiSettings.model_validate(section or {})
    except ValidationError as error:
        raise ConfigError.of(validation_problems(error, "kpis", KpiSettings)) from None
