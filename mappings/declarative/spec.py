"""The declarative mapping file: per source stream, targets that map source fields to canonical fields."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from canalis.canonical.entities import ENTITIES
from canalis.config.yaml_text import parse_yaml
from canalis.mappings.declarative.transforms import TRANSFORMS, checked_arguments
from canalis.sdk.errors import ConfigError

PATH_PART = re.compile(r"[^.]*\S[^.]*")


def check_path(path: str) -> None:
    """A source path is dot-separated names (`properties.email`, `lines.0.sku`), none of them empty or blank;
    ValueError saying what is wrong."""
    if not isinstance(path, str) or not path:
        raise ValueError("a source path cannot be empty")
    for part in path.split("."):
        if not PATH_PART.fullmatch(part):
            raise ValueError(f"'{path}' is not a source path (dot-separated names, none of them empty or blank)")


class TransformCall(BaseModel):
    """One named transform with its arguments."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class FieldRule(BaseModel):
    """How one canonical field is filled: from source paths (first non-empty), a constant or the context."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | list[str] | None = Field(default=None, alias="from")
    const: Any = None
    context: Literal["connection", "channel", "stream"] | None = None
    join: str | None = Field(default=None, description="join several source values with this text")
    transforms: list[TransformCall] = Field(default_factory=list)
    default: Any = None
    required: bool = False
    on_invalid: Literal["quarantine", "flag"] = "quarantine"

    @field_validator("transforms", mode="before")
    @classmethod
    def _calls(cls, value: Any) -> Any:
        calls = []
        for item in value or []:
            if isinstance(item, str):
                calls.append({"name": item})
            elif isinstance(item, dict) and len(item) == 1 and "name" not in item:
                name, args = next(iter(item.items()))
                calls.append({"name": name, "args": args or {}})
            else:
                calls.append(item)
        return calls

    @field_validator("transforms")
    @classmethod
    def _known(cls, value: list[TransformCall]) -> list[TransformCall]:
        checked = []
        for call in value:
            if call.name not in TRANSFORMS:
                raise ValueError(f"unknown transform '{call.name}' (known: {', '.join(sorted(TRANSFORMS))})")
            checked.append(TransformCall(name=call.name, args=checked_arguments(call.name, call.args)))
        return checked

    @field_validator("source")
    @classmethod
    def _paths(cls, value: str | list[str] | None) -> str | list[str] | None:
        for path in [value] if isinstance(value, str) else value or []:
            check_path(path)
        return value

    @model_validator(mode="after")
    def _one_origin(self) -> FieldRule:
        origins = sum(x is not None for x in (self.source, self.const, self.context))
        if origins != 1:
            raise ValueError("give exactly one of 'from', 'const' or 'context'")
        return self

    def source_paths(self) -> list[str]:
        """Source paths this rule reads."""
        if self.source is None:
            return []
        return [self.source] if isinstance(self.source, str) else list(self.source)


class Target(BaseModel):
    """One canonical entity filled from a stream (a stream may fill several, e.g. an order and its interaction)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    entity: str
    object: str | None = Field(default=None, description="object name in record keys; default the stream name")
    each: str | None = Field(default=None, description="path of a list in the record: one entity per item")
    when: dict[str, Any] | None = Field(default=None, description="only records whose path equals a value")
    fields: dict[str, FieldRule]

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        return {name: ({"from": rule} if isinstance(rule, str | list) else rule) for name, rule in value.items()}

    @field_validator("each")
    @classmethod
    def _each_path(cls, value: str | None) -> str | None:
        if value is not None:
            check_path(value)
        return value

    @field_validator("when")
    @classmethod
    def _when_paths(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        for path in value or {}:
            check_path(path)
        return value

    @model_validator(mode="after")
    def _entity_fields(self) -> Target:
        if self.entity not in ENTITIES:
            raise ValueError(f"unknown entity '{self.entity}' (known: {', '.join(sorted(ENTITIES))})")
        model_fields = ENTITIES[self.entity].record_type.model_fields
        unknown = sorted(set(self.fields) - set(model_fields))
        if unknown:
            raise ValueError(
                f"entity '{self.entity}' has no field '{unknown[0]}' (fields: {', '.join(sorted(model_fields))})"
            )
        missing = [name for name, info in model_fields.items() if info.is_required() and name not in self.fields]
        if missing:
            raise ValueError(f"entity '{self.entity}' needs the field '{missing[0]}', which the target does not fill")
        return self


class StreamMapping(BaseModel):
    """The targets of one stream, and which source fields it knows."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    targets: list[Target]
    strict: bool = Field(default=False, description="quarantine records with source fields the mapping does not know")
    ignore: list[str] = Field(default_factory=list, description="source fields known but not mapped")

    def known_fields(self) -> set[str]:
        """Top-level source fields read or explicitly ignored by this stream's mapping."""
        known = set(self.ignore)
        for target in self.targets:
            if target.each:
                known.add(target.each.split(".")[0])
            for rule in target.fields.values():
                known.update(
                    path.split(".")[0] for path in rule.source_paths() if not (target.each and path.startswith("item."))
                )
        return known


class MappingSpec(BaseModel):
    """A whole mapping file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mapping: str
    connector: str
    description: str = ""
    streams: dict[str, StreamMapping]


def load_mapping(path: Path) -> MappingSpec:
    """Load and validate a mapping file; errors name the file and the field.

    A file is parsed once per process while it is unchanged (same size and modification time): checking the
    connections file and building the definitions read the same mappings several times.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"mapping file {path} not found", setting="mapping")
    stat = path.stat()
    return _parsed_mapping(path.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _parsed_mapping(path: Path, modified_ns: int, size: int) -> MappingSpec:
    try:
        document = parse_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"mapping file {path.name} is not valid YAML: {error}", setting="mapping") from None
    try:
        return MappingSpec.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"mapping file {path.name}: {where}: {first['msg']}", setting="mapping") from None
