"""Ingest: read connector streams page by page into the raw landing table, with state committed alongside."""

from canalis.ingest.landing import IngestReport
from canalis.ingest.stream import ingest_stream

__all__ = ["IngestReport", "ingest_stream"]
