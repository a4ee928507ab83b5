"""Declarative mappings: YAML files that map each source's fields to the canonical schema."""

from mappings.declarative.engine import Mapped, Mapper
from mappings.declarative.spec import MappingSpec, available_mappings, load_mapping
from mappings.declarative.transforms import TransformError, register_transform

__all__ = [
    "Mapped",
    "Mapper",
    "MappingSpec",
    "TransformError",
    "available_mappings",
    "load_mapping",
    "register_transform",
]
