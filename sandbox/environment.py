"""What connections need to reach the sandbox: its base URL and each emulator's credentials as environment variables.

Connections aimed at the sandbox use `${CANALIS_SANDBOX_URL}/<emulator>` as their base URL; secrets are read from
the usual `CANALIS_<VENDOR>_*` variables, which this module fills with the sandbox's published test credentials.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SANDBOX_URL_ENV = "CANALIS_SANDBOX_URL"
SANDBOX_REFERENCE = "${CANALIS_SANDBOX_"
"""How settings refer to the sandbox: ${CANALIS_SANDBOX_URL}, ${CANALIS_SANDBOX_IMAP_HOST}..."""

# emulator prefix -> {environment variable: key in the emulator's credentials()}
CREDENTIAL_VARIABLES: dict[str, dict[str, str]] = {
    "hubspot": {"CANALIS_HUBSPOT_ACCESS_TOKEN": "access_token"},
    "brevo": {"CANALIS_BREVO_API_KEY": "api_key"},
    "freshdesk": {"CANALIS_FRESHDESK_API_KEY": "api_key"},
    "mailchimp": {"CANALIS_MAILCHIMP_API_KEY": "api_key"},
    "square": {"CANALIS_SQUARE_ACCESS_TOKEN": "access_token"},
    "shopify": {"CANALIS_SHOPIFY_ACCESS_TOKEN": "access_token"},
    "odoo": {"CANALIS_ODOO_API_KEY": "api_key", "CANALIS_ODOO_PASSWORD": "password"},
    "salesforce": {
        "CANALIS_SALESFORCE_USERNAME": "username",
        "CANALIS_SALESFORCE_PASSWORD": "password",
        "CANALIS_SALESFORCE_SECURITY_TOKEN": "security_token",
        "CANALIS_SALESFORCE_CLIENT_SECRET": "client_secret",
    },
    "imap": {
        "CANALIS_SANDBOX_IMAP_HOST": "host",
        "CANALIS_SANDBOX_IMAP_PORT": "port",
        "CANALIS_IMAP_USERNAME": "username",
        "CANALIS_IMAP_PASSWORD": "password",
    },
}

# Stand-ins of the right shape for `canalis check`, which starts no sandbox ("sandbox" for the others).
PLACEHOLDER_VALUES: dict[str, str] = {"CANALIS_MAILCHIMP_API_KEY": "sandbox-us21"}


def sandbox_environment(base_url: str, credentials: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Environment variables pointing connections at a running sandbox (credentials() of every emulator)."""
    environment = {SANDBOX_URL_ENV: base_url}
    for prefix, variables in CREDENTIAL_VARIABLES.items():
        known = credentials.get(prefix, {})
        for variable, key in variables.items():
            if known.get(key):
                environment[variable] = str(known[key])
    return environment


def uses_sandbox(settings_values: Any) -> bool:
    """Whether some setting refers to the sandbox (${CANALIS_SANDBOX_URL}, ${CANALIS_SANDBOX_IMAP_HOST}...)."""
    if isinstance(settings_values, str):
        return SANDBOX_REFERENCE in settings_values
    if isinstance(settings_values, Mapping):
        return any(uses_sandbox(value) for value in settings_values.values())
    if isinstance(settings_values, list | tuple):
        return any(uses_sandbox(value) for value in settings_values)
    return False
