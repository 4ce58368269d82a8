"""A real MongoDB wire-protocol server for tests and the demo: SecantusDB, as its own process.

`SecantusServer` starts `secantusd-py` on a free loopback port with a storage directory of
its own, waits until `ping` answers, and stops it (deleting its data) when done. Fault tests
use the same class to kill the server and restart it on the same storage path, or to start
it with `--auth` or TLS.

`shared_uri()` is what the suite connects to: `MONGODB_URI` when set (mongod, Atlas,
DocumentDB), else one server per test process, started on first use and stopped at exit.
A server never outlives the process that started it (the kernel signals it when its parent
dies), and storage directories left by a killed run are removed by the next one.

Also a command for the demo:

    python -m tests.support.server start DIR   # prints the URI; the server runs on
    python -m tests.support.server stop DIR
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import pymongo
import pymongo.errors

from tests.support.shared_server import SharedServer

SERVER_COMMAND = "secantusd-py"
STORAGE_PREFIX = "secantus-test-"
START_TIMEOUT_SECONDS = 60.0
_PR_SET_PDEATHSIG = 1
MONGODB_URI_SET = bool(os.environ.get("MONGODB_URI"))


class ServerStartError(RuntimeError):
    """The server did not come up; carries what it printed."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_executable() -> str:
    """`secantusd-py` beside the running interpreter (the venv), else on PATH."""
    beside = Path(sys.executable).with_name(SERVER_COMMAND)
    if beside.exists():
        return str(beside)
    found = shutil.which(SERVER_COMMAND)
    if not found:
        msg = f"{SERVER_COMMAND} not found: install the dev dependencies (bash scripts/setup.sh)"
        raise ServerStartError(msg)
    return found


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM when the process that started it dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _remove_abandoned_storage() -> None:
    """Storage directories of test servers whose starting process no longer exists."""
    for directory in Path(tempfile.gettempdir()).glob(f"{STORAGE_PREFIX}*"):
        owner = directory / "owner.pid"
        try:
            pid = int(owner.read_text())
        except (OSError, ValueError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            shutil.rmtree(directory, ignore_errors=True)
        except PermissionError:
            continue


def _log_directory(storage: Path) -> Path:
    """Beside the storage when its parent can hold a file, else a directory of our own.

    A storage path the server cannot create must fail in the server, with its own message,
    not in our log file's open().
    """
    try:
        storage.parent.mkdir(parents=True, exist_ok=True)
        if os.access(storage.parent, os.W_OK):
            return storage.parent
    except OSError:
        pass
    root = Path(tempfile.mkdtemp(prefix=STORAGE_PREFIX))
    (root / "owner.pid").write_text(str(os.getpid()))
    return root


def _last_words(output: str) -> str:
    """The server's own reason for stopping: the last line it printed (its exception, if any)."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    return lines[-1] if lines else "(it printed nothing)"


class SecantusServer:
    """One `secantusd-py` process on loopback; restartable on the same storage."""

    def __init__(
        self,
        *,
        port: int | None = None,
        storage: Path | None = None,
        extra_args: t.Sequence[str] = (),
        tls_ca_file: Path | None = None,
        keep_storage: bool = False,
        detach: bool = False,
    ) -> None:
        self._chosen_port = port
        self.port = port or free_port()
        self._owns_storage = storage is None
        if storage is None:
            _remove_abandoned_storage()
            root = Path(tempfile.mkdtemp(prefix=STORAGE_PREFIX))
            (root / "owner.pid").write_text(str(os.getpid()))
            storage = root / "data"
        self.storage = storage
        self.extra_args = list(extra_args)
        self.tls_ca_file = tls_ca_file
        self.keep_storage = keep_storage
        # Detached (the demo): outlives the command that started it, until stopped by pid.
        self._preexec = os.setsid if detach else _die_with_parent
        self.process: subprocess.Popen[bytes] | None = None
        log_directory = _log_directory(storage)
        self._own_log_directory = log_directory if log_directory != storage.parent else None
        self.log_path = log_directory / f"server-{self.port}.log"

    @property
    def uri(self) -> str:
        base = f"mongodb://127.0.0.1:{self.port}/"
        if self.tls_ca_file is not None:
            return f"{base}?tls=true&tlsCAFile={self.tls_ca_file}"
        return base

    def output(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def start(self) -> SecantusServer:
        """Start and wait for `ping`; a port taken by someone else is retried only if we chose it."""
        for attempt in range(5):
            try:
                self._start_once()
                return self
            except ServerStartError as exc:
                if self._chosen_port is not None or "Address already in use" not in str(exc) or attempt == 4:
                    raise
                self.port = free_port()
        return self

    def _start_once(self) -> None:
        command = [
            server_executable(),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--storage-path",
            str(self.storage),
            "--log-level",
            "WARNING",
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=self._preexec,  # noqa: PLW1509 - only prctl or setsid, before exec
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.output()
                msg = (
                    f"{SERVER_COMMAND} exited with status {self.process.returncode} before answering "
                    f"on port {self.port} (storage {self.storage}): {_last_words(output)}\n{output[-4000:]}"
                )
                raise ServerStartError(msg)
            if self._answers_ping():
                return
            time.sleep(0.1)
        self.kill()
        msg = f"{SERVER_COMMAND} did not answer ping on port {self.port} within {START_TIMEOUT_SECONDS:.0f} s:\n"
        raise ServerStartError(msg + self.output()[-4000:])

    def _answers_ping(self) -> bool:
        options: dict[str, t.Any] = {"serverSelectionTimeoutMS": 300, "connectTimeoutMS": 300}
        client: pymongo.MongoClient = pymongo.MongoClient(self.uri, **options)
        try:
            client.admin.command("ping")
        except pymongo.errors.OperationFailure:
            return True  # it answered: it merely wants credentials (--auth)
        except pymongo.errors.PyMongoError:
            return False
        finally:
            client.close()
        return True

    def kill(self) -> None:
        """SIGKILL, as a crash would: nothing is flushed beyond what the server made durable."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self, *, kill: bool = False) -> None:
        """Stop (or kill) and start again on the same port and storage."""
        if kill:
            self.kill()
        else:
            self.terminate()
        self._chosen_port = self.port
        self.start()

    def stop(self) -> None:
        """Stop the server and delete its storage (unless asked to keep it)."""
        self.terminate()
        if self._owns_storage and not self.keep_storage:
            shutil.rmtree(self.storage.parent, ignore_errors=True)
        if self._own_log_directory is not None:
            shutil.rmtree(self._own_log_directory, ignore_errors=True)

    def __enter__(self) -> SecantusServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()


_shared = SharedServer("MONGODB_URI", lambda: SecantusServer().start())


def shared_uri() -> str:
    """The server every test of this process uses: MONGODB_URI, else one started now."""
    return _shared.uri()


def stop_shared() -> None:
    _shared.stop()


def _main(argv: list[str]) -> int:
    """`start DIR [PORT]` runs a server on DIR/data until `stop DIR`; prints its URI."""
    if len(argv) < 2 or argv[0] not in {"start", "stop"}:
        print(__doc__, file=sys.stderr)
        return 2
    root = Path(argv[1]).resolve()
    pid_file = root / "server.pid"
    if argv[0] == "stop":
        with contextlib.suppress(OSError, ValueError, ProcessLookupError):
            pid = int(pid_file.read_text())
            # Only the server started on this directory: a pid left by a server that already
            # exited may belong to another process by now.
            if str(root / "data") in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                os.kill(pid, signal.SIGTERM)
        pid_file.unlink(missing_ok=True)
        return 0
    root.mkdir(parents=True, exist_ok=True)
    port = int(argv[2]) if len(argv) > 2 else None
    server = SecantusServer(port=port, storage=root / "data", keep_storage=True, detach=True)
    server.start()
    assert server.process is not None
    pid_file.write_text(str(server.process.pid))
    print(server.uri)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
