"""A loopback TCP proxy that breaks the network between the connectors and the server on demand.

Real network faults, not simulated ones: the connectors talk to the proxy as to any server
and see what a flaky network does to them.

- `cut_all()`: every open connection is reset at once (a router reboot, an idle-timeout
  firewall); later connections work again.
- `refuse()`: connections are reset as soon as they are accepted, until `heal()`.
- `black_hole()`: nothing is forwarded any more in either direction, but connections stay
  open and new ones are accepted (a silently dropped route): only timeouts notice.
- `lose_replies(commands, count)`: the server's next `count` replies to those commands are
  not delivered (the connection is reset instead), after the server did the work: the case
  where a write was applied but its acknowledgement was lost.

Messages are framed by their MongoDB wire-protocol length prefix, so a reply is withheld
whole and the command a request carries (OP_MSG's first key) can be read.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import typing as t

_OP_MSG = 2013
_POLL_SECONDS = 0.1
_FORWARD, _REFUSE, _BLACK_HOLE = "forward", "refuse", "black hole"


def command_name(message: bytes) -> str | None:
    """The command of an OP_MSG request (the first key of its body section), else None."""
    if len(message) < 21 or struct.unpack_from("<i", message, 12)[0] != _OP_MSG:
        return None
    offset = 20  # header (16) + flagBits (4)
    while offset < len(message):
        kind = message[offset]
        offset += 1
        if kind == 0:  # body: one BSON document; its first element names the command
            name_start = offset + 4 + 1  # document length, element type
            name_end = message.index(b"\x00", name_start)
            return message[name_start:name_end].decode("utf-8", "replace")
        if kind == 1:  # document sequence: skip it
            offset += struct.unpack_from("<i", message, offset)[0]
            continue
        return None
    return None


class _Link:
    """One client connection and its connection to the server."""

    def __init__(self, client: socket.socket, server: socket.socket) -> None:
        self.client = client
        self.server = server
        self.last_command: str | None = None
        self.closed = threading.Event()

    def reset(self) -> None:
        """Close both sides with RST, as a dropped route or a rebooted router does."""
        if self.closed.is_set():
            return
        self.closed.set()
        for side in (self.client, self.server):
            with contextlib.suppress(OSError):
                side.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                side.close()


class TcpProxy:
    """Listens on a free loopback port and forwards every connection to `target_port`."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(_POLL_SECONDS)
        self.port = int(self._listener.getsockname()[1])
        self._mode = _FORWARD
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._lost_replies: dict[str, int] = {}
        self.connections_cut = 0
        self.replies_lost = 0
        self._accepting = threading.Thread(target=self._accept_loop, name="tcp-proxy-accept", daemon=True)

    def uri(self, query: str = "") -> str:
        """A URI through the proxy; a direct connection, or the driver would find the server itself."""
        extra = f"&{query}" if query else ""
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true{extra}"

    def start(self) -> TcpProxy:
        self._accepting.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._accepting.join(timeout=5)
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut_all()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------

    def cut_all(self) -> int:
        """Reset every open connection; returns how many were cut."""
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.reset()
        self.connections_cut += len(links)
        return len(links)

    def refuse(self) -> None:
        """Cut every connection now and every new one as soon as it is accepted."""
        self._mode = _REFUSE
        self.cut_all()

    def black_hole(self) -> None:
        """Forward nothing any more; keep every connection open and accept new ones."""
        self._mode = _BLACK_HOLE

    def heal(self) -> None:
        self._mode = _FORWARD
        self._lost_replies.clear()

    def lose_replies(self, commands: t.Iterable[str], count: int = 1) -> None:
        """Withhold the server's next `count` replies to any of `commands`, resetting their connection."""
        with self._lock:
            for name in commands:
                self._lost_replies[name] = count

    # -- forwarding --------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _address = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self._mode == _REFUSE:
                _Link(client, socket.socket()).reset()
                self.connections_cut += 1
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                _Link(client, socket.socket()).reset()
                continue
            link = _Link(client, server)
            with self._lock:
                self._links.append(link)
            for source, destination, replies in ((client, server, False), (server, client, True)):
                threading.Thread(
                    target=self._pump, args=(link, source, destination, replies), name="tcp-proxy-pump", daemon=True
                ).start()

    def _pump(self, link: _Link, source: socket.socket, destination: socket.socket, replies: bool) -> None:
        try:
            source.settimeout(_POLL_SECONDS)
        except OSError:  # cut before this thread started
            return
        pending = b""
        while not (link.closed.is_set() or self._stopped.is_set()):
            try:
                chunk = source.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not chunk:
                break
            if self._mode == _BLACK_HOLE:
                continue  # swallowed: the sender's writes succeed, nothing ever arrives
            pending += chunk
            while len(pending) >= 4:
                length = struct.unpack_from("<i", pending, 0)[0]
                if len(pending) < length:
                    break
                message, pending = pending[:length], pending[length:]
                if replies and self._withhold(link):
                    return
                if not replies:
                    link.last_command = command_name(message) or link.last_command
                try:
                    destination.sendall(message)
                except OSError:
                    break
        self._drop(link)

    def _drop(self, link: _Link) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._links.remove(link)
        link.reset()

    def _withhold(self, link: _Link) -> bool:
        """True (and the link reset) when this reply is one to lose."""
        with self._lock:
            left = self._lost_replies.get(link.last_command or "", 0)
            if left <= 0:
                return False
            self._lost_replies[link.last_command or ""] = left - 1
            self.replies_lost += 1
        self._drop(link)
        return True
