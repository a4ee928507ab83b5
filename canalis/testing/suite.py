"""The connector conformance suite: every test a connector must pass, generated from what it declares.

    from canalis.testing import connector_test_class

    TestAcme = connector_test_class(
        AcmeConnector,
        settings={"base_url": "https://api.acme.test/v1", "token": "test-token"},  # secrets go to the environment
        responses=Path(__file__).parent / "responses",   # recorded answers, two pages or more per stream
        writes={"consents": [...]},                      # sample records for each writable stream
    )

The tests run the connector against the recorded answers (no network): settings and secrets, the connection test,
full, incremental and resumed reads of every readable stream, retries of throttled, failing and dropped calls,
malformed records, secrets in logs, errors and state, batched and idempotent writes, and the default mapping.
A failure says what the plugin must change.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import ValidationError

from canalis.sdk.base import Connector, dig, record_id
from canalis.sdk.errors import CanalisError, ConfigError, MappingError
from canalis.sdk.settings import describe_settings, load_settings, secret_fields
from canalis.sdk.state import StreamState, compare_cursors, format_cursor
from canalis.sdk.streams import CheckResult, Page, Rejected, Stream, WriteResult, field_declared
from canalis.testing.recorded import Call, Exchange, RecordedServer, load_exchanges

MAX_PAGES = 10_000
RETRY_AFTER_SECONDS = 3
CONNECTION = "conformance"
_CREDENTIAL_NAME = re.compile(r"(^|_)(token|password|passwd|secret|api_?key|apikey|private_key)($|_)", re.I)


def must(condition: bool, what: str, change: str) -> None:
    """Fail the test, saying what went wrong and what the plugin must change, unless `condition` holds."""
    if not condition:
        pytest.fail(f"{what}\n  -> the plugin must {change}", pytrace=False)


class Harness:
    """One test's world: the connector's settings (secrets in the environment), the recorded server, the waits."""

    def __init__(self, suite: type[ConnectorConformance], monkeypatch: pytest.MonkeyPatch) -> None:
        self.suite = suite
        self.monkeypatch = monkeypatch
        self.model = suite.connector_class.settings_model
        self.secrets = {name: str(value) for name, value in suite.settings_values.items() if name in suite.secret_names}
        self.values: dict[str, Any] = {}
        for name, value in suite.settings_values.items():
            if name in self.secrets:
                variable = self.model.env_of(name) or f"CANALIS_CONFORMANCE_{name.upper()}"
                monkeypatch.setenv(variable, self.secrets[name])
                self.values[name] = {"env": variable}
            else:
                self.values[name] = value
        self.waits: list[float] = []
        monkeypatch.setattr(time, "sleep", self.waits.append)
        self.server = RecordedServer(list(suite.exchanges), retry_after=RETRY_AFTER_SECONDS)

    def wrong_secrets(self) -> None:
        """Give every secret setting a wrong value (in its environment variable)."""
        for name in self.secrets:
            variable = self.values[name]["env"]
            self.monkeypatch.setenv(variable, f"wrong-{name}-value")

    @contextmanager
    def connector(self) -> Iterator[Connector]:
        """A connector of the suite's settings, with the recorded server answering its calls."""
        connector = self.suite.connector_class.from_config(dict(self.values), connection=CONNECTION)
        try:
            with self.server.active():
                yield connector
        finally:
            connector.close()

    def read(self, stream: str, state: StreamState | None = None, *, pages: int = MAX_PAGES) -> list[Page]:
        """Read a stream to its end (or `pages` pages) with a fresh connector."""
        read: list[Page] = []
        with self.connector() as connector:
            for page in connector.read(stream, state):
                read.append(page)
                if len(read) >= pages:
                    break
        must(
            len(read) < MAX_PAGES,
            f"stream '{stream}' was still reading after {MAX_PAGES} pages of the recorded answers",
            "stop paging when the answer says there is nothing more (no next token, a short page, the total reached)",
        )
        self.require_recorded(f"reading stream '{stream}'")
        return read

    def require_recorded(self, doing: str) -> None:
        """Fail when the connector made calls no recorded answer matches."""
        missing = sorted({f"{call.method} {call.path} {call.params or ''}".strip() for call in self.server.unmatched})
        must(
            not missing,
            f"{doing} made calls with no recorded response: {'; '.join(missing[:5])}",
            "record an answer for each call it makes (responses=...), or stop making the call",
        )

    def stream(self, name: str) -> type[Stream]:
        return self.suite.connector_class.from_config(dict(self.values), connection=CONNECTION).stream(name)


class ConnectorConformance:
    """The tests; `connector_test_class` makes a subclass of it bound to one connector and its recordings."""

    connector_class: ClassVar[type[Connector]]
    settings_values: ClassVar[dict[str, Any]]
    secret_names: ClassVar[frozenset[str]]
    exchanges: ClassVar[list[Exchange]]
    write_samples: ClassVar[dict[str, list[dict[str, Any]]]]
    mapping: ClassVar[Path | None]
    readable: ClassVar[list[str]]
    incremental: ClassVar[list[str]]
    writable: ClassVar[list[str]]
    resilience_stream: ClassVar[str | None]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run the stream-level tests once per declared stream of the right kind."""
        for name, streams, kind in (
            ("stream", self.readable, "readable"),
            ("incremental_stream", self.incremental, "incremental"),
            ("write_stream", self.writable, "writable"),
        ):
            if name in metafunc.fixturenames:
                none = pytest.param(None, marks=pytest.mark.skip(reason=f"the connector declares no {kind} stream"))
                metafunc.parametrize(name, streams or [none])

    @pytest.fixture
    def harness(self, monkeypatch: pytest.MonkeyPatch) -> Harness:
        return Harness(type(self), monkeypatch)

    # --- settings -----------------------------------------------------------------------------------

    def test_settings_are_documented_and_secrets_marked(self) -> None:
        rows = describe_settings(self.connector_class.settings_model)
        undocumented = [row.name for row in rows if not row.description.strip()]
        must(not undocumented, f"settings without a description: {undocumented}", "describe every setting")
        unmarked = [row.name for row in rows if _CREDENTIAL_NAME.search(row.name) and not row.secret]
        must(not unmarked, f"settings named like credentials but not secret: {unmarked}", "declare them secret=True")
        no_env = [row.name for row in rows if row.secret and not row.env]
        must(not no_env, f"secret settings without an environment variable: {no_env}", "give each secret an env=")
        fields = self.connector_class.settings_model.model_fields
        plain = [row.name for row in rows if row.secret and "SecretStr" not in str(fields[row.name].annotation)]
        must(not plain, f"secret settings not typed SecretStr: {plain}", "type secrets SecretStr (masked in reprs)")

    def test_secrets_come_only_from_the_environment(self, harness: Harness) -> None:
        for name, value in harness.secrets.items():
            inline = {**harness.values, name: value}
            try:
                load_settings(self.connector_class.settings_model, inline, connection=CONNECTION)
            except ConfigError as error:
                must(value not in str(error), f"the error refusing secret '{name}' shows its value", "never echo it")
                must(name in str(error), f"the error refusing secret '{name}' does not name it", "name the setting")
                continue
            must(False, f"secret '{name}' was accepted from the connections file", "declare it secret=True")
        settings = load_settings(self.connector_class.settings_model, harness.values, connection=CONNECTION)
        for name, value in harness.secrets.items():
            must(value not in repr(settings), f"the settings' repr shows secret '{name}'", "type it SecretStr")

    # --- connection test ----------------------------------------------------------------------------

    def test_check_succeeds(self, harness: Harness) -> None:
        with harness.connector() as connector:
            result = connector.check()
        harness.require_recorded("check()")
        must(isinstance(result, CheckResult) and result.ok, f"check() gave {result!r}", "return CheckResult(ok=True)")

    def test_check_fails_naming_the_setting(self, harness: Harness) -> None:
        harness.server.answer_all = (401, {"message": "Invalid credentials"})
        with harness.connector() as connector:
            try:
                result = connector.check()
            except Exception as error:  # whatever the connector raises, its text is judged below
                text, setting, ok = f"{type(error).__name__}: {error}", getattr(error, "setting", None), False
            else:
                text, setting, ok = result.message, None, result.ok
        refused = "every call was refused with 401"
        if not harness.server.calls:  # no HTTP: give every secret a wrong value instead
            refused = "every secret setting was wrong"
            harness.wrong_secrets()
            with harness.connector() as connector:
                try:
                    result = connector.check()
                except Exception as error:  # whatever the connector raises, its text is judged below
                    text, setting, ok = f"{type(error).__name__}: {error}", getattr(error, "setting", None), False
                else:
                    text, setting, ok = result.message, None, result.ok
        must(not ok, f"check() said ok when {refused}", "let a refused connection fail check()")
        named = setting in self.secret_names or any(f"'{name}'" in text for name in self.secret_names)
        must(
            named,
            f"check(), when {refused}, did not name the credential setting ({sorted(self.secret_names)}): {text}",
            "raise ConfigError naming the setting at fault (HttpConnector.check_error, Connector.setting_error)",
        )
        leaked = [name for name, value in harness.secrets.items() if value in text]
        must(not leaked, f"check()'s error shows the value of {leaked}", "keep secret values out of messages")

    # --- reads --------------------------------------------------------------------------------------

    def test_stream_reads_to_the_end(self, harness: Harness, stream: str) -> None:
        pages = harness.read(stream)
        records = _records(pages)
        must(bool(records), f"stream '{stream}' read no record from the recordings", "record answers with records")
        rejected = [item for page in pages for item in page.rejected]
        must(
            not rejected,
            f"stream '{stream}' rejected recorded records: {rejected[0].error if rejected else ''}",
            "declare a record_model (and field types) the vendor's records satisfy, or fix the recording",
        )

    def test_records_match_the_declaration(self, harness: Harness, stream: str) -> None:
        declared = harness.stream(stream)
        records = _records(harness.read(stream))
        keys = Counter(record_id(declared, record) for record in records)
        repeated = sorted(str(key) for key, count in keys.items() if count > 1)
        must(
            not repeated,
            f"stream '{stream}' returned primary key {declared.primary_key!r} value(s) {repeated[:5]} more than once",
            "declare a primary key unique to each record (or build one, such as '_key', in prepare())",
        )
        fields = declared.declared_fields()
        if fields is None:
            return
        undeclared = sorted({path for record in records for path in _paths(record) if not field_declared(path, fields)})
        must(
            not undeclared,
            f"stream '{stream}' read fields it does not declare: {undeclared[:10]}",
            "list them in the stream's field_paths (`name.*` for open objects)",
        )

    def test_incremental_read_returns_only_newer_records(self, harness: Harness, incremental_stream: str) -> None:
        stream = incremental_stream
        declared = harness.stream(stream)
        full = harness.read(stream)
        state = full[-1].state
        must(
            state.cursor is not None,
            f"after reading stream '{stream}' to the end the state holds no cursor",
            "move the cursor to the newest cursor value read (state.advanced(...)) in the last page's state",
        )
        with harness.connector() as connector:
            lookback = connector.lookback_of(declared)
        bound = _bound(state, lookback)
        again = harness.read(stream, state)
        older = [
            record_id(declared, record)
            for record in _records(again)
            if _older(dig(record, declared.cursor_field or ""), bound, state.cursor_kind)
        ]
        must(
            not older,
            f"reading stream '{stream}' from the last read's state (cursor {state.cursor}, look-back {lookback}) "
            f"returned {len(older)} record(s) older than that: {older[:5]}",
            "use the incoming state: ask for records changed since state.since(lookback) and drop older ones",
        )
        final = again[-1].state
        must(
            final.cursor is not None and compare_cursors(final.cursor, state.cursor, state.cursor_kind) >= 0,
            f"reading stream '{stream}' again moved its cursor back from {state.cursor} to {final.cursor}",
            "never move the cursor backwards (state.advanced keeps the larger value)",
        )

    def test_a_state_in_the_future_reads_nothing(self, harness: Harness, incremental_stream: str) -> None:
        declared = harness.stream(incremental_stream)
        future = _future_state(declared)
        records = _records(harness.read(incremental_stream, future))
        must(
            not records,
            f"reading stream '{incremental_stream}' from a cursor in the future ({future.cursor}) "
            f"returned {len(records)} record(s)",
            "use the incoming state: nothing is newer than a cursor in the future",
        )

    def test_an_interrupted_read_resumes_without_loss_or_repeats(self, harness: Harness, stream: str) -> None:
        declared = harness.stream(stream)
        full = harness.read(stream)
        if len(full) < 2:
            pytest.skip(f"stream '{stream}' came in one page: record two pages or more to test resuming")
        first = full[0]
        resumed = harness.read(stream, first.state)
        expected = Counter(record_id(declared, record) for record in _records(full))
        got = Counter(record_id(declared, record) for record in _records([first, *resumed]))
        repeated, lost = sorted(map(str, (got - expected))), sorted(map(str, (expected - got)))
        must(
            not repeated,
            f"stream '{stream}' resumed after its first page read again {len(repeated)} record(s): {repeated[:5]}",
            "keep in each page's state where the next page starts, and resume there (RestStream does)",
        )
        must(
            not lost,
            f"stream '{stream}' resumed after its first page lost {len(lost)} record(s): {lost[:5]}",
            "keep in each page's state where the next page starts, and resume there (RestStream does)",
        )

    def test_a_malformed_record_is_rejected_with_its_reason(self, harness: Harness, stream: str) -> None:
        declared = harness.stream(stream)
        clean = _records(harness.read(stream))
        target = next((record for record in clean if record_id(declared, record) is not None), None)
        if target is None:
            pytest.skip(f"stream '{stream}' read no record with a primary key")
        key_value = dig(target, declared.primary_key)
        removed: list[bool] = []
        harness.server.corrupt = lambda body: _drop_key(body, declared.primary_key, key_value, removed)
        harness.server.calls.clear()
        try:
            pages = harness.read(stream)
        except Exception as error:
            must(False, f"a record without its primary key stopped stream '{stream}': {error}", "reject it instead")
            return
        if not removed:
            pytest.skip(f"stream '{stream}': no recorded answer holds its primary key as a field the suite can remove")
        rejected: list[Rejected] = [item for page in pages for item in page.rejected]
        reasons = [item.error for item in rejected]
        must(
            any(declared.primary_key.split(".")[-1] in (reason or "") for reason in reasons),
            f"a record of stream '{stream}' missing its primary key {declared.primary_key!r} was not rejected with "
            f"that reason (rejected: {reasons[:3]})",
            "pass malformed records through to validation, or put them in Page.rejected with the reason",
        )

    # --- resilience ---------------------------------------------------------------------------------

    def test_a_429_is_retried_after_its_retry_after(self, harness: Harness) -> None:
        self._survives(harness, "429", "a 429 answer (Retry-After: 3)")
        must(
            any(wait >= RETRY_AFTER_SECONDS for wait in harness.waits),
            f"a 429 with Retry-After: {RETRY_AFTER_SECONDS} was retried without waiting that long "
            f"(waited {harness.waits})",
            "wait the Retry-After the API asks for before retrying (the SDK's HttpClient does)",
        )

    def test_a_5xx_is_retried(self, harness: Harness) -> None:
        self._survives(harness, "503", "a 503 answer")

    def test_a_dropped_connection_is_retried(self, harness: Harness) -> None:
        self._survives(harness, "drop", "a dropped connection")

    def _survives(self, harness: Harness, fault: str, what: str) -> None:
        stream = self.resilience_stream
        if stream is None:
            pytest.skip("the connector declares no readable stream")
        declared = harness.stream(stream)
        expected = sorted(str(record_id(declared, r)) for r in _records(harness.read(stream)))
        if not harness.server.calls:
            pytest.skip(f"stream '{stream}' is read without HTTP calls: HTTP faults do not apply")
        harness.server.faults = [fault]
        try:
            pages = harness.read(stream)
        except Exception as error:
            must(False, f"{what} stopped reading stream '{stream}': {error}", "retry it (the SDK's HttpClient does)")
            return
        got = sorted(str(record_id(declared, r)) for r in _records(pages))
        must(got == expected, f"after {what} stream '{stream}' read other records", "retry the same call")

    # --- secrets ------------------------------------------------------------------------------------

    def test_no_secret_in_logs_errors_or_state(self, harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
        texts: dict[str, str] = {}
        with caplog.at_level(logging.DEBUG):
            for stream in self.readable:
                pages = harness.read(stream)
                texts[f"state of {stream}"] = json.dumps([page.state.to_stored() for page in pages])
            with harness.connector() as connector:
                texts["connector repr"] = repr(connector) + repr(connector.settings)
            harness.server.answer_all = (401, {"message": "Unauthorized"})
            texts["check() error"] = _error_text(lambda: _check(harness))
            harness.server.answer_all = (500, {"message": "Internal error"})
            if self.resilience_stream is not None:
                texts["read error"] = _error_text(lambda: harness.read(self.resilience_stream or ""))
        texts["logs"] = caplog.text
        leaks = [
            f"{where} shows secret '{name}'"
            for where, text in texts.items()
            for name, value in harness.secrets.items()
            if len(value) >= 4 and value in text
        ]
        must(not leaks, "; ".join(leaks), "keep secret values out of logs, errors and state (mask them)")

    # --- writes -------------------------------------------------------------------------------------

    def test_writes_stay_within_the_declared_batch_size(self, harness: Harness, write_stream: str) -> None:
        samples = self.write_samples.get(write_stream) or []
        if not samples:
            pytest.skip(f"no sample records for writable stream '{write_stream}' (writes={{...}})")
        declared = harness.stream(write_stream)
        with harness.connector() as connector:
            size = connector.write_batch_size(write_stream)
            must(
                len(samples) > size,
                f"{len(samples)} sample record(s) for stream '{write_stream}', not more than its batch size {size}",
                "give more sample records than the batch size (or lower its batch_size setting in the suite)",
            )
            results = list(connector.write(write_stream, [dict(record) for record in samples]))
        harness.require_recorded(f"writing stream '{write_stream}'")
        calls = [call for call in harness.server.calls if call.method != "GET"]
        counts = [_batch_count(call, declared.batch_path) for call in calls]
        if declared.batch_path is None:
            must(
                size == 1,
                f"stream '{write_stream}' writes batches of {size} but declares no batch_path",
                "declare batch_path: where a write call's records are in its JSON body ('' for a list body)",
            )
            must(len(calls) >= len(samples), "fewer write calls than records with a batch size of 1", "write each")
        over = [count for count in counts if count is not None and count > size]
        must(
            not over,
            f"stream '{write_stream}' sent write calls of {over} records, over its declared batch size {size}",
            "split writes in batches of write_batch_size(stream) records at most",
        )
        _require_one_result_each(write_stream, samples, results)

    def test_writes_are_idempotent_when_replayed(self, harness: Harness, write_stream: str) -> None:
        samples = self.write_samples.get(write_stream) or []
        if not samples:
            pytest.skip(f"no sample records for writable stream '{write_stream}' (writes={{...}})")
        runs: list[tuple[list[Any], list[WriteResult]]] = []
        for _ in range(2):
            harness.server.calls.clear()
            with harness.connector() as connector:
                results = list(connector.write(write_stream, [dict(record) for record in samples]))
            sent = [_sent(call) for call in harness.server.calls if call.method != "GET"]
            runs.append((sent, results))
        harness.require_recorded(f"writing stream '{write_stream}'")
        must(
            runs[0][0] == runs[1][0],
            f"writing the same records to stream '{write_stream}' twice sent different calls",
            "send the same calls for the same records (no random ids or timestamps; idempotency keys from content)",
        )
        failed = [result for result in runs[1][1] if result.status == "failed"]
        must(
            not failed,
            f"replaying writes to stream '{write_stream}' failed: {failed[0].error if failed else ''}",
            "make writes idempotent (upserts, set rather than add)",
        )
        _require_one_result_each(write_stream, samples, runs[1][1])

    # --- mapping and recordings ---------------------------------------------------------------------

    def test_the_mapping_compiles_against_the_declared_streams(self, harness: Harness) -> None:
        if self.mapping is None:
            pytest.skip("the connector ships no default mapping")
        from canalis.config.check import mapping_mismatches
        from canalis.mappings.declarative.engine import Mapper
        from canalis.mappings.declarative.spec import load_mapping

        must(self.mapping.is_file(), f"the default mapping {self.mapping} is missing", "ship it next to the class")
        try:
            spec = load_mapping(self.mapping)
            mapper = Mapper(spec, connection=CONNECTION)
        except CanalisError as error:
            must(False, f"the mapping {self.mapping.name} does not load: {error}", "fix the mapping file")
            return
        must(
            spec.connector == self.connector_class.name,
            f"the mapping is written for connector '{spec.connector}'",
            f"name connector: {self.connector_class.name} in it",
        )
        problems = mapping_mismatches(spec, self.connector_class, self.readable)
        must(not problems, f"the mapping does not fit the declared streams: {problems[:5]}", "fix the mapping")
        failures = []
        for stream in spec.streams:
            for record in _records(harness.read(stream)) if stream in self.readable else []:
                try:
                    mapper.map_record(stream, record)
                except MappingError as error:
                    failures.append(str(error))
        must(not failures, f"recorded records do not map: {failures[:3]}", "fix the mapping or the recordings")

    def test_every_recorded_response_is_used(self, harness: Harness) -> None:
        with harness.connector() as connector:
            connector.check()
            for stream in self.readable:
                for _page in connector.read(stream):
                    pass
            for stream, samples in self.write_samples.items():
                list(connector.write(stream, [dict(record) for record in samples]))
        unused = [exchange.describe() for exchange in harness.server.unused()]
        must(
            not unused,
            f"recorded responses that answered no call: {unused[:5]}",
            "remove them, or fix their request (method, path, params) so they match the calls made",
        )


def connector_test_class(
    connector: type[Connector],
    *,
    settings: Mapping[str, Any],
    responses: Any = (),
    writes: Mapping[str, list[dict[str, Any]]] | None = None,
    mapping: Path | str | bool | None = True,
    name: str | None = None,
) -> type[ConnectorConformance]:
    """The conformance test class of a connector: assign it to a `Test...` name in a test module.

    `settings` are the connection's settings, secrets included (the suite puts secrets in their environment
    variables); `responses` the recorded answers (a file or folder of YAML/JSON exchanges, or a list of them;
    none for a connector that makes no HTTP call);
    `writes` sample records per writable stream (more than its batch size); `mapping` the mapping to check (the
    connector's default one when True, none when False).
    """
    model = connector.settings_model
    secrets = frozenset(secret_fields(model))
    try:
        loaded = model.model_validate(dict(settings))
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, item['loc']))}: {item['msg']}" for item in error.errors())
        raise ValueError(f"connector_test_class({connector.__name__}): settings are not valid: {problems}") from None
    instance = connector(loaded, connection=CONNECTION)
    declared = instance.declared_streams()
    readable = [stream.name for stream in declared if stream.readable]
    if mapping is True:
        mapping_path = connector.mapping_path() if connector.default_mapping is not None else None
    else:
        mapping_path = Path(mapping) if mapping else None
    attributes = {
        "connector_class": connector,
        "settings_values": dict(settings),
        "secret_names": secrets,
        "exchanges": load_exchanges(responses),
        "write_samples": {key: list(value) for key, value in (writes or {}).items()},
        "mapping": mapping_path,
        "readable": readable,
        "incremental": [stream.name for stream in declared if stream.readable and stream.incremental()],
        "writable": [stream.name for stream in declared if stream.writable],
        "resilience_stream": readable[0] if readable else None,
        "__module__": connector.__module__,
    }
    return type(name or f"Test{connector.__name__}Conformance", (ConnectorConformance,), attributes)


def _records(pages: list[Page]) -> list[dict[str, Any]]:
    return [record for page in pages for record in page.records]


def _paths(record: Any, prefix: str = "") -> Iterator[str]:
    """The leaf paths of a record; list items are reached through the list's name."""
    if isinstance(record, dict):
        if not record and prefix:
            yield prefix
        for key, value in record.items():
            yield from _paths(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(record, list) and any(isinstance(item, dict) for item in record):
        for item in record:
            yield from _paths(item, prefix)
    elif prefix:
        yield prefix


def _bound(state: StreamState, lookback: timedelta) -> str:
    if state.cursor_kind == "datetime":
        since = state.since(lookback)
        return format_cursor(since, "datetime") if since else str(state.cursor)
    return str(state.cursor)


def _older(value: Any, bound: str, kind: Any) -> bool:
    if value is None or value == "":
        return False
    try:
        return compare_cursors(format_cursor(value, kind), bound, kind) < 0
    except (TypeError, ValueError):
        return False


def _future_state(stream: type[Stream]) -> StreamState:
    kind = stream.cursor_kind
    if kind == "datetime":
        cursor = format_cursor(datetime.now(UTC) + timedelta(days=3650), "datetime")
    elif kind == "integer":
        cursor = str(10**15)
    else:
        cursor = "\uffff" * 8
    return StreamState(cursor=cursor, cursor_kind=kind)


def _drop_key(body: Any, path: str, value: Any, removed: list[bool]) -> Any:
    """The answer with the primary key removed from the record holding `value` at `path` (once per answer)."""
    parts = path.split(".")

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            holder = dig(node, ".".join(parts[:-1])) if len(parts) > 1 else node
            if isinstance(holder, dict) and str(holder.get(parts[-1])) == str(value):
                del holder[parts[-1]]
                removed.append(True)
                return True
            return any(walk(child) for child in node.values())
        if isinstance(node, list):
            return any(walk(child) for child in node)
        return False

    walk(body)
    return body


def _check(harness: Harness) -> None:
    with harness.connector() as connector:
        connector.check()


def _error_text(action: Any) -> str:
    try:
        action()
    except BaseException as error:  # the text of whatever the connector raised
        if isinstance(error, KeyboardInterrupt | SystemExit):
            raise
        if type(error).__name__ in ("Failed", "Skipped"):
            return ""
        return f"{type(error).__name__}: {error} {error.__cause__ or ''} {error.__context__ or ''}"
    return ""


def _batch_count(call: Call, batch_path: str | None) -> int | None:
    if batch_path is None:
        return None
    items = call.json if batch_path == "" else dig(call.json, batch_path)
    return len(items) if isinstance(items, list) else 1


def _sent(call: Call) -> tuple[str, str, str, str]:
    return call.method, call.path, json.dumps(call.params, sort_keys=True), json.dumps(call.json, sort_keys=True)


def _require_one_result_each(stream: str, samples: list[dict[str, Any]], results: list[WriteResult]) -> None:
    expected = Counter(str(record.get("key")) for record in samples)
    got = Counter(str(result.record_key) for result in results)
    must(
        got == expected,
        f"writing stream '{stream}' gave results for keys {sorted(got)[:5]}, not one per record "
        f"({sorted(expected)[:5]})",
        "yield exactly one WriteResult per record, with the record's key",
    )
