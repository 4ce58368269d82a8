"""A real PostgreSQL for the tests that load into it: Debian's server, run by the test process.

`PostgresServer` runs `initdb` on a temporary data directory and then `postgres` itself on a
free loopback port, waits until it accepts connections, and stops it (deleting the data) when
done. PostgreSQL refuses to run as root, so when the tests run as root (CI does) both run as
an unprivileged system user (`postgres` when it exists, else `nobody`) that owns the data
directory. The server is our child process, not a daemon started by `pg_ctl`, so the kernel
signals it when the test process dies, however it dies; data left by a killed run is removed
by the next one.

`shared_uri()` is what the suite connects to: `POSTGRES_URI` when set (any PostgreSQL the
tests may create and drop schemas in), else one server per test process, started on first
use and stopped at exit. Without PostgreSQL binaries it fails, saying how to get them: CI
installs them (scripts/test.sh), so tests needing PostgreSQL never skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import typing as t
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from tests.support.shared_server import SharedServer

POSTGRES_URI_VARIABLE = "POSTGRES_URI"
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
DATA_PREFIX = "postgres-test-"
SUPERUSER = "tester"
START_TIMEOUT_SECONDS = 60.0
UNPRIVILEGED_USERS = ("postgres", "nobody")
_PR_SET_PDEATHSIG = 1


class PostgresStartError(RuntimeError):
    """PostgreSQL could not be found or did not come up; says why and what it printed."""


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))


def server_bin_dir() -> Path:
    """Debian's newest `/usr/lib/postgresql/<version>/bin`, else the directory of `initdb` on PATH."""
    candidates = [Path(found) for found in sorted(Path("/").glob(DEBIAN_BIN_GLOB.lstrip("/")))]
    candidates = [d for d in candidates if (d / "initdb").exists() and (d / "postgres").exists()]
    if candidates:
        return max(candidates, key=_version_key)
    on_path = shutil.which("initdb")
    if on_path and Path(on_path).with_name("postgres").exists():
        return Path(on_path).parent
    msg = (
        f"PostgreSQL server binaries (initdb, postgres) not found in {DEBIAN_BIN_GLOB} or on PATH: "
        f"install Debian's postgresql package (bash scripts/test.sh does so as root), or set "
        f"{POSTGRES_URI_VARIABLE} to a PostgreSQL the tests may use"
    )
    raise PostgresStartError(msg)


def _unprivileged_account() -> pwd.struct_passwd | None:
    """Whom to run the server as: nobody special unless we are root, which PostgreSQL refuses."""
    if os.geteuid() != 0:
        return None
    for name in UNPRIVILEGED_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    msg = f"running as root and none of the users {', '.join(UNPRIVILEGED_USERS)} exists to run PostgreSQL as"
    raise PostgresStartError(msg)


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, after setuid, before exec
    """Linux: fast shutdown (SIGINT) of the server when the process that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGINT)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _remove_abandoned_data() -> None:
    """Data directories of test servers whose starting process no longer exists."""
    for directory in Path(tempfile.gettempdir()).glob(f"{DATA_PREFIX}*"):
        try:
            pid = int((directory / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(directory, ignore_errors=True)
        except PermissionError:
            continue


class PostgresServer:
    """One `postgres` process on loopback with a throwaway cluster; a superuser with a password."""

    def __init__(self) -> None:
        self.bin_dir = server_bin_dir()
        self.account = _unprivileged_account()
        self.password = secrets.token_hex(12)
        self.port = _free_port()
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"postgresql://{SUPERUSER}:{self.password}@127.0.0.1:{self.port}/postgres"

    @property
    def log_path(self) -> Path:
        assert self.root is not None
        return self.root / "server.log"

    def output(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def _as_account(self) -> dict[str, t.Any]:
        """Popen arguments that drop root for the server's account (setuid happens before exec)."""
        if self.account is None:
            return {}
        return {"user": self.account.pw_uid, "group": self.account.pw_gid, "extra_groups": []}

    def start(self) -> PostgresServer:
        _remove_abandoned_data()
        self.root = Path(tempfile.mkdtemp(prefix=DATA_PREFIX))
        (self.root / "owner.pid").write_text(str(os.getpid()))
        password_file = self.root / "password"
        password_file.write_text(self.password + "\n")
        password_file.chmod(0o600)
        if self.account is not None:
            for path in (self.root, password_file):
                os.chown(path, self.account.pw_uid, self.account.pw_gid)
        self._initdb(password_file)
        password_file.unlink()
        for attempt in range(5):
            try:
                self._start_once()
                return self
            except PostgresStartError as exc:
                if "Address already in use" not in str(exc) or attempt == 4:
                    self.stop()
                    raise
                self.port = _free_port()
        return self

    def _initdb(self, password_file: Path) -> None:
        assert self.root is not None
        command = [
            str(self.bin_dir / "initdb"),
            "--pgdata",
            str(self.root / "data"),
            "--username",
            SUPERUSER,
            "--pwfile",
            str(password_file),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        ]
        result = subprocess.run(
            command, cwd=self.root, capture_output=True, text=True, check=False, timeout=120, **self._as_account()
        )
        if result.returncode != 0:
            shutil.rmtree(self.root, ignore_errors=True)
            msg = f"initdb failed with status {result.returncode}:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
            raise PostgresStartError(msg)

    def _start_once(self) -> None:
        assert self.root is not None
        command = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.root / "data"),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.root}",
            # A throwaway cluster: durability on power loss is not what the tests examine.
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec
                **self._as_account(),
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = (
                    f"postgres exited with status {self.process.returncode} before accepting connections "
                    f"on port {self.port}:\n{self.output()[-4000:]}"
                )
                raise PostgresStartError(msg)
            if self._accepts_connections():
                return
            time.sleep(0.1)
        self.terminate()
        msg = f"postgres did not accept connections on port {self.port} within {START_TIMEOUT_SECONDS:.0f} s:\n"
        raise PostgresStartError(msg + self.output()[-4000:])

    def _accepts_connections(self) -> bool:
        try:
            with psycopg.connect(self.uri, connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def terminate(self) -> None:
        """Fast shutdown: clients are disconnected, the server exits cleanly."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def stop(self) -> None:
        """Stop the server and delete its cluster."""
        self.terminate()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None


_shared = SharedServer(POSTGRES_URI_VARIABLE, lambda: PostgresServer().start())


def shared_uri() -> str:
    """The PostgreSQL every test of this process uses: POSTGRES_URI, else one started now."""
    return _shared.uri()


def stop_shared() -> None:
    _shared.stop()


def connection_settings(uri: str) -> dict[str, str]:
    """host, port, user, password and dbname of a URI, libpq's defaults filled in."""
    parts = psycopg.conninfo.conninfo_to_dict(uri)
    return {
        "host": str(parts.get("host") or "localhost"),
        "port": str(parts.get("port") or "5432"),
        "user": str(parts.get("user") or os.environ.get("USER") or "postgres"),
        "password": str(parts.get("password") or ""),
        "dbname": str(parts.get("dbname") or parts.get("user") or "postgres"),
    }


class PostgresScratch:
    """Schemas of one test, named with a unique prefix and dropped afterwards (POSTGRES_URI is shared)."""

    def __init__(self, uri: str, prefix: str | None = None) -> None:
        self.uri = uri
        self.prefix = prefix or f"t{uuid.uuid4().hex[:8]}_"
        self.connection = psycopg.connect(uri, autocommit=True)

    def schema_name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def query(self, statement: str | sql.Composed, params: t.Sequence[t.Any] = ()) -> list[tuple[t.Any, ...]]:
        with self.connection.cursor() as cursor:
            cursor.execute(statement, params)  # type: ignore[arg-type]
            return cursor.fetchall()

    def cleanup(self) -> None:
        rows = self.query("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (self.prefix,))
        for (schema,) in rows:
            self.connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
        self.connection.close()
