"""Typed connector settings: declared once with description, environment variable and secret marking.

A connector's settings are a pydantic model deriving from `ConnectorSettings`. Each field is declared with
`setting(...)`; values come from the connection's entry in the connections file or from the environment.
Secret values may only come from the environment, are typed `SecretStr` and never appear in logs, metadata
or exception text.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from canalis.sdk.errors import ConfigError, ConfigProblem


class ConnectorSettings(BaseModel):
    """Base of every connector's settings model."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)


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
                env=extra.get("env"),  # type: ignore[arg-type]
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
