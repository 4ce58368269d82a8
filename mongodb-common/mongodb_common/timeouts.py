"""The network timeouts a client runs with, known outside the client so messages can name them.

pymongo's own messages quote the timeouts of whichever connection failed, often its
monitoring connection (whose read timeout is the connect timeout), so a "socketTimeoutMS:
20000" can appear although no socket timeout was set. Messages quote these instead.

A timeout option written in `mongodb_uri` wins over the setting (the SDK fills settings with
their defaults, so the setting cannot tell a choice from a default).
"""

from __future__ import annotations

import dataclasses
import typing as t
import urllib.parse

DEFAULT_SERVER_SELECTION_TIMEOUT_MS = 30_000
DEFAULT_CONNECT_TIMEOUT_MS = 10_000
# pymongo checks each server this often (heartbeatFrequencyMS, left at its default): a
# server that stops answering is noticed within one interval plus the connect timeout.
HEARTBEAT_INTERVAL_MS = 10_000

_URI_OPTIONS = {
    "serverselectiontimeoutms": "server_selection_timeout_ms",
    "connecttimeoutms": "connect_timeout_ms",
    "sockettimeoutms": "socket_timeout_ms",
}


@dataclasses.dataclass(frozen=True)
class Timeouts:
    server_selection_ms: int = DEFAULT_SERVER_SELECTION_TIMEOUT_MS
    connect_ms: int = DEFAULT_CONNECT_TIMEOUT_MS
    socket_ms: int | None = None  # None: a reply may take any time

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> Timeouts:
        values = {setting: config.get(setting) for setting in _URI_OPTIONS.values()}
        values.update(uri_timeouts(config.get("mongodb_uri") or ""))
        socket_ms = values["socket_timeout_ms"]
        return cls(
            server_selection_ms=int(values["server_selection_timeout_ms"] or DEFAULT_SERVER_SELECTION_TIMEOUT_MS),
            connect_ms=int(values["connect_timeout_ms"] or DEFAULT_CONNECT_TIMEOUT_MS),
            socket_ms=int(socket_ms) if socket_ms else None,  # 0 means none, as in pymongo
        )

    def client_options(self) -> dict[str, int | None]:
        return {
            "serverSelectionTimeoutMS": self.server_selection_ms,
            "connectTimeoutMS": self.connect_ms,
            "socketTimeoutMS": self.socket_ms,
        }


def uri_timeouts(uri: str) -> dict[str, int]:
    """Timeout options written in a connection string, by setting name."""
    query = urllib.parse.urlsplit(uri).query if "?" in uri else ""
    found: dict[str, int] = {}
    for key, value in urllib.parse.parse_qsl(query):
        setting = _URI_OPTIONS.get(key.lower())
        if setting is not None:
            try:
                found[setting] = int(float(value))
            except ValueError:
                continue  # pymongo itself rejects the URI, with its own message
    return found
