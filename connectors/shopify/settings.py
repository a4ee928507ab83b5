"""Settings of the Shopify connector: the shop, the Admin API token and version, paging and bulk limits."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import SecretStr, field_validator

from canalis.sdk import HttpCallSettings, setting

API_VERSION = re.compile(r"^(\d{4}-(01|04|07|10)|unstable)$")
SHOP_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class ShopifySettings(HttpCallSettings):
    """How to reach one shop's GraphQL Admin API."""

    env_prefix = "CANALIS_SHOPIFY"

    shop: str = setting(
        description=(
            "The shop: its name (`my-shop`), its myshopify.com domain, or the base URL of the Admin API host "
            "(an http:// URL is accepted for a local sandbox only)."
        ),
        env="CANALIS_SHOPIFY_SHOP",
        example="my-shop.myshopify.com",
    )
    access_token: SecretStr = setting(
        description="Admin API access token of the shop's custom app (shpat_...).",
        env="CANALIS_SHOPIFY_ACCESS_TOKEN",
        secret=True,
    )
    api_version: str = setting(
        "2026-07",
        description="Admin API version (YYYY-01/04/07/10, or `unstable`).",
        env="CANALIS_SHOPIFY_API_VERSION",
    )
    lookback_minutes: int = setting(
        10,
        description="Incremental reads start this many minutes before the stored cursor (search index lag).",
        env="CANALIS_SHOPIFY_LOOKBACK_MINUTES",
        ge=0,
        le=7 * 24 * 60,
    )
    page_size: int = setting(
        250,
        description="Records asked per query (capped per stream so that a query stays under Shopify's cost limit).",
        ge=1,
        le=250,
    )
    line_items_per_order: int = setting(
        10,
        description="Order lines read with each order; longer orders get their remaining lines in follow-up queries.",
        ge=1,
        le=250,
    )
    bulk_threshold: int = setting(
        2_500,
        description=(
            "A full read of customers, orders or variants uses a bulk operation when the stream holds at least "
            "this many records (paged reads spend the shop's query-cost budget; a bulk export does not); "
            "0 turns bulk exports off."
        ),
        env="CANALIS_SHOPIFY_BULK_THRESHOLD",
        ge=0,
    )
    bulk_poll_seconds: float = setting(
        5.0,
        description="Longest wait between two polls of a running bulk operation (the first come after 0.5, 1, 2 s).",
        gt=0,
    )
    bulk_timeout_seconds: float = setting(
        6 * 3600.0, description="Give up (and cancel) a bulk operation still running after this long.", gt=0
    )
    inventory_reason: str = setting(
        "correction", description="Reason recorded with stock writes (one of Shopify's inventory reasons)."
    )
    location_ids: dict[str, str] = setting(
        default_factory=dict,
        description="Shopify location (gid, numeric id or name) per Canalis location name, for stock writes.",
    )

    @field_validator("shop")
    @classmethod
    def _shop_url(cls, value: str) -> str:
        """Normalise the shop to the base URL of its Admin API host."""
        text = value.strip().rstrip("/")
        if not text:
            raise ValueError("must not be empty")
        if "://" not in text:
            name = text.lower()
            if name.endswith(".myshopify.com"):
                name = name.removesuffix(".myshopify.com")
            if not SHOP_NAME.match(name):
                raise ValueError("must be a shop name, a myshopify.com domain or an https:// URL")
            return f"https://{name}.myshopify.com"
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http(s) URL")
        if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
            raise ValueError("must use https:// (http:// is accepted for a local sandbox only)")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must not hold credentials, a query or a fragment")
        return text

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        text = value.strip()
        if not API_VERSION.match(text):
            raise ValueError("must look like 2026-07 (a year and 01, 04, 07 or 10) or be 'unstable'")
        return text

    @field_validator("inventory_reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not re.match(r"^[a-z_]+$", value):
            raise ValueError("must be one of Shopify's inventory reasons, such as 'correction'")
        return value

    @property
    def graphql_path(self) -> str:
        """The GraphQL endpoint path under the shop URL."""
        return f"admin/api/{self.api_version}/graphql.json"

    def version_at_least(self, version: str) -> bool:
        """Whether the configured API version is `version` or newer (`unstable` is the newest)."""
        return self.api_version == "unstable" or self.api_version >= version
