"""Declarative connectors: a REST connector written entirely in YAML, loaded into an ordinary Connector class.

    name: acme
    kind: crm
    title: Acme CRM
    settings:
      env_prefix: CANALIS_ACME
      defaults: {base_url: "https://{subdomain}.acme.com/api/v2"}     # {names} are other settings
      fields:
        api_key: {type: secret, description: "API key", env: CANALIS_ACME_API_KEY}
        subdomain: {type: string, description: "Your Acme subdomain", env: CANALIS_ACME_SUBDOMAIN}
    auth: {kind: basic, username: "{api_key}", password: X}    # bearer | basic | header | query | none
    check: {path: /me}
    streams:
      - name: contacts
        path: /contacts
        primary_key: id
        cursor_field: updated_at
        cursor_param: updated_since
        paginator: {kind: page_number, size: 100, page_param: page, size_param: per_page}
        field_paths: [id, name, email, updated_at]
    writes:
      - name: consents
        method: POST
        path: /lists/{list_id}/members
        batch_size: 500
        batch_path: members                      # where the records go in the body
        body: {update_existing: true}            # the rest of the body
        record: {email_address: "{email}", status: {from: status, values: {denied: unsubscribed}}}

`declarative_connector(path)` returns the connector class; the registry loads a package holding a
`connector.yaml` like any other connector. The YAML is checked when loaded: a wrong key or value is an error
naming its path in the file. Code is the escape hatch: subclass the class it returns and override what the
YAML cannot say (a `read_<stream>` method, `write`, `prepare`).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Any, ClassVar, Literal

import requests
import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from canalis.config.yaml_text import parse_yaml
from canalis.sdk.base import Connector, ConnectorKind, dig
from canalis.sdk.errors import ApiError, ConfigError, ConnectorError
from canalis.sdk.http_connector import HttpConnector
from canalis.sdk.paginators import PAGINATORS, Paginator
from canalis.sdk.rest import ParentPartitions, RestStream, SettingPartitions, fill, template_values
from canalis.sdk.settings import HttpSettings, setting, validation_problems
from canalis.sdk.streams import Stream, WriteOnlyStream, WriteResult


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SettingSpec(_Spec):
    """One setting of a declarative connector."""

    type: Literal["string", "integer", "number", "boolean", "secret", "date", "string_list", "integer_list"] = "string"
    description: str
    env: str | None = None
    default: Any = None
    required: bool = False
    example: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    choices: list[str] | None = None


class SettingsSpec(_Spec):
    """The settings: the HTTP ones are inherited (base_url, timeout_seconds, max_attempts, requests_per_second)."""

    env_prefix: str = ""
    defaults: dict[str, Any] = Field(default_factory=dict)
    fields: dict[str, SettingSpec] = Field(default_factory=dict)


class AuthSpec(_Spec):
    """How calls carry the credentials; values are templates over the settings (`{api_key}`)."""

    kind: Literal["bearer", "basic", "header", "query", "none"] = "none"
    token: str | None = None
    username: str | None = None
    password: str | None = None
    name: str | None = None
    value: str | None = None


class PaginatorSpec(_Spec):
    """A paginator by kind, with its options (see canalis.sdk.paginators)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    kind: Literal["none", "offset", "page_number", "cursor", "next_url", "link_header"] = "none"

    def build(self) -> Paginator:
        options = {key: value for key, value in (self.model_extra or {}).items()}
        try:
            return PAGINATORS[self.kind](**options)
        except TypeError as error:
            raise ValueError(f"paginator {self.kind}: {error}") from None


class PartitionSpec(_Spec):
    """One read per parent record (`stream`, `field`) or per value of a list setting (`setting`), as `{name}`."""

    name: str
    stream: str | None = None
    field: str | None = None
    setting: str | None = None


class StreamSpec(_Spec):
    """A readable stream: one endpoint, declared."""

    name: str
    path: str
    method: Literal["GET", "POST"] = "GET"
    description: str = ""
    primary_key: str
    cursor_field: str | None = None
    cursor_kind: Literal["datetime", "integer", "string"] = "datetime"
    cursor_param: str | None = None
    cursor_in: Literal["params", "json"] = "params"
    cursor_format: str = "iso"
    sorted_by_cursor: bool = False
    start: str | None = None
    lookback_minutes: float = 0
    records_path: str | None = None
    record_path: str | None = None
    record_at: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    paginator: PaginatorSpec = Field(default_factory=PaginatorSpec)
    partitions: PartitionSpec | None = None
    field_paths: list[str] | None = None

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not value.replace("_", "").isalnum() or not value[0].isalpha() or value != value.lower():
            raise ValueError("stream names are lower-case letters, digits and underscores")
        return value


class LookupSpec(_Spec):
    """A record value translated through a table (`denied` -> `unsubscribed`)."""

    from_: str = Field(alias="from")
    values: dict[str, Any] = Field(default_factory=dict)
    default: Any = None


class ErrorsSpec(_Spec):
    """Where a batch answer lists the records it refused: each item names a record by `match` (its value of
    `record_field`) and says why in `message`."""

    path: str
    match: str
    record_field: str
    message: str = "error"


class WriteSpec(_Spec):
    """A writable stream: records sent in batches to one endpoint."""

    name: str
    description: str = ""
    method: Literal["POST", "PUT", "PATCH"] = "POST"
    path: str
    batch_size: int = Field(ge=1)
    batch_path: str = ""
    body: dict[str, Any] = Field(default_factory=dict)
    record: dict[str, str | LookupSpec] = Field(default_factory=dict)
    errors: ErrorsSpec | None = None


class ConnectorSpec(_Spec):
    """A whole declarative connector."""

    name: str
    kind: ConnectorKind
    title: str = ""
    description: str = ""
    settings: SettingsSpec = Field(default_factory=SettingsSpec)
    auth: AuthSpec = Field(default_factory=AuthSpec)
    headers: dict[str, str] = Field(default_factory=dict)
    check: dict[str, str] | None = None
    streams: list[StreamSpec]
    writes: list[WriteSpec] = Field(default_factory=list)
    default_mapping: str | None = "mapping.yaml"


def declarative_connector(path: str | Path, *, module: str | None = None) -> type[Connector]:
    """The connector class a YAML file declares; ConfigError naming every wrong key or value by its path."""
    path = Path(path).resolve()
    try:
        document = parse_yaml(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read the connector declaration: {error}") from None
    try:
        spec = ConnectorSpec.model_validate(document)
    except ValidationError as error:
        problems = validation_problems(error, path.name, ConnectorSpec)
        raise ConfigError.of(problems) from None
    try:
        return build_connector_class(spec, folder=path.parent, module=module or f"canalis.declarative.{spec.name}")
    except ValueError as error:
        raise ConfigError(f"{path.name}: {error}") from None


def build_connector_class(spec: ConnectorSpec, *, folder: Path, module: str) -> type[Connector]:
    """The Connector class of a parsed declaration (its mappings are looked for in `folder`)."""
    settings_model = _settings_model(spec, module)
    streams: list[type[Stream]] = [_stream_class(item, module) for item in spec.streams]
    streams += [_write_class(item, module) for item in spec.writes]
    names = [stream.name for stream in streams]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"streams and writes share the name(s) {repeated}")
    attributes: dict[str, Any] = {
        "name": spec.name,
        "kind": spec.kind,
        "title": spec.title or spec.name,
        "description": spec.description,
        "settings_model": settings_model,
        "streams": tuple(streams),
        "spec": spec,
        "folder": folder,
        "default_mapping": spec.default_mapping,
        "check_path": (spec.check or {}).get("path"),
        "headers": dict(spec.headers),
        "__module__": module,
        "__doc__": spec.description or f"The {spec.title or spec.name} connector, declared in YAML.",
    }
    class_name = "".join(part.title() for part in spec.name.split("_")) + "Connector"
    return type(class_name, (DeclarativeConnector,), attributes)


class DeclarativeConnector(HttpConnector):
    """A connector whose streams, settings, authentication and writes come from a YAML declaration."""

    spec: ClassVar[ConnectorSpec]
    folder: ClassVar[Path]

    @classmethod
    def package_dir(cls) -> Path:
        """The declaration's folder, where its mappings are."""
        return cls.folder

    def _values(self) -> dict[str, Any]:
        values = template_values(self, {})
        return {key: v.get_secret_value() if isinstance(v, SecretStr) else v for key, v in values.items()}

    def _template(self, text: str | None) -> str:
        return str(text or "").format_map(self._values())

    def api_url(self) -> str:
        """The base URL, with `{setting}` placeholders filled; a ConfigError naming a placeholder left unset."""
        values = self._values()
        for name in _placeholders(self.settings.base_url):
            if values.get(name) in (None, ""):
                raise self.setting_error(name, "is needed to build base_url (or set base_url itself)")
        return self._template(self.settings.base_url)

    def auth_headers(self) -> dict[str, str]:
        auth = self.spec.auth
        if auth.kind == "bearer":
            return {"Authorization": f"Bearer {self._template(auth.token)}"}
        if auth.kind == "header":
            return {str(auth.name): self._template(auth.value)}
        return {}

    def auth(self) -> requests.auth.AuthBase | None:
        auth = self.spec.auth
        if auth.kind == "basic":
            return requests.auth.HTTPBasicAuth(self._template(auth.username), self._template(auth.password))
        if auth.kind == "query":
            return _QueryAuth(str(auth.name), self._template(auth.value))
        return None

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        declared = self.stream(stream)
        spec = next((item for item in self.spec.writes if item.name == declared.name), None)
        if spec is None:
            raise ConnectorError(f"{self.name}: stream '{stream}' is read-only")
        items = list(records)
        size = self.write_batch_size(stream)
        for start in range(0, len(items), size):
            yield from self._write_batch(spec, items[start : start + size])

    def _write_batch(self, spec: WriteSpec, batch: list[dict[str, Any]]) -> list[WriteResult]:
        values = self._values()
        body = fill(dict(spec.body), values, self, self.stream(spec.name))
        payload = [_record_body(spec, record) for record in batch]
        if spec.batch_path:
            body = _put(body, spec.batch_path, payload)
        path = fill(spec.path, values, self, self.stream(spec.name))
        call = f"{spec.method} {spec.path}"
        try:
            answer = self.http.request_json(spec.method, path, json=body if spec.batch_path else payload, call=call)
        except ApiError as error:
            return [
                WriteResult(str(r.get("key")), "failed", error=str(error), retryable=error.retryable) for r in batch
            ]
        refused = _refused(spec.errors, answer)
        results = []
        for record in batch:
            reason = refused.get(str(record.get(spec.errors.record_field))) if spec.errors else None
            key = str(record.get("key"))
            results.append(WriteResult(key, "failed", error=reason) if reason else WriteResult(key, "applied"))
        return results


class _QueryAuth(requests.auth.AuthBase):
    """A credential sent as a query parameter (masked in logs and errors by the SDK)."""

    def __init__(self, name: str, value: str) -> None:
        self.name, self.token = name, value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.prepare_url(request.url, {self.name: self.token})
        return request


def _settings_model(spec: ConnectorSpec, module: str) -> type[HttpSettings]:
    namespace: dict[str, Any] = {"__module__": module, "__annotations__": {}}
    for name, item in spec.settings.fields.items():
        annotation, default = _setting_type(item)
        options: dict[str, Any] = {"default_factory": list} if default is list else {"default": default}
        if item.minimum is not None:
            options["ge"] = item.minimum
        if item.maximum is not None:
            options["le"] = item.maximum
        namespace["__annotations__"][name] = annotation
        namespace[name] = setting(
            description=item.description,
            env=item.env,
            secret=item.type == "secret",
            example=item.example,
            **options,
        )
    namespace["env_prefix"] = spec.settings.env_prefix
    namespace["setting_defaults"] = dict(spec.settings.defaults)
    class_name = "".join(part.title() for part in spec.name.split("_")) + "Settings"
    try:
        return type(class_name, (HttpSettings,), namespace)
    except TypeError as error:
        raise ValueError(f"settings: {error}") from None


def _setting_type(item: SettingSpec) -> tuple[Any, Any]:
    """The annotation and default of one declared setting (required when it has no default)."""
    kinds: dict[str, Any] = {
        "string": str,
        "integer": int,
        "number": float,
        "boolean": bool,
        "secret": SecretStr,
        "date": date,
        "string_list": list[str],
        "integer_list": list[int],
    }
    annotation = kinds[item.type]
    if item.choices:
        annotation = Literal[tuple(item.choices)]  # type: ignore[valid-type]
    if item.default is not None:
        return annotation, item.default
    if item.required:
        return annotation, ...
    if item.type in ("string_list", "integer_list"):
        return annotation, list
    return annotation | None, None


def _stream_class(item: StreamSpec, module: str) -> type[RestStream]:
    partitions = None
    if item.partitions is not None:
        part = item.partitions
        if part.setting:
            partitions = SettingPartitions(setting=part.setting, name=part.name)
        elif part.stream and part.field:
            partitions = ParentPartitions(stream=part.stream, field=part.field, name=part.name)
        else:
            raise ValueError(f"stream {item.name}: partitions need `stream` and `field`, or `setting`")
    attributes = {
        "name": item.name,
        "path": item.path,
        "method": item.method,
        "description": item.description,
        "primary_key": item.primary_key,
        "cursor_field": item.cursor_field,
        "cursor_kind": item.cursor_kind,
        "cursor_param": item.cursor_param,
        "cursor_in": item.cursor_in,
        "cursor_format": item.cursor_format,
        "sorted_by_cursor": item.sorted_by_cursor,
        "start": item.start,
        "lookback": timedelta(minutes=item.lookback_minutes),
        "records_path": item.records_path,
        "record_path": item.record_path,
        "record_at": item.record_at,
        "params": dict(item.params),
        "body": item.body,
        "paginator": item.paginator.build(),
        "partitions": partitions,
        "field_paths": tuple(item.field_paths) if item.field_paths is not None else None,
        "__module__": module,
    }
    return type(_class_name(item.name), (RestStream,), attributes)


def _write_class(item: WriteSpec, module: str) -> type[WriteOnlyStream]:
    attributes = {
        "name": item.name,
        "description": item.description,
        "batch_size": item.batch_size,
        "batch_path": item.batch_path,
        "__module__": module,
    }
    return type(_class_name(item.name) + "Write", (WriteOnlyStream,), attributes)


def _placeholders(template: str) -> list[str]:
    """The names of the `{name}` placeholders of a template."""
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def _class_name(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))


def _record_body(spec: WriteSpec, record: Mapping[str, Any]) -> dict[str, Any]:
    """One record as the endpoint takes it: each declared field from a template or a lookup."""
    body: dict[str, Any] = {}
    for name, rule in spec.record.items():
        if isinstance(rule, LookupSpec):
            value = record.get(rule.from_)
            body[name] = rule.values.get(str(value), rule.default)
        else:
            body[name] = rule.format_map(_Defaulting(record))
    return body


class _Defaulting(dict):  # type: ignore[type-arg]
    """A record as template values: a missing field fills in as empty text."""

    def __missing__(self, key: str) -> str:
        return ""


def _put(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """The body with `value` at a dotted path."""
    result = dict(body)
    node = result
    parts = path.split(".")
    for part in parts[:-1]:
        node[part] = dict(node.get(part) or {})
        node = node[part]
    node[parts[-1]] = value
    return result


def _refused(errors: ErrorsSpec | None, answer: Any) -> dict[str, str]:
    """The reason of each record a batch answer refused, by its matching value."""
    if errors is None:
        return {}
    found = {}
    for item in dig(answer, errors.path) or []:
        if isinstance(item, Mapping) and item.get(errors.match) is not None:
            found[str(item[errors.match])] = str(item.get(errors.message) or "refused by the API")
    return found
