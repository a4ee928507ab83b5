"""Keep secrets out of logs, errors and reprs: mask secret values, sensitive headers and query parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote_plus, urlsplit

MASK = "***"

SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-shopify-access-token",
        "api-key",
        "x-api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
    }
)

_SENSITIVE_HEADER_PATTERN = re.compile(r"token|secret|passw|api[-_]?key|signature|cookie|auth", re.IGNORECASE)
_SENSITIVE_PARAM_PATTERN = re.compile(
    r"token|key|secret|passw|pwd|signature|credential|session|^sig$|^auth|^code$", re.IGNORECASE
)
# A name=value pair as it appears in a query string or in free text (exception messages, logs).
_PARAM_IN_TEXT = re.compile(r"(?P<name>[A-Za-z0-9_.\-\[\]]+)=(?P<value>[^&\s#'\",;)]+)")
# The password in scheme://user:password@host.
_URL_PASSWORD = re.compile(r"(?P<prefix>://[^/\s:@]*:)[^@\s/]+@")
# Only the credential part of "Bearer abc" / "Basic abc" style header values.
_AUTH_SCHEME = re.compile(r"^(?:bearer|basic|token|digest|oauth|apikey|sso-key)\s+(?P<credential>.+)$", re.I)


def is_sensitive_header(name: str) -> bool:
    """Tell whether an HTTP header carries a credential."""
    lowered = name.lower()
    return lowered in SENSITIVE_HEADERS or bool(_SENSITIVE_HEADER_PATTERN.search(lowered))


def is_sensitive_param(name: str) -> bool:
    """Tell whether a query parameter name looks like it carries a credential."""
    return bool(_SENSITIVE_PARAM_PATTERN.search(name))


def _secret_forms(secrets: Iterable[str]) -> list[str]:
    """Every secret with its URL-encoded forms, longest first so overlaps are fully masked."""
    forms: set[str] = set()
    for secret in secrets:
        if not secret or not secret.strip():
            continue
        forms.update({secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)})
    return sorted(forms, key=len, reverse=True)


def _mask_sensitive_params(text: str) -> str:
    """Mask the value of every sensitive name=value pair found in the text."""

    def replace(match: re.Match[str]) -> str:
        if is_sensitive_param(match.group("name")):
            return f"{match.group('name')}={MASK}"
        return match.group(0)

    return _PARAM_IN_TEXT.sub(replace, text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask each secret value and its URL-encoded forms, URL passwords and sensitive name=value pairs."""
    for form in _secret_forms(secrets):
        text = text.replace(form, MASK)
    text = _URL_PASSWORD.sub(rf"\g<prefix>{MASK}@", text)
    return _mask_sensitive_params(text)


def redact_url(url: str, secrets: Iterable[str] = ()) -> str:
    """Mask the password in the URL's user info, sensitive query parameters and known secret values."""
    return redact(url, secrets)


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Copy the headers with the value of every sensitive header replaced by ***."""
    return {name: MASK if is_sensitive_header(name) else value for name, value in headers.items()}


def header_secrets(headers: Mapping[str, str]) -> set[str]:
    """The secret values carried by sensitive headers: each whole value and its credential part."""
    found: set[str] = set()
    for name, value in headers.items():
        if not isinstance(value, str) or not value.strip() or not is_sensitive_header(name):
            continue
        found.add(value)
        scheme = _AUTH_SCHEME.match(value.strip())
        if scheme:
            found.add(scheme.group("credential"))
    return found


def url_secrets(url: str) -> set[str]:
    """The values of sensitive query parameters and the password in a URL."""
    parts = urlsplit(url)
    found = {parts.password} if parts.password else set()
    for match in _PARAM_IN_TEXT.finditer(parts.query):
        if is_sensitive_param(match.group("name")):
            found.update({match.group("value"), unquote_plus(match.group("value"))})
    return found
