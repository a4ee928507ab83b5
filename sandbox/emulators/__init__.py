"""Wire-compatible emulators of the vendors' APIs, one module per vendor (each names its class in `EMULATOR`)."""
