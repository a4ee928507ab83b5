"""The Square emulator package: Square's v2 REST API over the sandbox object store."""

from canalis.sandbox.emulators.square.emulator import ACCESS_TOKEN, READ_ONLY_TOKEN, SquareEmulator

EMULATOR = SquareEmulator

__all__ = ["ACCESS_TOKEN", "EMULATOR", "READ_ONLY_TOKEN", "SquareEmulator"]
