"""Declarative mappings: YAML files that map each source's fields to the canonical schema."""

from canalis.mappings.declarative.engine import Mapped, Mapper
from canalis.mappings.declarative.spec import MappingSpec, load_mapping
from canalis.mappings.declarative.transforms import TransformError, register_transform

__all__ = [
    "Mapped",
    "Mapper",
    "MappingSpec",
    "TransformError",
    "load_mapping",
    "register_transform",
]
