"""The translator: how connections, streams and entities become asset keys, groups, kinds and descriptions.

Subclass `CanalisTranslator` and pass it to `build_definitions` to rename or regroup assets.
"""

from __future__ import annotations

from dagster import AssetKey, AssetSpec

from canalis.sdk.base import Connector
from canalis.sdk.streams import Stream


class CanalisTranslator:
    """Default naming: raw/<connection>/<stream>, canonical/<table>, unified assets by name."""

    def raw_key(self, connection: str, stream: str) -> AssetKey:
        return AssetKey(["raw", connection, stream])

    def raw_group(self, connection: str) -> str:
        """One group per connection, so the UI shows each system's streams together."""
        return f"raw_{connection}"

    def raw_kinds(self, connector: type[Connector]) -> set[str]:
        return {connector.name.replace("_", "")[:20], "python"}

    def raw_description(self, connection: str, connector: type[Connector], stream: type[Stream]) -> str:
        mode = f"incremental on `{stream.cursor_field}`" if stream.cursor_field else "incremental by content"
        return (
            f"Records of `{stream.name}` read from connection `{connection}` ({connector.title or connector.name}), "
            f"{mode}. {stream.description}".strip()
        )

    def canonical_key(self, table: str) -> AssetKey:
        return AssetKey(["canonical", table])

    def canonical_group(self) -> str:
        return "canonical"

    def unified_group(self) -> str:
        return "unified"

    def get_asset_spec(self, spec: AssetSpec) -> AssetSpec:
        """The last word on every asset's spec: override to set groups, owners, tags, automation or descriptions
        (keys are set by the `*_key` methods)."""
        return spec
