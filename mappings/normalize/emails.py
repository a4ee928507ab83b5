"""Email addresses: trim, lower-case, syntax check with email-validator (no DNS), safe provider rules."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from canalis.mappings.normalize.result import Normalized, as_text, empty

# Domains whose mailbox ignores dots in the local part and everything after "+": certain, documented rules.
GMAIL_DOMAINS: frozenset[str] = frozenset({"gmail.com", "googlemail.com"})

# Local parts that name a function rather than a person; such addresses are never a person's key.
ROLE_LOCAL_PARTS: frozenset[str] = frozenset(
    {
        "accueil", "admin", "administration", "billing", "bonjour", "booking", "boutique", "commande",
        "commandes", "comptabilite", "compta", "contact", "contacts", "customerservice", "direction", "enquiries",
        "facturation", "hello", "help", "info", "infos", "information", "mail", "marketing", "no-reply",
        "noreply", "office", "orders", "postmaster", "reception", "rh", "sales", "secretariat", "service",
        "serviceclient", "service-client", "shop", "support", "team", "webmaster",
    }
)  # fmt: skip

_ATEXT = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"
_FAST = re.compile(
    rf"^(?P<local>{_ATEXT}+(?:\.{_ATEXT}+)*)@(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+[a-z]{{2,63}})$"
)
_SPECIAL = frozenset(SPECIAL_USE_DOMAIN_NAMES)
# Internationalised local parts (léa.dubois@...): atext or letters, in NFC form, before an ASCII domain. The two
# branches never match the same character (the second is non-ASCII letters only), so a failed match is linear.
_FAST_INTERNATIONAL = re.compile(
    rf"^(?P<local>(?:{_ATEXT}|[^\x00-\x7f\W\d_])+(?:\.(?:{_ATEXT}|[^\x00-\x7f\W\d_])+)*)@"
    rf"(?P<domain>(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+[a-z]{{2,63}})$"
)


_SPECIAL_DOTTED = tuple("." + name for name in _SPECIAL if "." in name)


def _is_special(domain: str) -> bool:
    return domain.rsplit(".", 1)[-1] in _SPECIAL or bool(_SPECIAL_DOTTED and domain.endswith(_SPECIAL_DOTTED))


def _fast_international(text: str) -> re.Match[str] | None:
    """The address split by the fast path when its only non-ASCII characters are letters of an NFC local part."""
    match = _FAST_INTERNATIONAL.match(text)
    if match is None or unicodedata.normalize("NFC", match["local"]) != match["local"]:
        return None
    if not all(char.isalpha() for char in match["local"] if not char.isascii()):
        return None
    return match


def _provider_rules(local: str, domain: str) -> tuple[str, str]:
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return local, domain


@lru_cache(maxsize=32768)  # per-value: bounded so memory stays flat over long streams
def _normalize_text(text: str, provider_rules: bool) -> tuple[str, bool, str | None]:
    lowered = text.lower()
    if lowered.startswith("mailto:"):
        lowered = lowered[7:]
    if lowered.startswith("<") and lowered.endswith(">"):
        lowered = lowered[1:-1].strip()
    match = _FAST.match(lowered) if lowered.isascii() else _fast_international(lowered)
    if match and len(match["local"]) <= 64 and len(lowered) <= 254 and not _is_special(match["domain"]):
        local, domain = match["local"], match["domain"]
    else:
        try:
            checked = validate_email(lowered, check_deliverability=False, allow_smtputf8=True)
        except EmailNotValidError as error:
            return lowered, False, f"syntax: {error}"
        local, domain = checked.local_part.lower(), checked.domain.lower()
    if provider_rules:
        local, domain = _provider_rules(local, domain)
        if not local:
            return lowered, False, "syntax: empty local part after provider rules"
    return f"{local}@{domain}", True, None


def email_key(raw: str | None) -> str | None:
    """The normalised email (with provider rules) when valid, else None: the fast form used for matching."""
    if not raw:
        return None
    text = raw.strip()
    if not text:
        return None
    value, valid, _ = _normalize_text(text, True)
    return value if valid else None


def email_of_text(text: str, *, provider_rules: bool = True) -> tuple[str, bool, str | None]:
    """(value, valid, reason) of an already stripped, non-empty text: what normalize_email gives, unwrapped."""
    return _normalize_text(text, provider_rules)


def normalize_email(raw: Any, *, provider_rules: bool = True) -> Normalized[str]:
    """Trim, lower-case and syntax-check an email; gmail dots and +tags are removed (those rules are certain)."""
    text = as_text(raw)
    if text is None:
        return empty(raw)
    value, valid, reason = _normalize_text(text, provider_rules)
    return Normalized(value, valid, reason, raw)


def email_local_part(email: str | None) -> str | None:
    """The part before the @ of a normalised email."""
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[0]


def is_role_address(email: str | None) -> bool:
    """True for addresses such as contact@, info@ or noreply@ that name a function, not a person."""
    local = email_local_part(email)
    if local is None:
        return False
    return local.split("+", 1)[0] in ROLE_LOCAL_PARTS
