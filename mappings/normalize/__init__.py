"""Normalisation of customer fields for storage and comparison: emails, phones, names, addresses and dates."""

from canalis.mappings.normalize.addresses import (
    country_code,
    fold_place,
    normalize_country,
    normalize_postcode,
    normalize_street,
    postcode_key,
)
from canalis.mappings.normalize.dates import parse_date
from canalis.mappings.normalize.emails import email_key, email_local_part, is_role_address, normalize_email
from canalis.mappings.normalize.names import ascii_fold, fold_name, phonetic_key
from canalis.mappings.normalize.phones import normalize_phone, phone_key
from canalis.mappings.normalize.result import Normalized

__all__ = [
    "Normalized",
    "ascii_fold",
    "country_code",
    "email_key",
    "email_local_part",
    "fold_name",
    "fold_place",
    "is_role_address",
    "normalize_country",
    "normalize_email",
    "normalize_phone",
    "normalize_postcode",
    "normalize_street",
    "parse_date",
    "phone_key",
    "phonetic_key",
    "postcode_key",
]
