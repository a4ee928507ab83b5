"""Settings of the HubSpot connector."""

from __future__ import annotations

import re

from pydantic import SecretStr, field_validator

from canalis.sdk import HttpSettings, setting

PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class HubSpotSettings(HttpSettings):
    """A HubSpot portal reached with a private app's access token (HubSpot private apps get 100-190 calls per
    10 s: the default rate stays under that)."""

    env_prefix = "CANALIS_HUBSPOT"
    setting_defaults = {"base_url": "https://api.hubapi.com", "requests_per_second": 10.0}

    access_token: SecretStr = setting(
        description="Private app access token (Settings > Integrations > Private apps); sent as a Bearer token.",
        env="CANALIS_HUBSPOT_ACCESS_TOKEN",
        secret=True,
    )
    page_size: int = setting(100, description="Records per list or search call (HubSpot allows 100).", ge=1, le=100)
    lookback_minutes: int = setting(
        10,
        description="Look-back window: incremental reads start this long before the stored cursor.",
        env="CANALIS_HUBSPOT_LOOKBACK_MINUTES",
        ge=0,
    )
    external_id_property: str = setting(
        "canalis_id",
        description="Contact property (created in the portal beforehand) that holds the Canalis customer id.",
    )
    marketing_subscription_id: str | None = setting(
        None,
        description="Subscription type id of marketing email; found from the portal's definitions when unset.",
        env="CANALIS_HUBSPOT_MARKETING_SUBSCRIPTION_ID",
    )
    legal_basis: str = setting(
        "CONSENT_WITH_NOTICE",
        description="GDPR legal basis sent when Canalis resubscribes a contact to marketing email.",
    )
    currency: str = setting(
        "EUR",
        description="The portal's company currency, for deal and product amounts that carry no currency of their own.",
        min_length=3,
        max_length=3,
    )
    prefetch_pages: int = setting(
        0,
        description=(
            "Pages fetched ahead in a thread of the connector itself. Ingestion already reads every connector one"
            " page group ahead, so this only helps code that reads the connector directly."
        ),
        ge=0,
        le=10,
    )

    @field_validator("external_id_property")
    @classmethod
    def _property_name(cls, value: str) -> str:
        if not PROPERTY_NAME.match(value):
            raise ValueError("must be a HubSpot property internal name (lower case letters, digits, underscores)")
        return value

    @field_validator("marketing_subscription_id")
    @classmethod
    def _digits(cls, value: str | None) -> str | None:
        if value is not None and not value.isdigit():
            raise ValueError("must be the numeric id of a subscription type")
        return value

    @field_validator("currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()
