"""The `alerts` section of the connections file: where run and check failures are sent.

Secrets (an SMTP password, a webhook URL holding a token, a Slack token) are never written in the file: each is
named by the environment variable that holds it.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


def _env_name(value: str | None) -> str | None:
    if value is not None and not re.fullmatch(ENV_NAME, value):
        raise ValueError(f"'{value}' is not an environment variable name (upper-case letters, digits, _)")
    return value


class EmailAlerts(BaseModel):
    """Alerts by email through an SMTP server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1, description="SMTP server host")
    port: int = Field(default=25, ge=1, le=65535, description="SMTP server port")
    sender: str = Field(description="From address")
    to: list[str] = Field(min_length=1, description="recipient addresses")
    security: Literal["none", "starttls", "ssl"] = Field(default="none", description="none, starttls or ssl")
    username_env: str | None = Field(default=None, description="environment variable holding the SMTP user")
    password_env: str | None = Field(default=None, description="environment variable holding the SMTP password")
    timeout_seconds: float = Field(default=20, gt=0, le=300, description="connection timeout")

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if not re.fullmatch(EMAIL, value):
            raise ValueError(f"'{value}' is not an email address")
        return value

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        for address in value:
            if not re.fullmatch(EMAIL, address):
                raise ValueError(f"'{address}' is not an email address")
        return value

    @field_validator("username_env", "password_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return _env_name(value)


class WebhookAlerts(BaseModel):
    """Alerts as a JSON document POSTed to a URL (a chat's incoming webhook, an incident tool...)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = Field(default=None, description="URL to POST to, when it holds no token")
    url_env: str | None = Field(default=None, description="environment variable holding the URL, when it does")
    timeout_seconds: float = Field(default=10, gt=0, le=120, description="request timeout")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"'{value}' is not an http(s) URL")
        return value

    @field_validator("url_env")
    @classmethod
    def _env(cls, value: str | None) -> str | None:
        return _env_name(value)

    @model_validator(mode="after")
    def _one_url(self) -> WebhookAlerts:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give exactly one of url and url_env")
        return self


class SlackAlerts(BaseModel):
    """Alerts posted to a Slack channel (needs the `dagster-slack` package)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field(min_length=2, description="channel, e.g. #canalis-alerts")
    token_env: str = Field(default="CANALIS_SLACK_TOKEN", description="environment variable holding the bot token")

    @field_validator("token_env")
    @classmethod
    def _env(cls, value: str) -> str:
        return _env_name(value) or value


class AlertSettings(BaseModel):
    """The `alerts` section: which failures are sent, and where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: EmailAlerts | None = Field(default=None, description="send alerts by email")
    webhook: WebhookAlerts | None = Field(default=None, description="POST alerts as JSON")
    slack: SlackAlerts | None = Field(default=None, description="post alerts to Slack")
    run_failures: bool = Field(default=True, description="alert when a Canalis run fails")
    check_failures: bool = Field(default=True, description="alert when an asset check fails")
    check_severities: list[Literal["ERROR", "WARN"]] = Field(
        default_factory=lambda: ["ERROR"], description="severities of failed checks that are sent"
    )
    ui_url: str | None = Field(default=None, description="base URL of the Dagster UI, to link runs from alerts")
    minimum_interval_seconds: int = Field(default=30, ge=5, le=3600, description="how often the sensors look")

    @property
    def enabled(self) -> bool:
        """Whether any destination is configured."""
        return any(destination is not None for destination in (self.email, self.webhook, self.slack))
