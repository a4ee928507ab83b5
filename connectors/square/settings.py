"""Settings of the Square connector."""

from __future__ import annotations

from pydantic import SecretStr, field_validator

from canalis.sdk import HttpSettings, setting

PRODUCTION_URL = "https://connect.squareup.com"
DEFAULT_SQUARE_VERSION = "2025-08-20"


class SquareSettings(HttpSettings):
    """How to reach a Square seller account (production, https://connect.squareupsandbox.com or the Canalis
    sandbox) and how to read and write it."""

    env_prefix = "CANALIS_SQUARE"
    setting_defaults = {"base_url": PRODUCTION_URL, "requests_per_second": 10.0}

    access_token: SecretStr = setting(
        description="Square access token (personal or OAuth) with the read scopes, plus ITEMS_WRITE and "
        "INVENTORY_WRITE for writes.",
        env="CANALIS_SQUARE_ACCESS_TOKEN",
        secret=True,
    )
    square_version: str = setting(
        DEFAULT_SQUARE_VERSION,
        description="Square-Version header (YYYY-MM-DD) pinning the API version.",
        env="CANALIS_SQUARE_VERSION",
        pattern=r"^\d{4}-\d{2}-\d{2}$",
    )
    location_ids: list[str] = setting(
        default_factory=list,
        description="Square location ids to read orders and stock from; empty means every active location.",
    )
    location_map: dict[str, str] = setting(
        default_factory=dict,
        description="Canalis location name per Square location id (used on reads and to route stock writes).",
    )
    lookback_minutes: int = setting(
        10,
        description="Minutes re-read before the stored cursor on each incremental read, for late-committed rows.",
        env="CANALIS_SQUARE_LOOKBACK_MINUTES",
        ge=0,
        le=7 * 24 * 60,
    )
    page_size: int = setting(
        1000,
        description="Records asked for per page, capped by each endpoint (100 for customers, 1,000 elsewhere).",
        ge=1,
        le=1000,
    )

    @field_validator("location_ids")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        cleaned = [item.strip() for item in value if item.strip()]
        if len(set(cleaned)) != len(cleaned):
            raise ValueError("lists a location twice")
        return cleaned
