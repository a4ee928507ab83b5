"""Makes the package importable when the tests run from a checkout without installing it (pytest puts this folder on
the import path); an installed package is found the same way."""
