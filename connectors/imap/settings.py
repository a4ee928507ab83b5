"""Settings of the IMAP connector: the server, the account, the folders and how messages are cut down."""

from __future__ import annotations

from pydantic import SecretStr, ValidationInfo, field_validator

from canalis.sdk import ConnectorSettings, setting


class ImapSettings(ConnectorSettings):
    """Where the customer-service mailbox is and how to read it."""

    host: str = setting(
        description="IMAP server host name.", env="CANALIS_IMAP_HOST", example="imap.example.com", min_length=1
    )
    port: int = setting(
        993,
        description="IMAP server port (993 for TLS, 143 for STARTTLS or plain).",
        env="CANALIS_IMAP_PORT",
        gt=0,
        lt=65536,
    )
    ssl: bool = setting(True, description="Connect over TLS from the start (IMAPS).", env="CANALIS_IMAP_SSL")
    starttls: bool = setting(
        False, description="Upgrade a plain connection with STARTTLS (with ssl: false).", env="CANALIS_IMAP_STARTTLS"
    )
    tls_verify: bool = setting(True, description="Check the server's TLS certificate and host name.")
    username: str = setting(
        description="Account user name.", env="CANALIS_IMAP_USERNAME", example="support@example.com", min_length=1
    )
    password: SecretStr = setting(
        description="Account password or app password.", env="CANALIS_IMAP_PASSWORD", secret=True
    )
    folders: list[str] = setting(
        default_factory=lambda: ["INBOX"], description="Folders to read (e.g. INBOX, Sent).", min_length=1
    )
    support_addresses: list[str] = setting(
        default_factory=list,
        description="Addresses (or @domain) of the support team: their messages are outbound replies.",
        example="support@example.com, @example.com",
    )
    page_size: int = setting(100, description="Messages per UID FETCH (one page).", gt=0, le=1000)
    max_body_chars: int = setting(20_000, description="Body text kept per message, in characters.", ge=0)
    max_message_bytes: int = setting(
        10_000_000,
        description="Bytes fetched per message at most; longer messages are cut (their record says so).",
        gt=1000,
    )
    timeout_seconds: float = setting(60.0, description="Network timeout of one IMAP call, in seconds.", gt=0)

    @field_validator("folders")
    @classmethod
    def _folder_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not name.strip() or any(ord(char) < 32 for char in name):
                raise ValueError(f"folder name {name!r} is empty or holds control characters")
        if len(set(value)) != len(value):
            raise ValueError("a folder is listed twice")
        return value

    @field_validator("support_addresses", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):  # from the environment or a one-line setting: comma separated
            return [part for part in (item.strip() for item in value.split(",")) if part]
        return value

    @field_validator("support_addresses")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        cleaned = []
        for item in value:
            text = item.strip().lower()
            if "@" not in text or " " in text:
                raise ValueError(f"{item!r} is neither an address nor an @domain")
            cleaned.append(text)
        return cleaned

    @field_validator("starttls")
    @classmethod
    def _one_tls_mode(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("ssl"):
            raise ValueError("give ssl or starttls, not both (ssl: false with starttls: true for STARTTLS)")
        return value
