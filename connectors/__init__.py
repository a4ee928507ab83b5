"""Canalis connectors: the connector SDK, the built-in connectors and the local sandbox."""
