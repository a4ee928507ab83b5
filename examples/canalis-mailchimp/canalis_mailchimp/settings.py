"""Settings of the Mailchimp connector: declared once, documented, secrets only from the environment."""

from __future__ import annotations

from pydantic import SecretStr

from canalis.sdk import HttpSettings, setting


class MailchimpSettings(HttpSettings):
    """How to reach Mailchimp. The HTTP settings (base_url, timeout_seconds, max_attempts, requests_per_second) are
    inherited; `setting_defaults` gives them Mailchimp's values and `env_prefix` their environment variables."""

    env_prefix = "CANALIS_MAILCHIMP"
    setting_defaults = {"base_url": "https://api.example.com/v1", "requests_per_second": 5.0}

    api_token: SecretStr = setting(
        description="API token of Mailchimp, sent as a Bearer token.", env="CANALIS_MAILCHIMP_API_TOKEN", secret=True
    )
    page_size: int = setting(100, description="Records per page (the API allows at most 100).", ge=1, le=100)
    lookback_minutes: int = setting(
        5, description="Incremental reads start this many minutes before the stored cursor, for late rows.", ge=0
    )
    batch_size: int = setting(100, description="Consents per write call (the API takes at most 100).", ge=1, le=100)
