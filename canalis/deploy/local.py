"""The production profile on one machine: `canalis deploy local up|down|status`.

`up` starts, each in the background with a pid file and a log under `.canalis-prod/`: the sandbox the demo
connections point at, the code server of the Canalis location, the webserver, the daemon and Celery workers, all
sharing one Dagster instance on PostgreSQL and the canonical store on PostgreSQL; then it sets the pools' limits.
`down` stops exactly the processes `up` recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, TextIO

import sqlalchemy as sa
import yaml
from pydantic import BaseModel, Field
from sqlalchemy.engine import make_url

from canalis.deploy import processes
from canalis.deploy.executor import (
    BACKEND_ENV,
    BROKER_ENV,
    DEFAULT_BACKEND,
    DEFAULT_BROKER,
    DEFAULT_QUEUE,
    QUEUE_ENV,
    celery_config,
)
from canalis.sdk.errors import CanalisError

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy"
DEMO_CONNECTIONS = Path(__file__).resolve().parents[2] / "dagster_home" / "canalis.yaml"
SERVER = "postgresql://postgres@127.0.0.1:5432"


class LocalProfile(BaseModel):
    """Where and how the local production profile runs; every field has a working default on this machine."""

    folder: Path = Field(default=Path(".canalis-prod"), description="pid files, logs and the Dagster home")
    connections: Path = Field(default=DEMO_CONNECTIONS, description="the connections file")
    instance_database: str = Field(default=f"{SERVER}/canalis_dagster", description="Dagster's storage")
    store_database: str = Field(default=f"{SERVER}/canalis_store", description="the canonical store")
    broker: str = Field(default=DEFAULT_BROKER, description="Celery broker")
    backend: str = Field(default=DEFAULT_BACKEND, description="Celery result backend")
    queue: str = Field(default=DEFAULT_QUEUE, description="Celery queue of the steps")
    workers: int = Field(default=2, ge=1, le=64, description="Celery workers")
    webserver_port: int = Field(default=3070, ge=1, le=65535)
    code_server_port: int = Field(default=4266, ge=1, le=65535)
    sandbox_port: int = Field(default=8790, ge=0, le=65535)
    sandbox_imap_port: int = Field(default=8190, ge=0, le=65535)
    sandbox_customers: int = Field(default=300, ge=1)
    sandbox: bool = Field(default=True, description="serve the sandbox (the demo connections need it)")
    instance_settings: dict[str, Any] = Field(
        default_factory=dict,
        description="sections merged into deploy/dagster.yaml for this profile (e.g. shorter run monitoring waits)",
    )

    @classmethod
    def load(cls, folder: Path) -> LocalProfile:
        """The profile `up` started in a folder (its saved settings), else the defaults there."""
        saved = folder.resolve() / "profile.json"
        if saved.is_file():
            return cls.model_validate_json(saved.read_text(encoding="utf-8"))
        return cls(folder=folder)

    @property
    def home(self) -> Path:
        return self.folder.resolve() / "home"

    @property
    def pids(self) -> Path:
        return self.folder.resolve() / "pids"

    @property
    def logs(self) -> Path:
        return self.folder.resolve() / "logs"

    @property
    def workspace(self) -> Path:
        return self.home / "workspace.yaml"


def ensure_database(url: str) -> None:
    """Create a PostgreSQL database when it does not exist yet (the server must be reachable)."""
    parsed = make_url(url)
    name = parsed.database
    if not name:
        raise CanalisError(f"the database URL {parsed.render_as_string(hide_password=True)} names no database")
    admin = parsed.set(drivername="postgresql+psycopg", database="postgres")
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            exists = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if exists is None:
                connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as error:
        where = parsed.set(password=None).render_as_string(hide_password=True)
        raise CanalisError(f"PostgreSQL at {where}: cannot connect ({type(error.orig).__name__})") from None
    finally:
        engine.dispose()


def store_url(url: str) -> str:
    """The store's SQLAlchemy URL on the psycopg 3 driver."""
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def dagster_url(url: str) -> str:
    """Dagster's storage URL, on psycopg2 (the driver dagster-postgres is built and tested with)."""
    return make_url(url).set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


def environment(profile: LocalProfile) -> dict[str, str]:
    """The environment every process of the profile gets (the sandbox's is added once it is serving)."""
    return {
        **os.environ,
        "DAGSTER_HOME": str(profile.home),
        "DAGSTER_PG_URL": dagster_url(profile.instance_database),
        "DAGSTER_COMPUTE_LOG_DIR": str(profile.home / "compute_logs"),
        "CANALIS_HOME": str(profile.home),
        "CANALIS_CONFIG": str(profile.connections.resolve()),
        "CANALIS_DATABASE_URL": store_url(profile.store_database),
        "CANALIS_EXECUTOR": "celery",
        BROKER_ENV: profile.broker,
        BACKEND_ENV: profile.backend,
        QUEUE_ENV: profile.queue,
        "PYTHONUNBUFFERED": "1",
        # dagster-celery starts `celery` by name: the one of this environment
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }


def prepare_home(profile: LocalProfile) -> None:
    """The Dagster home: the profile's dagster.yaml, a workspace aimed at the code server, a Celery worker config."""
    profile.home.mkdir(parents=True, exist_ok=True)
    shutil.copy(DEPLOY_DIR / "dagster.yaml", profile.home / "dagster.yaml")
    if profile.instance_settings:
        settings = yaml.safe_load((DEPLOY_DIR / "dagster.yaml").read_text(encoding="utf-8"))
        merged = merge(settings, profile.instance_settings)
        (profile.home / "dagster.yaml").write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    workspace = (DEPLOY_DIR / "workspace.yaml").read_text(encoding="utf-8")
    profile.workspace.write_text(workspace.replace("port: 4266", f"port: {profile.code_server_port}"), "utf-8")
    worker_config = {"execution": {"config": celery_config(profile.queue)}}
    (profile.home / "celery.yaml").write_text(json.dumps(worker_config, indent=2), encoding="utf-8")


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in, section by section."""
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def commands(profile: LocalProfile) -> Iterator[tuple[str, list[str]]]:
    """The Dagster processes of the profile, by name (the sandbox is started before them)."""
    bin_dir = Path(sys.executable).parent
    yield (
        "code-server",
        [
            str(bin_dir / "dagster"),
            "code-server",
            "start",
            "-h",
            "127.0.0.1",
            "-p",
            str(profile.code_server_port),
            "-m",
            "canalis.assets.definitions",
            "-a",
            "defs",
            "--location-name",
            "canalis",
        ],
    )
    yield (
        "webserver",
        [
            str(bin_dir / "dagster-webserver"),
            "-h",
            "127.0.0.1",
            "-p",
            str(profile.webserver_port),
            "-w",
            str(profile.workspace),
        ],
    )
    yield "daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", str(profile.workspace)]
    for number in range(1, profile.workers + 1):
        yield f"worker-{number}", worker_command(profile, number)


def worker_command(profile: LocalProfile, number: int) -> list[str]:
    """A Celery worker taking the profile's step tasks, one at a time."""
    return [
        str(Path(sys.executable).parent / "dagster-celery"),
        "worker",
        "start",
        "-A",
        "dagster_celery.app",
        "-y",
        str(profile.home / "celery.yaml"),
        "-q",
        profile.queue,
        "-n",
        f"{profile.queue}-worker-{number}",  # unique on the broker: one name per profile and worker
        "--",
        "--concurrency",
        "1",
        "--without-gossip",
        "--without-mingle",
    ]


def wait_for_port(port: int, what: str, timeout: float, started: processes.Started | None = None) -> None:
    """Wait until something accepts connections on a loopback port, or fail naming the process and its log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
            probe.settimeout(1)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        if started is not None and not processes.is_running(started):
            raise CanalisError(f"{what} exited while starting; see {started.log}")
        time.sleep(0.5)
    raise CanalisError(f"{what} did not listen on port {port} within {timeout:.0f} s; see its log")


def wait_for_log(started: processes.Started, text: str, timeout: float) -> None:
    """Wait until a process's log says `text`, or fail naming the process and its log."""
    deadline = time.monotonic() + timeout
    log = Path(started.log)
    while time.monotonic() < deadline:
        if text in log.read_text(encoding="utf-8", errors="replace"):
            return
        if not processes.is_running(started):
            raise CanalisError(f"{started.name} exited while starting; see {started.log}")
        time.sleep(0.5)
    raise CanalisError(f"{started.name} was not ready within {timeout:.0f} s; see {started.log}")


def up(profile: LocalProfile, out: TextIO = sys.stdout) -> dict[str, str]:
    """Start the profile; the environment its processes run with. A failure stops what was started."""
    profile = profile.model_copy(
        update={"folder": profile.folder.resolve(), "connections": profile.connections.resolve()}
    )
    if any(processes.is_running(row) for row in processes.recorded(profile.pids)):
        raise CanalisError(
            f"the profile in {profile.folder} is already running; stop it with `canalis deploy local down`"
        )
    try:
        return _start(profile, out)
    except BaseException:
        down(profile, out)
        raise


def autovacuum_on(url: str) -> bool:
    """Whether the PostgreSQL server runs autovacuum (which also keeps the planner's statistics up to date)."""
    engine = sa.create_engine(store_url(url))
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text("SHOW autovacuum")).scalar_one() == "on"
    finally:
        engine.dispose()


def _start(profile: LocalProfile, out: TextIO) -> dict[str, str]:
    ensure_database(profile.instance_database)
    ensure_database(profile.store_database)
    if not autovacuum_on(profile.store_database):
        # without it no table is ever analysed: past some 100,000 raw records the planner's guesses turn the
        # landing's lookups by id into scans of the whole stream (measured: 0.66 s instead of 0.016 s per lookup)
        print(
            "warning: autovacuum is off on this PostgreSQL server; the store's tables are never analysed, and "
            "large syncs slow down (turn it on, or run ANALYZE after large loads)",
            file=out,
        )
    prepare_home(profile)
    (profile.folder.resolve() / "profile.json").write_text(profile.model_dump_json(indent=2), encoding="utf-8")
    env = environment(profile)
    cwd = Path.cwd()
    if profile.sandbox:
        env.update(start_sandbox(profile, env, out))
    migrate(env)
    # the code server first (the webserver and the daemon load the definitions from it), then the others at once
    launched: dict[str, processes.Started] = {}
    for name, command in commands(profile):
        started = processes.start(name, command, pid_dir=profile.pids, log_dir=profile.logs, environment=env, cwd=cwd)
        print(f"started {name} (pid {started.pid}, log {started.log})", file=out)
        launched[name] = started
        if name == "code-server":
            wait_for_port(profile.code_server_port, "the code server", 180, started)
    wait_for_port(profile.webserver_port, "the webserver", 180, launched["webserver"])
    for name, started in launched.items():
        if name.startswith("worker-"):
            wait_for_log(started, "ready.", 180)
    apply_pools(env, out)
    (profile.folder.resolve() / "environment.json").write_text(
        json.dumps({k: v for k, v in env.items() if k.startswith(("CANALIS_", "DAGSTER_"))}, indent=2), "utf-8"
    )
    os.chmod(profile.folder.resolve() / "environment.json", 0o600)
    print(f"Dagster UI on http://127.0.0.1:{profile.webserver_port}", file=out)
    return env


def start_sandbox(profile: LocalProfile, env: dict[str, str], out: TextIO) -> dict[str, str]:
    """Serve the sandbox and read back the environment connections need to reach it."""
    env_file = profile.folder.resolve() / "sandbox-environment.json"
    env_file.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "canalis.deploy.sandbox_service",
        "--data-dir",
        str(profile.home / "sandbox"),
        "--environment-file",
        str(env_file),
        "--port",
        str(profile.sandbox_port),
        "--imap-port",
        str(profile.sandbox_imap_port),
        "--customers",
        str(profile.sandbox_customers),
    ]
    started = processes.start(
        "sandbox", command, pid_dir=profile.pids, log_dir=profile.logs, environment=env, cwd=Path.cwd()
    )
    print(f"started sandbox (pid {started.pid}, log {started.log})", file=out)
    deadline = time.monotonic() + 600
    while not env_file.exists():
        if not processes.is_running(started):
            raise CanalisError(f"the sandbox exited while starting; see {started.log}")
        if time.monotonic() > deadline:
            raise CanalisError(f"the sandbox did not start within 600 s; see {started.log}")
        time.sleep(0.5)
    return json.loads(env_file.read_text(encoding="utf-8"))


def migrate(env: dict[str, str]) -> None:
    """Bring Dagster's storage and the canonical store to the newest schema before anything uses them."""
    import subprocess

    bin_dir = Path(sys.executable).parent
    for command in ([str(bin_dir / "dagster"), "instance", "migrate"], [str(bin_dir / "canalis"), "db", "upgrade"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-5:])
            name = " ".join([Path(command[0]).name, *command[1:]])
            raise CanalisError(f"`{name}` failed:\n{tail}")


def apply_pools(env: dict[str, str], out: TextIO) -> None:
    """Set each pool's limit in the instance (the same as `canalis deploy pools --apply`)."""
    import subprocess

    command = [str(Path(sys.executable).parent / "canalis"), "deploy", "pools", "--apply"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CanalisError(f"setting the pools' limits failed:\n{result.stderr.strip()[-800:]}")
    print(result.stdout.rstrip(), file=out)


def down(profile: LocalProfile, out: TextIO = sys.stdout) -> int:
    """Stop what `up` recorded, newest first; how many were still running."""
    stopped = 0
    for row in reversed(processes.recorded(profile.pids)):
        if processes.stop(row, profile.pids):
            stopped += 1
            print(f"stopped {row.name} (pid {row.pid})", file=out)
        else:
            print(f"{row.name} (pid {row.pid}) was not running", file=out)
    return stopped


def status(profile: LocalProfile) -> list[tuple[str, int, bool]]:
    """Each recorded process: name, pid, whether it runs."""
    return [(row.name, row.pid, processes.is_running(row)) for row in processes.recorded(profile.pids)]
