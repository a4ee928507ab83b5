"""Settings of the file-drop connector."""

from __future__ import annotations

from pydantic import field_validator

from canalis.sdk import ConnectorSettings, setting

DEFAULT_PATTERNS = {
    "customers": "customers*",
    "orders": "orders*",
    "order_lines": "order_lines*",
    "interactions": "interactions*",
}


class FileDropSettings(ConnectorSettings):
    """Where the files are and how they are written."""

    path: str = setting(
        description="Folder holding the files; `sample:<name>` names a sample folder shipped with Canalis.",
        env="CANALIS_FILE_DROP_PATH",
        example="/data/exports/web_shop",
    )
    files: dict[str, str] = setting(
        default_factory=lambda: dict(DEFAULT_PATTERNS),
        description="File name pattern per stream (glob; .csv and .jsonl files match).",
    )
    primary_keys: dict[str, str] = setting(
        default_factory=dict,
        description="Primary-key column per stream when it is not the stream's default.",
    )
    delimiter: str = setting(",", description="CSV field delimiter.", env="CANALIS_FILE_DROP_DELIMITER")
    encoding: str = setting("utf-8", description="Text encoding of the files.")
    page_size: int = setting(1000, description="Records per page handed to the store.", gt=0, le=100_000)
    detect_deletes: bool = setting(
        False,
        description="Whether rows that disappear from the files (or whole files removed) count as deleted: every "
        "file is then read on every run, and a stream's missing rows become tombstones.",
    )

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError("must be exactly one character")
        return value

    @field_validator("files")
    @classmethod
    def _known_streams(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(DEFAULT_PATTERNS))
        if unknown:
            raise ValueError(f"unknown stream '{unknown[0]}' (streams: {', '.join(DEFAULT_PATTERNS)})")
        return {**DEFAULT_PATTERNS, **value}
