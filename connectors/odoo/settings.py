"""Settings of the Odoo connector."""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr, field_validator

from canalis.sdk import HttpCallSettings, setting

Protocol = Literal["auto", "json2", "xmlrpc", "jsonrpc"]


class OdooSettings(HttpCallSettings):
    """Where the Odoo server is, how to sign in, and how to read it."""

    env_prefix = "CANALIS_ODOO"

    url: str = setting(
        description="Base URL of the Odoo server (scheme and host, no path to an endpoint).",
        env="CANALIS_ODOO_URL",
        example="https://mycompany.odoo.com",
    )
    database: str | None = setting(
        None,
        description="Database name; required for XML-RPC/JSON-RPC, sent as X-Odoo-Database with JSON-2 when set.",
        env="CANALIS_ODOO_DATABASE",
        example="mycompany",
    )
    login: str | None = setting(
        None,
        description="Login (user name) of the integration user; required for XML-RPC/JSON-RPC.",
        env="CANALIS_ODOO_LOGIN",
        example="canalis-bot@example.com",
    )
    api_key: SecretStr | None = setting(
        None,
        description="API key of the integration user (needed for JSON-2; replaces the password elsewhere).",
        env="CANALIS_ODOO_API_KEY",
        secret=True,
    )
    password: SecretStr | None = setting(
        None,
        description="Password of the integration user, when no API key is used (XML-RPC/JSON-RPC only).",
        env="CANALIS_ODOO_PASSWORD",
        secret=True,
    )
    protocol: Protocol = setting(
        "auto",
        description="auto (JSON-2 on Odoo 19+ when an API key is set, else XML-RPC), json2, xmlrpc or jsonrpc.",
        env="CANALIS_ODOO_PROTOCOL",
    )
    page_size: int = setting(500, description="Records per search_read call.", gt=0, le=10_000)
    lookback_seconds: int = setting(
        300,
        description="Look-back window re-read on each incremental run, for rows committed late.",
        ge=0,
        le=7 * 24 * 3600,
    )
    customers_only: bool = setting(True, description="Read only partners with customer_rank > 0.")
    include_companies: bool = setting(False, description="Read company partners too (persons only when false).")
    stock_locations: list[str] = setting(
        default_factory=list,
        description="Full names of the stock locations to read (e.g. WH/Stock); empty means every internal one.",
    )
    allow_writes: bool = setting(
        False,
        description="Allow Canalis to write consents (the email blacklist) to Odoo; Odoo stays read-only otherwise.",
        env="CANALIS_ODOO_ALLOW_WRITES",
    )
    write_batch_size: int = setting(100, description="Records per write call.", gt=0, le=1000)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("stock_locations")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        return [name.strip() for name in value if name.strip()]

    def secret(self) -> str | None:
        """The credential sent with each call: the API key, else the password."""
        chosen = self.api_key or self.password
        return chosen.get_secret_value() if chosen is not None else None
