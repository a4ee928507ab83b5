"""A contact's marketing email opt-out, read from its properties the same way for reads and for writes."""

from __future__ import annotations

from typing import Any

OPTOUT_PREFIX = "hs_email_optout_"
PORTAL_WIDE = "hs_email_optout"


def optout_properties(subscription: str | None) -> list[str]:
    """The contact properties that hold the opt-out: all email, and the marketing subscription's own flag."""
    return [PORTAL_WIDE, *([f"{OPTOUT_PREFIX}{subscription}"] if subscription else [])]


def marketing_optout(props: dict[str, Any], subscription: str | None) -> str | None:
    """'true' when opted out of all email or of marketing email, 'false' when known not to be, else None."""
    flags = [props.get(name) for name in optout_properties(subscription)]
    known = [str(flag).lower() for flag in flags if flag not in (None, "")]
    if not known:
        return None
    return "true" if "true" in known else "false"
