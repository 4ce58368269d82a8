"""The test server fixture fails fast and says why when `secantusd-py` cannot start.

A fixture that hangs or fails with its own unrelated error hides the real cause of a red
suite; these start the real server in conditions it must refuse.
"""

from __future__ import annotations

import socket
import typing as t

import pytest

from tests.support.server import SecantusServer, ServerStartError, free_port

if t.TYPE_CHECKING:
    from pathlib import Path

# Generous: only catches a start() that waits for a server that will never answer.
HANG_SECONDS = 45


def _start_expecting_failure(server: SecantusServer) -> str:
    import time

    started = time.monotonic()
    try:
        with pytest.raises(ServerStartError) as failure:
            server.start()
    finally:
        server.stop()
    assert time.monotonic() - started < HANG_SECONDS, "start() waited instead of reporting the server's exit"
    return str(failure.value)


def test_a_port_taken_by_someone_else_fails_with_the_servers_own_message(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        message = _start_expecting_failure(SecantusServer(port=port, storage=tmp_path / "data"))
    headline = message.splitlines()[0]
    assert f"on port {port}" in headline
    assert "Address already in use" in headline


def test_a_storage_path_that_cannot_be_created_fails_with_the_servers_own_message(tmp_path: Path) -> None:
    # Under a regular file: refused to root as well, unlike a read-only directory.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    storage = blocker / "data"
    message = _start_expecting_failure(SecantusServer(port=free_port(), storage=storage))
    headline = message.splitlines()[0]
    assert str(storage) in headline
    assert "Not a directory" in headline
