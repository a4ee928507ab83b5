"""Maps the repository's top-level folders into the one `canalis` import namespace (metadata: pyproject.toml).

`canalis/` is the core; `connectors/`, `mappings/`, `assets/` and `sandbox/` install as `canalis.connectors`,
`canalis.mappings`, `canalis.assets` and `canalis.sandbox`. The wheel holds no other top-level name.
"""

from setuptools import find_namespace_packages, setup

PACKAGE_DIRS = {
    "canalis": "canalis",
    "canalis.connectors": "connectors",
    "canalis.mappings": "mappings",
    "canalis.assets": "assets",
    "canalis.sandbox": "sandbox",
}


def packages() -> list[str]:
    """Every package (and data folder) under each mapped folder, named in the canalis namespace."""
    found = []
    for name, folder in PACKAGE_DIRS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_namespace_packages(folder, exclude=["*__pycache__*"])]
    return sorted(found)


setup(packages=packages(), package_dir=PACKAGE_DIRS)
