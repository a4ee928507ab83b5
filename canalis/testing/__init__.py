"""The test kit of connector plugins: the conformance suite in one line, recorded responses, and the sandbox.

    from canalis.testing import connector_test_class

    TestAcme = connector_test_class(AcmeConnector, settings={...}, responses=Path(__file__).parent / "responses")

`SandboxWorld` serves a generated world through the vendors' emulators, for a plugin's own edge-case tests.
The kit needs the test tools (`pip install "canalis[test]"`: pytest, responses and the sandbox); importing this
module alone loads none of them, so nothing in Canalis's runtime depends on them. Names not listed in `__all__`
may change.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ConnectorConformance",
    "Exchange",
    "RecordedServer",
    "Sandbox",
    "SandboxWorld",
    "connector_test_class",
    "load_exchanges",
]

_HOMES = {
    "ConnectorConformance": "canalis.testing.suite",
    "connector_test_class": "canalis.testing.suite",
    "Exchange": "canalis.testing.recorded",
    "RecordedServer": "canalis.testing.recorded",
    "load_exchanges": "canalis.testing.recorded",
    "Sandbox": "canalis.testing.sandbox",
    "SandboxWorld": "canalis.testing.sandbox",
}


def __getattr__(name: str) -> Any:
    """Import the suite when first used, saying how to install its tools when they are missing."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'canalis.testing' has no attribute {name!r}")
    import importlib

    try:
        module = importlib.import_module(home)
    except ModuleNotFoundError as error:
        if error.name in ("pytest", "responses", "_pytest", "faker", "werkzeug", "graphql"):
            raise ImportError(
                f"canalis.testing needs {error.name}: install the test tools with pip install 'canalis[test]'"
            ) from error
        raise
    return getattr(module, name)
