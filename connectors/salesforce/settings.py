"""Settings of the Salesforce connector: how to log in, which API version, and how to read and write."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import SecretStr, field_validator

from canalis.sdk import ConfigError, HttpCallSettings, setting

AuthFlow = Literal["access_token", "oauth_password", "client_credentials", "soap_password"]
_VERSION = re.compile(r"^\d{2}\.0$")
_DOMAIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")


class SalesforceSettings(HttpCallSettings):
    """Login (username/password/security token, OAuth connected app, or an access token) and read/write tuning."""

    env_prefix = "CANALIS_SALESFORCE"
    setting_defaults = {"timeout_seconds": 120.0, "requests_per_second": 20.0}

    instance_url: str | None = setting(
        None,
        description="Instance URL, e.g. https://mycompany.my.salesforce.com. Required with access_token; "
        "with a login it overrides the instance the login returns.",
        env="CANALIS_SALESFORCE_INSTANCE_URL",
        example="https://mycompany.my.salesforce.com",
    )
    domain: str = setting(
        "login",
        description="Login domain as <domain>.salesforce.com: 'login' for production, 'test' for sandboxes, "
        "or your My Domain such as 'mycompany.my'.",
        env="CANALIS_SALESFORCE_DOMAIN",
    )
    login_url: str | None = setting(
        None,
        description="Full login host URL; overrides domain (for example a proxy or the Canalis sandbox).",
        env="CANALIS_SALESFORCE_LOGIN_URL",
    )
    username: str | None = setting(None, description="Integration user's username.", env="CANALIS_SALESFORCE_USERNAME")
    password: SecretStr | None = setting(
        None, description="Integration user's password.", env="CANALIS_SALESFORCE_PASSWORD", secret=True
    )
    security_token: SecretStr | None = setting(
        None,
        description="Security token appended to the password (not needed from trusted IP ranges).",
        env="CANALIS_SALESFORCE_SECURITY_TOKEN",
        secret=True,
    )
    client_id: str | None = setting(
        None,
        description="Connected app consumer key, for the OAuth username-password or client-credentials flows.",
        env="CANALIS_SALESFORCE_CLIENT_ID",
    )
    client_secret: SecretStr | None = setting(
        None, description="Connected app consumer secret.", env="CANALIS_SALESFORCE_CLIENT_SECRET", secret=True
    )
    access_token: SecretStr | None = setting(
        None,
        description="An OAuth access token (session id) used as is, with instance_url; it is not refreshed.",
        env="CANALIS_SALESFORCE_ACCESS_TOKEN",
        secret=True,
    )
    api_version: str = setting("60.0", description="REST API version, e.g. 60.0.", env="CANALIS_SALESFORCE_API_VERSION")
    page_size: int = setting(
        2000,
        description="Records per REST query page (Sforce-Query-Options batchSize, 200-2000).",
        env="CANALIS_SALESFORCE_PAGE_SIZE",
        ge=200,
        le=2000,
    )
    lookback_seconds: int = setting(
        300,
        description="Incremental reads restart this many seconds before the stored SystemModstamp cursor.",
        env="CANALIS_SALESFORCE_LOOKBACK_SECONDS",
        ge=0,
    )
    bulk_enabled: bool = setting(
        True, description="Read large streams through Bulk API 2.0 query jobs.", env="CANALIS_SALESFORCE_BULK_ENABLED"
    )
    bulk_threshold: int = setting(
        50_000,
        description="Use Bulk API 2.0 when SELECT COUNT() finds more records than this to read.",
        env="CANALIS_SALESFORCE_BULK_THRESHOLD",
        ge=0,
    )
    bulk_page_size: int = setting(
        10_000,
        description="Records per Bulk API 2.0 result set (maxRecords).",
        env="CANALIS_SALESFORCE_BULK_PAGE_SIZE",
        ge=1,
        le=1_000_000,
    )
    bulk_poll_seconds: float = setting(
        2.0,
        description="Seconds between Bulk API 2.0 job status checks.",
        env="CANALIS_SALESFORCE_BULK_POLL_SECONDS",
        gt=0,
    )
    bulk_timeout_seconds: float = setting(
        1800.0,
        description="Give up on a Bulk API 2.0 query job after this many seconds.",
        env="CANALIS_SALESFORCE_BULK_TIMEOUT_SECONDS",
        gt=0,
    )
    external_id_field: str = setting(
        "Canalis_Customer_Id__c",
        description="Contact external id field holding the Canalis customer id (used for customer upserts).",
        env="CANALIS_SALESFORCE_EXTERNAL_ID_FIELD",
    )
    pricebook_id: str | None = setting(
        None,
        description="Pricebook whose entries price writes update; default the org's standard pricebook.",
        env="CANALIS_SALESFORCE_PRICEBOOK_ID",
    )
    currency: str = setting(
        "EUR",
        description="Currency of a single-currency org; price writes in another currency are refused.",
        env="CANALIS_SALESFORCE_CURRENCY",
        min_length=3,
        max_length=3,
    )
    default_phone_region: str = setting(
        "FR",
        description="Region used to read phone numbers without a country code when comparing before a write.",
        env="CANALIS_SALESFORCE_DEFAULT_PHONE_REGION",
        min_length=2,
        max_length=2,
    )

    @field_validator("api_version")
    @classmethod
    def _version(cls, value: str) -> str:
        cleaned = value.strip().removeprefix("v")
        if not _VERSION.match(cleaned):
            raise ValueError("must look like 60.0")
        return cleaned

    @field_validator("instance_url", "login_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        cleaned = value.strip().rstrip("/")
        if not cleaned.startswith(("https://", "http://")):
            raise ValueError("must start with https://")
        return cleaned

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        cleaned = value.strip().removesuffix(".salesforce.com")
        if not _DOMAIN.match(cleaned):
            raise ValueError("must be 'login', 'test' or a My Domain such as 'mycompany.my'")
        return cleaned

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        return value.upper()

    @property
    def login_host(self) -> str:
        """The URL logins go to."""
        return self.login_url or f"https://{self.domain}.salesforce.com"


@dataclass(frozen=True)
class AuthPlan:
    """Which login flow the settings ask for."""

    flow: AuthFlow
    refreshable: bool


def auth_plan(settings: SalesforceSettings, connection: str) -> AuthPlan:
    """The login flow the settings describe; ConfigError naming the missing setting when none is complete."""

    def missing(name: str, why: str) -> ConfigError:
        return ConfigError(
            f"connection '{connection}': setting '{name}' is required {why}", setting=name, connection=connection
        )

    if settings.access_token is not None:
        if settings.instance_url is None:
            raise missing("instance_url", "with access_token (environment variable CANALIS_SALESFORCE_INSTANCE_URL)")
        return AuthPlan("access_token", refreshable=False)
    if settings.client_id is not None:  # a client_secret alone (e.g. exported for every connection) is ignored
        if settings.client_secret is None:
            raise missing("client_secret", "with client_id (environment variable CANALIS_SALESFORCE_CLIENT_SECRET)")
        if settings.username is None:
            if settings.login_url is None and settings.domain in ("login", "test"):
                raise missing("domain", "for the client-credentials flow: your My Domain, e.g. 'mycompany.my'")
            return AuthPlan("client_credentials", refreshable=True)
        if settings.password is None:
            raise missing("password", "with username (environment variable CANALIS_SALESFORCE_PASSWORD)")
        return AuthPlan("oauth_password", refreshable=True)
    if settings.username is None:
        raise missing(
            "username",
            "(or access_token with instance_url; environment variables CANALIS_SALESFORCE_USERNAME, "
            "CANALIS_SALESFORCE_ACCESS_TOKEN)",
        )
    if settings.password is None:
        raise missing("password", "with username (environment variable CANALIS_SALESFORCE_PASSWORD)")
    return AuthPlan("soap_password", refreshable=True)
