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
    return optout_from(props, optout_properties(subscription))


def optout_from(props: dict[str, Any], names: list[str]) -> str | None:
    """marketing_optout with the opt-out property names worked out already (once per page, not per contact)."""
    known = False
    for name in names:
        flag = props.get(name)
        if flag is None or flag == "":
            continue
        if str(flag).lower() == "true":
            return "true"
        known = True
    return "false" if known else None
