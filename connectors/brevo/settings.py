"""Settings of the Brevo connector."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import SecretStr, field_validator

from canalis.sdk import HttpSettings, setting

DEFAULT_BASE_URL = "https://api.brevo.com/v3"


class BrevoSettings(HttpSettings):
    """How to reach a Brevo account (API v3; the sandbox serves it under /brevo/v3) and how to read and write it.

    The default pace of 8 calls per second stays under Brevo's limits, which vary by plan and endpoint.
    """

    env_prefix = "CANALIS_BREVO"
    setting_defaults = {"base_url": DEFAULT_BASE_URL, "requests_per_second": 8.0}

    api_key: SecretStr = setting(
        description="Brevo API v3 key (SMTP & API > API keys), sent in the `api-key` header.",
        env="CANALIS_BREVO_API_KEY",
        secret=True,
        example="xkeysib-...",
    )
    page_size: int = setting(1000, description="Contacts per page (Brevo allows at most 1000).", gt=0, le=1000)
    events_page_size: int = setting(2500, description="Email events per page (Brevo's default 2500).", gt=0, le=5000)
    lookback_minutes: int = setting(
        30,
        description="Incremental reads go back this far before the stored cursor, for rows that arrive late.",
        env="CANALIS_BREVO_LOOKBACK_MINUTES",
        ge=0,
    )
    events_start_date: date | None = setting(
        None,
        description="First day of email events read on the first run; empty = `events_history_days` before today.",
        env="CANALIS_BREVO_EVENTS_START_DATE",
        example="2025-01-01",
    )
    events_history_days: int = setting(
        90, description="Days of email events read on the first run when no start date is set.", ge=1
    )
    events_window_days: int = setting(
        30, description="Days covered by one email event report request (Brevo allows at most 90).", ge=1, le=90
    )
    suppression: Literal["blocklist", "lists"] = setting(
        "blocklist",
        description=(
            "How a denied marketing consent is written: `blocklist` sets emailBlacklisted (and leaves the "
            "promotional lists); `lists` only removes the contact from the promotional lists."
        ),
    )
    promotional_list_ids: list[int] = setting(
        default_factory=list,
        description="Ids of the promotional lists a denied consent removes the contact from (and a grant re-adds "
        "in `lists` mode).",
    )
    batch_size: int = setting(100, description="Contacts per batch update call (POST /contacts/batch).", ge=1, le=1000)

    @field_validator("api_key")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value
