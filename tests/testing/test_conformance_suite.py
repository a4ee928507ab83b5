"""The conformance suite, run as a plugin runs it (one line in its own test module): a correct plugin passes every
test, and each broken plugin fails the test of the rule it breaks, with a message saying what to change."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

PLUGIN_SOURCE = (Path(__file__).parent / "acme_plugin.py").read_text(encoding="utf-8")

TEST_MODULE = """
from acme_plugin import SAMPLES, SETTINGS, exchanges, {connector}
from canalis.testing import connector_test_class

TestPlugin = connector_test_class({connector}, settings=SETTINGS, responses=exchanges(), writes={{"consents": SAMPLES}})
"""


def run_suite(pytester: pytest.Pytester, connector: str) -> pytest.RunResult:
    pytester.makepyfile(acme_plugin=PLUGIN_SOURCE, test_plugin=TEST_MODULE.format(connector=connector))
    return pytester.runpytest_inprocess("-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-rfs")


def failed_tests(result: pytest.RunResult) -> set[str]:
    return {
        line.split("::")[-1].split(" ")[0] for line in result.outlines if line.startswith("FAILED test_plugin.py::")
    }


def test_a_correct_plugin_passes_the_whole_suite(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "AcmeConnector")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes["passed"] == 17
    # the only skip: no default mapping to check
    assert outcomes.get("skipped", 0) == 1 and "ships no default mapping" in result.stdout.str()


@pytest.mark.parametrize(
    ("connector", "failing", "message"),
    [
        (
            "IgnoresStateConnector",
            {
                "test_incremental_read_returns_only_newer_records[contacts]",
                "test_a_state_in_the_future_reads_nothing[contacts]",
            },
            "use the incoming state",
        ),
        (
            "DuplicateKeysConnector",
            {"test_records_match_the_declaration[contacts]"},
            "declare a primary key unique to each record",
        ),
        (
            "RetriesNothingConnector",
            {
                "test_a_429_is_retried_after_its_retry_after",
                "test_a_5xx_is_retried",
                "test_a_dropped_connection_is_retried",
            },
            "retry it (the SDK's HttpClient does)",
        ),
        (
            "TokenInErrorConnector",
            {"test_check_fails_naming_the_setting", "test_no_secret_in_logs_errors_or_state"},
            "keep secret values out of",
        ),
        (
            "OversizedBatchesConnector",
            {"test_writes_stay_within_the_declared_batch_size[consents]"},
            "over its declared batch size 2",
        ),
        (
            "ResumesFromStartConnector",
            {"test_an_interrupted_read_resumes_without_loss_or_repeats[contacts]"},
            "resumed after its first page read again 2 record(s)",
        ),
    ],
)
def test_a_broken_plugin_fails_the_test_of_the_rule_it_breaks(
    pytester: pytest.Pytester, connector: str, failing: set[str], message: str
) -> None:
    result = run_suite(pytester, connector)
    failed = failed_tests(result)
    output = result.stdout.str()
    for name in failing:
        assert any(test.startswith(name) for test in failed), f"{name} did not fail for {connector}:\n{output}"
    assert message in output
    assert "-> the plugin must" in output
