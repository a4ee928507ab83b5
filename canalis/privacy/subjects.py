"""Erased people: the salted hashes that stand for them, and the filter that keeps later imports from bringing
them back.

Only hashes are kept: of the person's normalised email addresses and of the source records that held them
(`source:stream:record_id`). The salt comes from CANALIS_ERASURE_SALT, else from a file `erasure.salt` in the
Canalis home, created with a random value at the first erasure; it is never logged or shown.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from canalis.privacy.masking import EMAIL
from canalis.privacy.tables import erased_subjects
from canalis.sdk.errors import ConfigError
from canalis.store.database import canalis_home

SALT_ENV = "CANALIS_ERASURE_SALT"
SALT_FILE = "erasure.salt"
MIN_SALT_LENGTH = 16


def erasure_salt(*, create: bool = False) -> bytes:
    """The salt of erased people's hashes: CANALIS_ERASURE_SALT, else the home's salt file (made when `create`)."""
    configured = os.environ.get(SALT_ENV)
    if configured is not None:
        if len(configured) < MIN_SALT_LENGTH:
            raise ConfigError(f"{SALT_ENV} must hold at least {MIN_SALT_LENGTH} characters", setting=SALT_ENV)
        return configured.encode()
    path = canalis_home() / SALT_FILE
    if not path.is_file():
        if not create:
            raise ConfigError(
                f"people were erased but neither {SALT_ENV} nor {path} holds the erasure salt: restore it, or set "
                f"{SALT_ENV} to the value used when they were erased",
                setting=SALT_ENV,
            )
        _write_secret(path, secrets.token_hex(32))
    return path.read_text(encoding="utf-8").strip().encode()


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value)


def normalise_email(email: str) -> str:
    """An email address as compared for erasure: trimmed, lower-case."""
    return email.strip().lower()


def subject_hash(salt: bytes, kind: str, value: str) -> str:
    """The salted hash of one identifier of a person (kind: email, phone or record)."""
    return hmac.new(salt, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def record_ref(source: str, stream: str, record_id: str) -> str:
    """How a source record is named in erased hashes."""
    return f"{source}:{stream}:{record_id}"


def has_erased(connection: Connection) -> bool:
    """Whether anyone was erased from this store."""
    return connection.execute(sa.select(erased_subjects.c.subject_hash).limit(1)).first() is not None


@dataclass(frozen=True)
class ErasedFilter:
    """Recognises records of erased people: by their source record, or by an email address anywhere in them."""

    salt: bytes
    hashes: frozenset[str]

    @classmethod
    def load(cls, engine: Engine) -> ErasedFilter | None:
        """The filter of a store, or None when nobody was erased (then nothing needs checking)."""
        with engine.connect() as connection:
            hashes = frozenset(connection.execute(sa.select(erased_subjects.c.subject_hash)).scalars())
        if not hashes:
            return None
        return cls(salt=erasure_salt(), hashes=hashes)

    def matches(self, source: str, stream: str, record_id: str | None, payload: Any) -> bool:
        """Whether a raw record belongs to an erased person."""
        if record_id is not None and subject_hash(self.salt, "record", record_ref(source, stream, record_id)) in (
            self.hashes
        ):
            return True
        return any(subject_hash(self.salt, "email", email) in self.hashes for email in emails_in(payload))


def emails_in(value: Any) -> Iterator[str]:
    """Every email address in a JSON document's text values, normalised."""
    if isinstance(value, str):
        if "@" in value:
            for found in EMAIL.findall(value):
                yield normalise_email(found)
    elif isinstance(value, dict):
        for item in value.values():
            yield from emails_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from emails_in(item)
