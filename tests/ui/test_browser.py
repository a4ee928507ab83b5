"""What a user sees in the Dagster UI, in a real browser: the lineage, an asset's page, the CLI's run on its job."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from canalis.cli.main import main

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE = os.environ.get("CANALIS_REQUIRE_SERVICES") == "1"
CONNECTIONS = """connections:
  web_shop_export:
    connector: file_drop
    channel: web
    settings: {path: "sample:web_shop"}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def browser():
    if CHROMIUM is None:
        message = "Chromium is not installed (Debian package chromium; .ci/run installs it)"
        pytest.fail(message) if REQUIRE else pytest.skip(message)
    from playwright.sync_api import sync_playwright

    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run"]
    flags += ["--disable-background-networking", "--disable-component-update", "--disable-sync"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=flags)
        try:
            yield browser
        finally:
            browser.close()


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ui(isolated_home: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> Iterator[tuple[str, str]]:
    """A home with one CLI run of full_sync, and `canalis ui` serving it; the UI's address and the run's id."""
    from dagster import DagsterInstance

    monkeypatch.setenv("DAGSTER_HOME", str(isolated_home))
    (isolated_home / "canalis.yaml").write_text(CONNECTIONS, encoding="utf-8")
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", isolated_home / "dagster.yaml")
    assert main(["run", "full_sync"]) == 0, capsys.readouterr()
    with DagsterInstance.get() as instance:
        run_id = instance.get_runs(limit=1)[0].run_id
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "canalis.cli.main", "ui", "--port", str(port)],
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                time.sleep(1)
        else:
            pytest.fail("the Dagster UI did not answer within two minutes")
        yield base, run_id
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_lineage_asset_page_and_the_cli_run_on_its_job(ui: tuple[str, str], browser) -> None:
    base, run_id = ui
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(60_000)

    page.goto(f"{base}/asset-groups")  # the lineage, one group per step and per connection
    for group in ("raw_web_shop_export", "canonical", "unified", "consistency", "publish", "kpis"):
        page.get_by_text(group, exact=True).first.wait_for()

    page.goto(f"{base}/assets/unified_customers")
    page.get_by_text("One golden record per person", exact=False).first.wait_for()
    page.get_by_text("records_resolved", exact=True).first.wait_for()  # the last materialization's metadata
    page.get_by_text("eager", exact=True).first.wait_for()  # its automation condition

    page.goto(f"{base}/assets/kpis/channel_mix")  # a KPI's chart opens from its metadata as a picture
    page.get_by_text("chart_preview", exact=True).first.wait_for()
    page.get_by_text("[Show Markdown]", exact=True).first.click()
    chart = page.locator("img[src^='data:image/png']").first
    chart.wait_for()
    assert chart.evaluate("image => image.complete && image.naturalWidth") > 100

    page.goto(f"{base}/locations/canalis/jobs/full_sync/runs")
    page.get_by_text(run_id[:8], exact=True).first.wait_for()  # the run `canalis run` made is the job's own
    page.close()

    # and it re-executes from the UI: the webserver queues it, the daemon launches it from the code location
    mutation = (
        "mutation($id: String!) { launchPipelineReexecution(reexecutionParams: {parentRunId: $id, strategy: ALL_STEPS})"
        " { __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"
    )
    launched = requests.post(f"{base}/graphql", json={"query": mutation, "variables": {"id": run_id}}, timeout=30)
    answer = launched.json()["data"]["launchPipelineReexecution"]
    assert answer["__typename"] == "LaunchRunSuccess", answer
    child = answer["run"]["runId"]
    status = "QUEUED"
    deadline = time.monotonic() + 180
    while status not in ("SUCCESS", "FAILURE", "CANCELED") and time.monotonic() < deadline:
        time.sleep(2)
        query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"
        status = requests.post(f"{base}/graphql", json={"query": query, "variables": {"id": child}}, timeout=30)
        status = status.json()["data"]["runOrError"]["status"]
    assert status == "SUCCESS"
