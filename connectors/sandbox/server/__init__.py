"""The sandbox HTTP server: emulators of the vendors' APIs on one port, with fault injection."""

from connectors.sandbox.server.app import SandboxApp, load_emulators
from connectors.sandbox.server.emulator import Emulator, json_response, read_json
from connectors.sandbox.server.faults import FaultPlan, parse_faults
from connectors.sandbox.server.runner import SandboxServer

__all__ = [
    "Emulator",
    "FaultPlan",
    "SandboxApp",
    "SandboxServer",
    "json_response",
    "load_emulators",
    "parse_faults",
    "read_json",
]
