"""The served sandbox world of the publishing tests, for the erasure and export tests."""

from tests.publish.conftest import sandbox_world  # noqa: F401 - registers the fixture here
