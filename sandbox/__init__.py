"""The local sandbox: wire-compatible emulators of the vendors' APIs serving a generated retailer's world.

Installed with the `sandbox` extra (`pip install "canalis[sandbox]"`); `make demo` and `make test` install it.
"""
