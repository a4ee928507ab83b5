"""The sandbox HTTP server: emulators of the vendors' APIs on one port, with fault injection."""

from canalis.sandbox.server.app import SandboxApp, load_emulators
from canalis.sandbox.server.emulator import Emulator, json_response, read_json
from canalis.sandbox.server.faults import FaultPlan, parse_faults
from canalis.sandbox.server.runner import SandboxServer

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
