"""Square locations and the Canalis location names they map to, in both directions."""

from __future__ import annotations

from typing import Any


class LocationDirectory:
    """Square locations with the configured Canalis names (a location's own id is its name by default)."""

    def __init__(self, locations: list[dict[str, Any]], names: dict[str, str]) -> None:
        self.locations = locations
        self.names = names

    def ids(self, only: list[str]) -> list[str]:
        """The ids to read: the configured ones, else every active location."""
        if only:
            return list(only)
        return [loc["id"] for loc in self.locations if loc.get("status", "ACTIVE") == "ACTIVE" and loc.get("id")]

    def name_of(self, location_id: Any) -> Any:
        """The Canalis location name of a Square location id."""
        return self.names.get(location_id, location_id) if isinstance(location_id, str) else location_id

    def id_for(self, name: Any) -> str | None:
        """The Square location id for a Canalis location name, a Square id, or a Square location name."""
        if not isinstance(name, str) or not name.strip():
            return None
        wanted = name.strip()
        for location_id, mapped in self.names.items():
            if mapped == wanted:
                return location_id
        for location in self.locations:
            if location.get("id") == wanted:
                return wanted
        for location in self.locations:
            if str(location.get("name", "")).strip().lower() == wanted.lower():
                return location["id"]
        return None
