"""Settings of the Mailchimp connector: declared once, documented, secrets only from the environment."""

from __future__ import annotations

from datetime import date

from pydantic import SecretStr, field_validator

from canalis.sdk import HttpSettings, setting


class MailchimpSettings(HttpSettings):
    """One Mailchimp audience. The HTTP settings are inherited; the base URL names the data center of the key.
    Calls are not paced by default: Mailchimp limits simultaneous connections (10), not calls per second."""

    env_prefix = "CANALIS_MAILCHIMP"
    setting_defaults = {"base_url": "https://{dc}.api.mailchimp.com/3.0"}

    api_key: SecretStr = setting(
        description="Marketing API key (Profile > Extras > API keys); it ends with -<dc>, the data center of the "
        "account, which `{dc}` in base_url stands for. Sent as the password of basic auth.",
        env="CANALIS_MAILCHIMP_API_KEY",
        secret=True,
        example="0123456789abcdef0123456789abcdef-us21",
    )
    list_id: str = setting(
        description="Id of the audience (Audience > Settings > Audience name and defaults).",
        env="CANALIS_MAILCHIMP_LIST_ID",
        min_length=1,
    )
    page_size: int = setting(1000, description="Records per page (Mailchimp allows at most 1,000).", ge=1, le=1000)
    lookback_minutes: int = setting(
        10, description="Incremental reads start this many minutes before the stored cursor, for late rows.", ge=0
    )
    batch_size: int = setting(
        500, description="Members per batch update call (Mailchimp takes at most 500).", ge=1, le=500
    )
    campaigns_since: date | None = setting(
        None,
        description="Only campaigns sent from this day on are read, with their activity and unsubscribes; "
        "empty: every sent campaign.",
        env="CANALIS_MAILCHIMP_CAMPAIGNS_SINCE",
    )

    @field_validator("api_key")
    @classmethod
    def _names_its_data_center(cls, value: SecretStr) -> SecretStr:
        key, _, center = value.get_secret_value().strip().rpartition("-")
        if not key or not center.isalnum():
            raise ValueError("must end with -<data center>, such as -us21 (as Mailchimp shows it)")
        return value

    def data_center(self) -> str:
        """The data center the key belongs to (`us21` in `...-us21`)."""
        return self.api_key.get_secret_value().strip().rpartition("-")[2]
