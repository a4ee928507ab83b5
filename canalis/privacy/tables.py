"""Privacy tables: salted hashes of erased people, and the audit of erasure and access requests."""

from __future__ import annotations

from sqlalchemy import Column, String, Table

from canalis.store.schema import metadata
from canalis.store.types import JSONDoc, UTCDateTime

erased_subjects = Table(
    "erased_subjects",
    metadata,
    Column("subject_hash", String(64), primary_key=True, comment="salted SHA-256 of a normalised identifier"),
    Column("kind", String(20), nullable=False, comment="email, phone or record (source:stream:id)"),
    Column("request_id", String(40), nullable=False, comment="the erase plan that erased it"),
    Column("erased_at", UTCDateTime, nullable=False),
    comment="What is left of an erased person: hashes that keep later imports from bringing them back.",
)

privacy_requests = Table(
    "privacy_requests",
    metadata,
    Column("request_id", String(40), primary_key=True, comment="the erase plan's id, or export-<time>-<hash>"),
    Column("kind", String(20), nullable=False, comment="erase or export"),
    Column("subject_hash", String(64), nullable=False, comment="salted hash of the identifier asked for"),
    Column("status", String(20), nullable=False, comment="planned, applied, partial or exported"),
    Column("systems", JSONDoc, comment="per channel: records deleted, anonymised, failed or not supported"),
    Column("purged", JSONDoc, comment="rows removed from each store table"),
    Column("requested_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    comment="Audit of erasure and access requests, without personal values.",
)
