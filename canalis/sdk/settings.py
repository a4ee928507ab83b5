"""Typed connector settings: declared once with description, environment variable and secret marking.

A connector's settings are a pydantic model deriving from `ConnectorSettings`. Each field is declared with
`setting(...)`; values come from the connection's entry in the connections file or from the environment.
Secret values may only come from the environment, are typed `SecretStr` and never appear in logs, metadata
or exception text.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from canalis.sdk.errors import ConfigError, ConfigProblem

ENV_PREFIX_PLACEHOLDER = "{prefix}"


class ConnectorSettings(BaseModel):
    """Base of every connector's settings model.

    Two class attributes serve settings a connector inherits rather than declares (such as `HttpSettings`'):
    `env_prefix` names the environment variables of settings declared with `env="{prefix}_NAME"`
    (`CANALIS_ACME` gives `CANALIS_ACME_BASE_URL`; without a prefix they have none), and `setting_defaults`
    changes the default of inherited settings (`{"base_url": "https://api.acme.com", "requests_per_second": 5}`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    env_prefix: ClassVar[str] = ""
    setting_defaults: ClassVar[Mapping[str, Any]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Apply the subclass's own `setting_defaults` to the settings it inherits."""
        super().__pydantic_init_subclass__(**kwargs)
        own = cls.__dict__.get("setting_defaults") or {}
        if not own:
            return
        unknown = sorted(set(own) - set(cls.__pydantic_fields__))
        if unknown:
            raise TypeError(f"{cls.__name__}.setting_defaults names no setting: {', '.join(unknown)}")
        for name, value in own.items():
            field = copy.copy(cls.__pydantic_fields__[name])
            field.default = value
            field.default_factory = None
            cls.__pydantic_fields__[name] = field
        cls.model_rebuild(force=True)

    @classmethod
    def env_of(cls, name: str) -> str | None:
        """The environment variable a setting is read from, or None."""
        field = cls.model_fields.get(name)
        extra = field.json_schema_extra if field is not None and isinstance(field.json_schema_extra, dict) else {}
        env = extra.get("env")
        if not isinstance(env, str) or not env:
            return None
        if ENV_PREFIX_PLACEHOLDER in env:
            return env.replace(ENV_PREFIX_PLACEHOLDER, cls.env_prefix) if cls.env_prefix else None
        return env


def setting(
    default: Any = ...,
    *,
    description: str,
    env: str | None = None,
    secret: bool = False,
    example: str | None = None,
    **constraints: Any,
) -> Any:
    """Declare one setting; `env` names the environment variable read when the connection does not set it."""
    extra: dict[str, Any] = {"secret": secret}
    if env:
        extra["env"] = env
    if example is not None:
        extra["example"] = example
    return Field(default, description=description, json_schema_extra=extra, **constraints)


class HttpCallSettings(ConnectorSettings):
    """How patiently a connector calls an HTTP API: the read timeout, the attempts per call and the pace.

    For connectors whose address is not a plain base URL (a shop name, a login flow); the others inherit
    `HttpSettings`. Environment variables: `<env_prefix>_TIMEOUT_SECONDS`, `<env_prefix>_MAX_ATTEMPTS` and
    `<env_prefix>_REQUESTS_PER_SECOND` (and `_MAX_RESPONSE_MB`); `setting_defaults` gives a connector its own defaults.
    """

    timeout_seconds: float = setting(
        60.0, description="Read timeout of one HTTP call, in seconds.", env="{prefix}_TIMEOUT_SECONDS", gt=0, le=600
    )
    max_attempts: int = setting(
        6,
        description="Attempts per call on throttling (429), 5xx answers and dropped connections.",
        env="{prefix}_MAX_ATTEMPTS",
        ge=1,
        le=20,
    )
    requests_per_second: float = setting(
        0.0,
        description="Client-side cap on calls per second; 0 for none (429 answers are waited out either way).",
        env="{prefix}_REQUESTS_PER_SECOND",
        ge=0,
        le=1000,
    )
    max_response_mb: float = setting(
        100.0,
        description="Largest answer one call may return, in MB (decompressed); a larger one fails the call.",
        env="{prefix}_MAX_RESPONSE_MB",
        gt=0,
        le=10_000,
    )


class HttpSettings(HttpCallSettings):
    """The settings every connector over an HTTP API has: where the API is (`base_url`), and how patiently to
    call it (inherited from `HttpCallSettings`).

    Connectors inherit them and set their own defaults through `setting_defaults`; the base URL's environment
    variable is `<env_prefix>_BASE_URL`.
    """

    base_url: str = setting(
        description="Base URL of the API (point it at the sandbox, e.g. http://127.0.0.1:8765/<vendor>, to use "
        "the emulator).",
        env="{prefix}_BASE_URL",
        validate_default=True,
    )

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


@dataclass(frozen=True)
class SettingDoc:
    """One row of a connector's settings table in the docs."""

    name: str
    env: str | None
    default: str
    required: bool
    secret: bool
    description: str


def describe_settings(model: type[ConnectorSettings]) -> list[SettingDoc]:
    """The settings of a model as documentation rows (README tables and `.env.example` come from here)."""
    rows: list[SettingDoc] = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        required = field.is_required()
        default = "" if required else _render_default(field.get_default(call_default_factory=True))
        rows.append(
            SettingDoc(
                name=name,
                env=model.env_of(name),
                default=default,
                required=required,
                secret=bool(extra.get("secret")),
                description=field.description or "",
            )
        )
    return rows


def _render_default(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def secret_fields(model: type[ConnectorSettings]) -> set[str]:
    """Names of the settings marked secret."""
    return {row.name for row in describe_settings(model) if row.secret}


def load_settings(
    model: type[ConnectorSettings],
    values: Mapping[str, Any] | None,
    *,
    connection: str,
    environ: Mapping[str, str] | None = None,
) -> ConnectorSettings:
    """Validate a connection's settings, filling unset ones from their environment variables.

    Raises a ConfigError listing every problem, each naming the connection, the setting's path and its
    environment variable; no message holds the value given.
    """
    environ = os.environ if environ is None else environ
    docs = {row.name: row for row in describe_settings(model)}
    prefix = f"connections.{connection}.settings"
    problems: list[ConfigProblem] = []

    def problem(name: str, message: str) -> None:
        problems.append(ConfigProblem(f"{prefix}.{name}", message, connection))

    resolved: dict[str, Any] = {}
    for name, value in (values or {}).items():
        doc = docs.get(name)
        if doc is None:
            problem(name, f"unknown setting{did_you_mean(name, docs)} (known: {', '.join(sorted(docs))})")
        elif doc.secret and not _is_env_reference(value):
            where = doc.env or "give {env: NAME}"
            problem(name, f"a secret must come from an environment variable ({where}), not from the connections file")
        elif _is_env_reference(value):
            variable = value["env"]
            if variable in environ:
                resolved[name] = environ[variable]
            elif doc.required:
                problem(name, f"required, and environment variable {variable} is not set")
        else:
            try:
                resolved[name] = _interpolate(value, environ)
            except KeyError as missing:
                problem(name, f"uses ${{{missing.args[0]}}}, which is not set")
    for name, doc in docs.items():
        if name not in (values or {}) and doc.env and doc.env in environ:
            resolved[name] = environ[doc.env]
    given = set(values or {})
    try:
        settings = model.model_validate(resolved)
    except ValidationError as error:
        for item in error.errors():
            name = ".".join(str(part) for part in item["loc"]) or "?"
            top = str(item["loc"][0]) if item["loc"] else ""
            if top in given and top not in resolved:
                continue  # already reported above
            doc = docs.get(top)
            if item["type"] == "missing":
                how = f"export {doc.env}" if doc and doc.env else "set it in the connection's settings"
                kind = "secret" if doc and doc.secret else "setting"
                problem(name, f"required {kind} is missing: {how}")
            else:
                hint = f" (environment variable {doc.env})" if doc and doc.env else ""
                problem(name, f"{item['msg'].removeprefix('Value error, ')}{hint}")
        settings = None
    if problems or settings is None:
        raise ConfigError.of(problems)
    return settings


def validation_problems(
    error: ValidationError, prefix: str, model: type[BaseModel] | None = None, *, connection: str | None = None
) -> list[ConfigProblem]:
    """Every error of a pydantic validation as a problem at its full path, misspelt keys with a suggestion."""
    problems = []
    for item in error.errors():
        parts = [str(part) for part in item["loc"]]
        where = ".".join([prefix, *parts]) if prefix else ".".join(parts)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden" and model is not None:
            known = _keys_at(model, parts[:-1])
            message = f"unknown key{did_you_mean(parts[-1], known)}"
            if known:
                message += f" (known: {', '.join(sorted(known))})"
        problems.append(ConfigProblem(where, message, connection))
    return problems


def did_you_mean(name: str, known: Any) -> str:
    """' (did you mean 'x'?)' for the closest known name, or nothing."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _keys_at(model: type[BaseModel], path: list[str]) -> list[str]:
    """The field names of the model found by following a location through fields, dicts and lists."""
    current: Any = model
    remaining = list(path)
    while remaining:
        origin, args = get_origin(current), get_args(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(remaining.pop(0))
            if field is None:
                return []
            current = field.annotation
        elif origin in (dict, Mapping) and len(args) == 2:
            remaining.pop(0)
            current = args[1]
        elif origin in (list, tuple, set, frozenset) and args:
            remaining.pop(0)
            current = args[0]
        elif args:  # a union: follow its model member
            current = next((arg for arg in args if isinstance(arg, type) and issubclass(arg, BaseModel)), None)
        else:
            return []
    while get_args(current) and not (isinstance(current, type) and issubclass(current, BaseModel)):
        current = next((a for a in get_args(current) if isinstance(a, type) and issubclass(a, BaseModel)), None)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(value: Any, environ: Mapping[str, str]) -> Any:
    """Replace ${VAR} and ${VAR:-default} in text settings with environment values (KeyError: VAR unset)."""
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        variable, default = match.group(1), match.group(2)
        if variable in environ:
            return environ[variable]
        if default is not None:
            return default
        raise KeyError(variable)

    return _VARIABLE.sub(replace, value)


def _is_env_reference(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"env"}
