"""The SSH tunnel against a real OpenSSH server on loopback, forwarding to a local port.

`.ci/run` installs openssh-server; on a machine without `sshd` these tests are skipped,
except under CI, where a missing sshd is a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import threading
import time
import typing as t
from pathlib import Path

import pytest

from mongodb_common.client_factory import MongoConnectionError, create_client, verify_connection
from mongodb_common.ssh_tunnel import SshTunnelError, open_tunnel

pytestmark = pytest.mark.e2e

SSHD = "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[dict[str, t.Any]]:
    if not Path(SSHD).exists() or os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("sshd (openssh-server) must be installed and the tests run as root in CI: see .ci/run")
        pytest.skip("needs /usr/sbin/sshd and root")
    work = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / name)], check=True)
    (work / "authorized_keys").write_text((work / "client_key.pub").read_text())
    os.chmod(work / "authorized_keys", 0o600)
    port = _free_port()
    (work / "sshd_config").write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {work / 'host_key'}",
                f"PidFile {work / 'sshd.pid'}",
                f"AuthorizedKeysFile {work / 'authorized_keys'}",
                "PasswordAuthentication yes",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                "PermitRootLogin prohibit-password",
                "AllowTcpForwarding yes",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    # Its log goes to a file: a pipe nobody reads would stop sshd once full.
    with (work / "sshd.log").open("wb") as log:
        server = subprocess.Popen([SSHD, "-D", "-e", "-f", str(work / "sshd_config")], stderr=log)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        server.kill()
        server.wait(timeout=10)
        pytest.fail(f"sshd did not start listening:\n{(work / 'sshd.log').read_text(errors='replace')}")
    yield {"port": port, "key": (work / "client_key").read_text(), "user": "root"}
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def greeting_server() -> t.Iterator[int]:
    """A local TCP service the tunnel forwards to: it greets every connection."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            with connection:
                connection.sendall(b"hello through the tunnel\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    listener.close()


def _ports_this_process_listens_on() -> set[int]:
    """Local TCP ports in LISTEN state whose socket is one of this process's open files (Linux)."""
    sockets = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # an fd closed meanwhile
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:["):
                sockets.add(target[len("socket:[") : -1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in sockets:  # 0A: LISTEN; field 9: the socket's inode
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _ssh_settings(sshd: dict[str, t.Any], **extra: t.Any) -> dict[str, t.Any]:
    return {
        "ssh_enabled": True,
        "ssh_host": "127.0.0.1",
        "ssh_port": sshd["port"],
        "ssh_username": sshd["user"],
        "ssh_private_key": sshd["key"],
        **extra,
    }


def test_key_authenticated_tunnel_forwards_to_the_remote_port(sshd: dict[str, t.Any], greeting_server: int) -> None:
    tunnel = open_tunnel(_ssh_settings(sshd, host="127.0.0.1", port=greeting_server))
    try:
        with socket.create_connection(("127.0.0.1", tunnel.local_bind_port), timeout=10) as connection:
            assert connection.recv(100) == b"hello through the tunnel\n"
    finally:
        tunnel.stop()


def test_mongodb_client_goes_through_the_tunnel_and_errors_name_the_local_end(sshd: dict[str, t.Any]) -> None:
    closed_port = _free_port()
    config = _ssh_settings(
        sshd,
        mongodb_uri=f"mongodb://reader:Secr3tPw@127.0.0.1:{closed_port}/",
        server_selection_timeout_ms=1500,
    )
    with create_client(config) as client:
        host, port = next(iter(client.topology_description.server_descriptions()))
        assert host == "127.0.0.1"
        assert port != closed_port  # the tunnel's local end, not the remote port
        with pytest.raises(MongoConnectionError, match=r"cannot reach MongoDB") as failure:
            verify_connection(client, config)
    assert "Secr3tPw" not in str(failure.value)


def test_wrong_key_is_a_clear_error_naming_the_bastion_and_leaves_no_socket_open(
    sshd: dict[str, t.Any], tmp_path: Path
) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    settings = _ssh_settings(sshd, host="127.0.0.1", port=1)
    settings["ssh_private_key"] = (tmp_path / "other").read_text()
    listening_before = _ports_this_process_listens_on()
    with pytest.raises(SshTunnelError, match=rf"cannot open the SSH tunnel through 127.0.0.1:{sshd['port']} as 'root'"):
        open_tunnel(settings)
    # sshtunnel binds the tunnel's local port before it logs in.
    assert _ports_this_process_listens_on() == listening_before


def test_an_unreadable_key_is_named(sshd: dict[str, t.Any]) -> None:
    with pytest.raises(SshTunnelError, match="ssh_private_key is not a readable"):
        open_tunnel(_ssh_settings(sshd, host="127.0.0.1", port=1, ssh_private_key="not a key"))


@pytest.fixture
def password_user() -> t.Iterator[tuple[str, str]]:
    """A throw-away local account with a password, for password authentication."""
    name, password = "tunneltest", "Tunn3l-Passw0rd"
    if not shutil.which("useradd"):
        pytest.skip("needs useradd")
    subprocess.run(["userdel", name], capture_output=True, check=False)
    subprocess.run(["useradd", "--no-create-home", "--shell", "/bin/sh", name], check=True)
    subprocess.run(["chpasswd"], input=f"{name}:{password}", text=True, check=True)
    yield name, password
    subprocess.run(["userdel", name], capture_output=True, check=False)


def test_password_authenticated_tunnel(
    sshd: dict[str, t.Any], greeting_server: int, password_user: tuple[str, str]
) -> None:
    name, password = password_user
    settings = {
        "ssh_enabled": True,
        "ssh_host": "127.0.0.1",
        "ssh_port": sshd["port"],
        "ssh_username": name,
        "ssh_password": password,
        "host": "127.0.0.1",
        "port": greeting_server,
    }
    tunnel = open_tunnel(settings)
    try:
        with socket.create_connection(("127.0.0.1", tunnel.local_bind_port), timeout=10) as connection:
            assert connection.recv(100) == b"hello through the tunnel\n"
    finally:
        tunnel.stop()
