"""Typed connector settings: declared once with description, environment variable and secret marking.

A connector's settings are a pydantic model deriving from `ConnectorSettings`. Each field is declared with
`setting(...)`; values come from the connection's entry in the connections file or from the environment.
Secret values may only come from the environment, are typed `SecretStr` and never appear in logs, metadata
or exception text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from connectors.sdk.errors import ConfigError


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

    Raises ConfigError naming the connection, the setting and its environment variable; the message never
    holds the value given.
    """
    environ = os.environ if environ is None else environ
    values = {name: _interpolate(value, environ, connection, name) for name, value in (values or {}).items()}
    docs = {row.name: row for row in describe_settings(model)}
    unknown = sorted(set(values) - set(docs))
    if unknown:
        raise ConfigError(
            f"connection '{connection}': unknown setting '{unknown[0]}' (known: {', '.join(sorted(docs))})",
            setting=unknown[0],
            connection=connection,
        )
    for name, doc in docs.items():
        if name in values and doc.secret and not _is_env_reference(values[name]):
            raise ConfigError(
                f"connection '{connection}': secret setting '{name}' must come from an environment variable "
                f"({doc.env or 'give {env: NAME}'}), not from the connections file",
                setting=name,
                connection=connection,
            )
        if name in values and _is_env_reference(values[name]):
            variable = values[name]["env"]
            if variable in environ:
                values[name] = environ[variable]
            else:
                values.pop(name)
                if doc.required:
                    raise ConfigError(
                        f"connection '{connection}': setting '{name}' is required; "
                        f"environment variable {variable} is not set",
                        setting=name,
                        connection=connection,
                    )
        elif name not in values and doc.env and doc.env in environ:
            values[name] = environ[doc.env]
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "?"
        doc = docs.get(str(first["loc"][0])) if first["loc"] else None
        hint = f" (environment variable {doc.env})" if doc and doc.env else ""
        raise ConfigError(
            f"connection '{connection}': setting '{name}'{hint}: {first['msg']}",
            setting=name,
            connection=connection,
        ) from None


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(value: Any, environ: Mapping[str, str], connection: str, name: str) -> Any:
    """Replace ${VAR} and ${VAR:-default} in text settings with environment values."""
    if not isinstance(value, str) or "${" not in value:
        return value

    def replace(match: re.Match[str]) -> str:
        variable, default = match.group(1), match.group(2)
        if variable in environ:
            return environ[variable]
        if default is not None:
            return default
        raise ConfigError(
            f"connection '{connection}': setting '{name}' uses ${{{variable}}}, which is not set",
            setting=name,
            connection=connection,
        )

    return _VARIABLE.sub(replace, value)


def _is_env_reference(value: Any) -> bool:
    return isinstance(value, Mapping) and set(value) == {"env"}
