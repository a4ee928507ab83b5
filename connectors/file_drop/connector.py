"""The file-drop connector: CSV and JSONL files dropped in a folder, read incrementally by file content."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from canalis.connectors.file_drop.reader import file_digest, read_rows
from canalis.connectors.file_drop.settings import FileDropSettings
from canalis.connectors.file_drop.streams import STREAMS, FileStream
from canalis.sdk import CheckResult, ConfigError, Connector, Page, Rejected, Stream, StreamState

SAMPLE_ROOT = Path(__file__).parent / "sample"
SUFFIXES = (".csv", ".jsonl")


class FileDropConnector(Connector):
    """Reads exports dropped as files; a file is read again only when its content changed."""

    name = "file_drop"
    kind = "file"
    title = "File drop (CSV / JSONL)"
    description = "Exports from any system dropped as CSV or JSONL files in a folder."
    settings_model = FileDropSettings
    streams = STREAMS

    settings: FileDropSettings

    def declared_streams(self) -> tuple[type[Stream], ...]:
        overrides = self.settings.primary_keys
        adapted: list[type[Stream]] = []
        for stream in STREAMS:
            if stream.name in overrides:
                columns = tuple(part.strip() for part in overrides[stream.name].split("+") if part.strip())
                stream = type(stream.__name__, (stream,), {"key_columns": columns})
            adapted.append(stream)
        return tuple(adapted)

    @property
    def folder(self) -> Path:
        """The folder the files are read from, resolved (a `sample:` folder stays among the shipped samples)."""
        path = self.settings.path
        if path.startswith("sample:"):
            root = SAMPLE_ROOT.resolve()
            folder = (root / path.removeprefix("sample:")).resolve()
            if not folder.is_relative_to(root):
                raise self.setting_error("path", "names a sample folder outside the samples Canalis ships")
            return folder
        return Path(path).expanduser().resolve()

    def files_for(self, stream: type[Stream]) -> list[Path]:
        """The files of a stream, in name order; a file leading outside the folder (a symlink) is refused."""
        folder = self.folder
        pattern = self.settings.files[stream.name]
        found: list[Path] = []
        for path in sorted(folder.glob(pattern)):
            if not path.resolve().is_relative_to(folder):
                raise self.setting_error(
                    "path", f"folder holds '{path.relative_to(folder)}', which leads outside it (refused)"
                )
            if path.is_file() and path.suffix.lower() in SUFFIXES:
                found.append(path)
        return found

    def check(self) -> CheckResult:
        folder = self.folder
        if not folder.is_dir():
            raise ConfigError(
                f"connection '{self.connection}': setting 'path': folder {folder} does not exist",
                setting="path",
                connection=self.connection,
            )
        found = {stream.name: len(self.files_for(stream)) for stream in self.declared_streams()}
        return CheckResult(ok=True, message=f"{sum(found.values())} files in {folder}", details=found)

    def detects_deletes_by_absence(self, stream: type[Stream]) -> bool:
        """Rows missing from the files are deleted when the connection opts in (`detect_deletes`)."""
        return self.settings.detect_deletes

    def read_pages(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        if not self.folder.is_dir():
            self.check()
        assert issubclass(stream, FileStream)
        seen: dict[str, str] = dict(state.extra.get("files", {}))
        for path in self.files_for(stream):
            digest = file_digest(path)
            if seen.get(path.name) == digest and not self.settings.detect_deletes:
                continue  # unchanged since the last read (every file is read when deletes are detected)
            started = datetime.now(UTC)
            yield from self._read_file(stream, path, state)
            seen[path.name] = digest
            state = StreamState(
                cursor=state.cursor, cursor_kind=state.cursor_kind, extra={**state.extra, "files": dict(seen)}
            )
            # every row of the file was read again: earlier rejections of its lines are settled
            yield Page(records=[], state=state, superseded=(path.name,), read_since=started)

    def _read_file(self, stream: type[FileStream], path: Path, state: StreamState) -> Iterator[Page]:
        records: list[dict[str, Any]] = []
        rejected: list[Rejected] = []
        for row in read_rows(path, delimiter=self.settings.delimiter, encoding=self.settings.encoding):
            if isinstance(row, Rejected):
                rejected.append(row)
            else:
                keyed = _with_key(stream, row)
                if isinstance(keyed, Rejected):
                    rejected.append(keyed)
                else:
                    records.append(keyed)
            if len(records) + len(rejected) >= self.settings.page_size:
                yield Page(records=records, state=state, rejected=rejected)
                records, rejected = [], []
        if records or rejected:
            yield Page(records=records, state=state, rejected=rejected)


def _with_key(stream: type[FileStream], row: dict[str, Any]) -> dict[str, Any] | Rejected:
    parts = [str(row.get(column) or "").strip() for column in stream.key_columns]
    if not all(parts):
        missing = [column for column, part in zip(stream.key_columns, parts, strict=True) if not part]
        where = f"{row.get('_source_file')} line {row.get('_line')}"
        return Rejected(
            payload=row,
            error=f"{where}: missing key column '{missing[0]}'",
            record_id=f"{row.get('_source_file')}:{row.get('_line')}",
            field=missing[0],
        )
    return {**row, "_key": ":".join(parts)}
