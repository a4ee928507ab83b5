"""A private Dovecot IMAP server for tests: installed from the Debian packages when missing, run on a free port.

The server listens on 127.0.0.1 without TLS (plaintext login allowed on loopback), keeps everything under one
temporary folder (configuration, sockets, logs, a passwd-file with one user and that user's Maildir) and runs in
the foreground as a child process, stopped by `stop()`. Under root, Dovecot refuses to run mail or login
processes as root, so mail belongs to `nobody` and the login processes run as Dovecot's own `dovenull` user;
under any other user everything runs as that user, without chroot.
"""

from __future__ import annotations

import getpass
import grp
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

INSTALL_COMMANDS = (
    ["apt-get", "update", "-qq"],
    ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "dovecot-imapd"],
)
"""What CI (and the test set-up, as root) runs to install Dovecot on Debian/Ubuntu."""


class DovecotUnavailable(RuntimeError):
    """Dovecot is not installed and could not be installed here; the message says why."""


def dovecot_binary() -> str | None:
    """The dovecot executable, when installed."""
    return shutil.which("dovecot") or next(
        (path for path in ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot") if os.access(path, os.X_OK)), None
    )


def ensure_dovecot() -> str:
    """The dovecot executable, installing the `dovecot-imapd` package non-interactively when it is missing."""
    found = dovecot_binary()
    if found:
        return found
    if os.geteuid() != 0:
        raise DovecotUnavailable(
            "dovecot is not installed and installing it needs root (apt-get install dovecot-imapd)"
        )
    if not shutil.which("apt-get"):
        raise DovecotUnavailable("dovecot is not installed and there is no apt-get to install it")
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in INSTALL_COMMANDS:
        try:
            done = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=900, check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise DovecotUnavailable(f"{' '.join(command)} failed: {error}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DovecotUnavailable(f"{' '.join(command)} exited with {done.returncode}: {tail[0]}")
    found = dovecot_binary()
    if not found:
        raise DovecotUnavailable("dovecot-imapd was installed but no dovecot executable was found")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class DovecotServer:
    """One private Dovecot instance with one user."""

    def __init__(self, binary: str, *, user: str = "canalis", password: str = "canalis-test-pw") -> None:  # noqa: S107
        self.binary = binary
        self.user = user
        self.password = password
        self.root = Path(tempfile.mkdtemp(prefix="canalis-dovecot-"))
        self.root.chmod(0o755)  # the unprivileged mail and login processes must reach their folders
        self.maildir = self.root / "mail" / "Maildir"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        if os.geteuid() == 0:
            mail_user = _user_or("nobody", 65534)
            self.mail_uid, self.mail_gid = mail_user.pw_uid, mail_user.pw_gid
            self.login_user, self.internal_user = "dovenull", "dovecot"
            self.internal_group = grp.getgrgid(_user_or("dovecot", 0).pw_gid).gr_name
        else:
            self.mail_uid, self.mail_gid = os.getuid(), os.getgid()
            self.login_user = self.internal_user = getpass.getuser()
            self.internal_group = grp.getgrgid(os.getgid()).gr_name

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    def config(self) -> str:
        root = self.root
        chroot = "" if os.geteuid() == 0 else "chroot ="  # only root may chroot the helper processes
        return f"""
base_dir = {root}/run
state_dir = {root}/state
log_path = {self.log_path}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
default_internal_user = {self.internal_user}
default_internal_group = {self.internal_group}
default_login_user = {self.login_user}
first_valid_uid = 1
mail_location = maildir:{self.maildir}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = static
  args = uid={self.mail_uid} gid={self.mail_gid} home={root}/mail
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
  {chroot}
}}
service imap-login {{
  {chroot}
}}
"""

    def load_maildir(self, source: Path) -> int:
        """Copy a Maildir's messages (cur/ and new/) into the user's INBOX; returns how many were copied."""
        copied = 0
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        for sub in ("cur", "new"):
            for path in sorted((source / sub).glob("*")):
                if path.is_file():
                    shutil.copy2(path, self.maildir / sub / path.name)
                    copied += 1
        return copied

    def start(self, timeout: float = 20.0) -> None:
        """Write the configuration and start Dovecot in the foreground; wait for its greeting."""
        (self.root / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}::::::\n", encoding="utf-8")
        (self.root / "dovecot.conf").write_text(self.config(), encoding="utf-8")
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            for path in [self.root / "mail", *sorted((self.root / "mail").rglob("*"))]:
                os.chown(path, self.mail_uid, self.mail_gid)
        self.process = subprocess.Popen(
            [self.binary, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=(self.root / "dovecot.stderr").open("wb"),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise DovecotUnavailable(f"dovecot exited with {self.process.returncode}: {self.diagnostics()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as probe:
                    if probe.recv(100).startswith(b"* OK"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        details = self.diagnostics()
        self.stop()
        raise DovecotUnavailable(f"dovecot did not answer on port {self.port}: {details}")

    def diagnostics(self) -> str:
        """The end of Dovecot's log and error output."""
        parts = []
        for path in (self.root / "dovecot.stderr", self.log_path):
            if path.exists():
                parts.extend(path.read_text(errors="replace").strip().splitlines()[-3:])
        return " | ".join(parts) or "no log"

    def stop(self) -> None:
        """Stop the server (the master stops its children) and remove its folder."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.root, ignore_errors=True)


def _user_or(name: str, uid: int) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        return pwd.getpwuid(uid)
