"""`canalis ui`: the Dagster webserver and daemon on the Canalis code location, with the sandbox when needed.

Both are started directly (`dagster-webserver`, `dagster-daemon run`), which is what the deprecated `dagster dev`
did; they load a workspace naming the Canalis location, so runs started in the UI and by `canalis run` are runs of
the same code location. Stopping the command (Ctrl-C) stops both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from canalis.cli.launch import DEFINITIONS_MODULE, location_name

WORKSPACE = """load_from:
  - python_module:
      module_name: {module}
      attribute: defs
      location_name: {location}
      working_directory: {cwd}
"""


def workspace_file(folder: Path) -> Path:
    """A workspace file with the Canalis code location, loaded from the installed package."""
    path = folder / "workspace.yaml"
    path.write_text(WORKSPACE.format(module=DEFINITIONS_MODULE, location=location_name(), cwd=os.getcwd()))
    return path


def serve_ui(host: str, port: int) -> int:
    """Run the webserver and the daemon until interrupted; the exit code of the webserver."""
    binaries = Path(sys.executable).parent
    with tempfile.TemporaryDirectory(prefix="canalis-ui-") as folder:
        workspace = str(workspace_file(Path(folder)))
        daemon = subprocess.Popen([str(binaries / "dagster-daemon"), "run", "-w", workspace])
        webserver = subprocess.Popen(
            [str(binaries / "dagster-webserver"), "-w", workspace, "-h", host, "-p", str(port)]
        )
        print(f"Dagster UI on http://{host}:{port} (Ctrl-C stops it)", flush=True)
        try:
            while webserver.poll() is None and daemon.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for process in (webserver, daemon):
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in (webserver, daemon):
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        return webserver.returncode or 0
