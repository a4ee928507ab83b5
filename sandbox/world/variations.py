"""How one person's details drift between the systems that hold them: typing habits, typos, moves."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date

from canalis.sandbox.world.people import NICKNAMES, Address, Person, ascii_fold

STREET_ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "avenue": ("av.", "av", "Av."),
    "boulevard": ("bd", "bd.", "Bd", "boul."),
    "place": ("pl.",),
    "chemin": ("ch.", "chem."),
    "allée": ("all.", "allee"),
    "impasse": ("imp.",),
    "route": ("rte",),
    "rue": ("r.", "Rue"),
    "Road": ("Rd",),
    "Street": ("St",),
    "Avenue": ("Ave",),
    "Lane": ("Ln",),
}

DOMAIN_TYPOS: dict[str, tuple[str, ...]] = {
    "gmail.com": ("gmial.com", "gmail.fr", "gmal.com", "gmail.co"),
    "hotmail.fr": ("hotmial.fr", "hotmail.com", "hotmal.fr"),
    "orange.fr": ("orang.fr", "orange.com"),
    "yahoo.fr": ("yaho.fr", "yahoo.com"),
    "laposte.net": ("laposte.fr",),
    "outlook.fr": ("outlok.fr", "outlook.com"),
    "free.fr": ("fre.fr",),
    "wanadoo.fr": ("wanado.fr",),
}


@dataclass(frozen=True, slots=True)
class Copy:
    """A person's details as one system holds them (None where the system has nothing)."""

    given_name: str | None
    family_name: str | None
    email: str | None
    phone: str | None
    birth_date: date | None
    street: str | None
    postcode: str | None
    city: str | None
    region: str | None
    country_code: str | None
    country: str | None
    loyalty_id: str | None


@dataclass(frozen=True, slots=True)
class Habits:
    """How often a system's users alter each detail when typing it in."""

    phone_styles: tuple[str, ...]
    email_case: float = 0.05
    email_typo: float = 0.02
    plus_tag: float = 0.0
    gmail_dots: float = 0.0
    drop_accents: float = 0.1
    upper_family: float = 0.0
    lower_names: float = 0.0
    swap_names: float = 0.0
    nickname: float = 0.05
    split_compound: float = 0.1
    abbreviate_street: float = 0.3
    missing_email: float = 0.0
    missing_phone: float = 0.1
    missing_address: float = 0.1
    birth_date: float = 0.0
    stale_address: float = 0.5


HABITS: dict[str, Habits] = {
    "salesforce": Habits(("intl_spaced", "national_spaced"), birth_date=0.55, missing_phone=0.05, missing_address=0.15),
    "hubspot": Habits(
        ("intl_compact", "national_compact", "national_spaced"),
        email_case=0.02,
        plus_tag=0.02,
        nickname=0.1,
        missing_address=0.4,
        birth_date=0.3,
        missing_phone=0.3,
    ),
    "shopify": Habits(
        ("e164",),
        plus_tag=0.04,
        gmail_dots=0.05,
        lower_names=0.06,
        email_case=0.03,
        missing_phone=0.45,
        missing_address=0.15,
        stale_address=0.4,
    ),
    "square": Habits(
        ("national_dotted", "national_compact", "national_spaced", "intl_zeros", "e164"),
        email_case=0.12,
        email_typo=0.06,
        drop_accents=0.35,
        upper_family=0.15,
        swap_names=0.04,
        nickname=0.1,
        split_compound=0.25,
        abbreviate_street=0.5,
        missing_email=0.3,
        missing_phone=0.05,
        missing_address=0.55,
        birth_date=0.15,
        stale_address=0.6,
    ),
    "odoo": Habits(
        ("intl_spaced",),
        drop_accents=0.05,
        abbreviate_street=0.45,
        missing_phone=0.15,
        missing_address=0.05,
        stale_address=0.3,
    ),
    "brevo": Habits(
        ("brevo_sms",), email_case=0.0, upper_family=0.2, missing_phone=0.5, missing_address=1.0, stale_address=0.0
    ),
    "mailbox": Habits(
        ("e164",),
        email_case=0.05,
        plus_tag=0.03,
        gmail_dots=0.04,
        nickname=0.15,
        missing_phone=1.0,
        missing_address=1.0,
    ),
    "freshdesk": Habits(
        ("intl_spaced", "national_spaced", "national_compact"),
        email_case=0.04,
        plus_tag=0.02,
        nickname=0.1,
        lower_names=0.05,
        missing_email=0.03,
        missing_phone=0.4,
        missing_address=0.8,
    ),
    "mailchimp": Habits(
        ("national_spaced", "intl_compact"),
        email_case=0.0,
        upper_family=0.05,
        missing_phone=0.6,
        missing_address=0.7,
        stale_address=0.2,
    ),
}


def format_phone(e164: str, style: str) -> str:
    """A phone number written the way a person or a system writes it."""
    if not e164.startswith("+33"):
        if style in ("e164", "intl_compact", "brevo_sms"):
            return e164 if style != "brevo_sms" else e164[1:]
        national = "0" + e164[3:]
        return {
            "national_spaced": f"{national[:5]} {national[5:]}",
            "intl_spaced": f"{e164[:3]} {e164[3:7]} {e164[7:]}",
            "intl_zeros": "00" + e164[1:],
        }.get(style, national)
    digits = e164[3:]
    national = "0" + digits
    pairs = " ".join(national[i : i + 2] for i in range(0, 10, 2))
    match style:
        case "e164" | "intl_compact":
            return e164
        case "intl_spaced":
            return "+33 " + digits[0] + " " + " ".join(digits[i : i + 2] for i in range(1, 9, 2))
        case "national_spaced":
            return pairs
        case "national_dotted":
            return pairs.replace(" ", ".")
        case "national_compact":
            return national
        case "intl_zeros":
            return "0033" + digits
        case "brevo_sms":
            return "33" + digits
    raise ValueError(f"unknown phone style {style!r}")


def vary_email(email: str, habits: Habits, rng: random.Random) -> str:
    """The email as typed into one system: case, plus-tags, gmail dots, typos."""
    local, _, domain = email.partition("@")
    if habits.plus_tag and rng.random() < habits.plus_tag and not local.startswith("contact"):
        local = f"{local}+{rng.choice(('shop', 'promo', 'news', 'boutique'))}"
    if domain == "gmail.com" and rng.random() < habits.gmail_dots:
        local = local.replace(".", "") if "." in local else local[:3] + "." + local[3:]
    if rng.random() < habits.email_typo:
        if domain in DOMAIN_TYPOS and rng.random() < 0.6:
            domain = rng.choice(DOMAIN_TYPOS[domain])
        elif len(local) > 4:
            i = rng.randrange(1, len(local) - 2)
            local = local[:i] + local[i + 1] + local[i] + local[i + 2 :]
    result = f"{local}@{domain}"
    if rng.random() < habits.email_case:
        result = result.upper() if rng.random() < 0.3 else result[0].upper() + result[1:]
    return result


def vary_given(given: str, language: str, habits: Habits, rng: random.Random) -> str:
    """The given name as written in one system: nickname, split compound, no accents."""
    if rng.random() < habits.nickname and given in NICKNAMES:
        return rng.choice(NICKNAMES[given])
    if "-" in given and rng.random() < habits.split_compound:
        given = given.replace("-", " ") if rng.random() < 0.7 else given.split("-")[0]
    return given


def abbreviate(street_type: str, rng: random.Random) -> str:
    """A common abbreviation of a street type, when it has one."""
    options = STREET_ABBREVIATIONS.get(street_type)
    return rng.choice(options) if options else street_type


def street_line(address: Address, habits: Habits, rng: random.Random) -> str:
    """The street line as typed into one system."""
    street_type = address.street_type
    if rng.random() < habits.abbreviate_street:
        street_type = abbreviate(street_type, rng)
    if address.country_code == "FR":
        number = address.number.replace(" bis", "bis") if rng.random() < 0.3 else address.number
        return f"{number}{',' if rng.random() < 0.15 else ''} {street_type} {address.street_name}"
    return f"{address.number} {address.street_name} {street_type}"


def copy_for(person: Person, system: str, rng: random.Random) -> Copy:
    """The person's details as the given system holds them."""
    habits = HABITS[system]
    given: str = vary_given(person.given_name, person.language, habits, rng)
    family: str = person.family_name
    if rng.random() < habits.drop_accents:
        given, family = ascii_fold(given), ascii_fold(family)
    if rng.random() < habits.upper_family:
        family = family.upper()
    if rng.random() < habits.lower_names:
        given, family = given.lower(), family.lower()
    if rng.random() < habits.swap_names:
        given, family = family, given
    email: str | None = None
    if not (person.email_shared and system == "shopify") and rng.random() >= habits.missing_email:
        email = vary_email(person.email, habits, rng)
    phone = None if rng.random() < habits.missing_phone else format_phone(person.phone, rng.choice(habits.phone_styles))
    if email is None and phone is None and system in ("square", "shopify"):
        phone = format_phone(person.phone, habits.phone_styles[0])
    address: Address | None = person.address
    if person.old_address and rng.random() < habits.stale_address:
        address = person.old_address
    if rng.random() < habits.missing_address:
        address = None
    street = street_line(address, habits, rng) if address else None
    if address and street and system == "square" and rng.random() < 0.2:
        address = replace(address, region="")
    return Copy(
        given_name=given,
        family_name=family,
        email=email,
        phone=phone,
        birth_date=person.birth_date if rng.random() < habits.birth_date else None,
        street=street,
        postcode=address.postcode if address else None,
        city=address.city if address else None,
        region=(address.region or None) if address else None,
        country_code=address.country_code if address else None,
        country=address.country if address else None,
        loyalty_id=person.loyalty_id,
    )
