"""The HubSpot emulator package; the sandbox loads the class named in `EMULATOR`."""

from canalis.sandbox.emulators.hubspot.emulator import ACCESS_TOKEN, READ_ONLY_TOKEN, HubSpotEmulator

EMULATOR = HubSpotEmulator

__all__ = ["ACCESS_TOKEN", "EMULATOR", "READ_ONLY_TOKEN", "HubSpotEmulator"]
