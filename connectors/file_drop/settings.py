"""Settings of the file-drop connector."""

from __future__ import annotations

import codecs
from pathlib import PurePosixPath, PureWindowsPath

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
    encoding: str = setting(
        "utf-8",
        description="Text encoding of the files (utf-8, latin-1, cp1252...); a line that does not decode is "
        "quarantined with the reason.",
    )
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
        for stream, pattern in value.items():
            if _leaves_folder(pattern):
                raise ValueError(f"pattern of '{stream}' must stay inside the folder (no absolute path, no '..')")
        return {**DEFAULT_PATTERNS, **value}

    @field_validator("path")
    @classmethod
    def _sample_inside(cls, value: str) -> str:
        if value.startswith("sample:") and _leaves_folder(value.removeprefix("sample:")):
            raise ValueError("a sample folder is named by its name alone (no absolute path, no '..')")
        return value

    @field_validator("encoding")
    @classmethod
    def _line_encoding(cls, value: str) -> str:
        try:
            codec = codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding '{value}'") from None
        if codec.encode('\n,;"')[0].removeprefix(codecs.BOM_UTF8) != b'\n,;"':
            raise ValueError(f"'{value}' is not read line by line: use an ASCII-compatible encoding")
        return value


def _leaves_folder(pattern: str) -> bool:
    """Whether a relative path or glob pattern could name something outside the folder it is taken in."""
    path = PurePosixPath(pattern.replace("\\", "/"))
    return path.is_absolute() or pattern.startswith("~") or ".." in path.parts or PureWindowsPath(pattern).drive != ""
