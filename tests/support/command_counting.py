"""Counting the commands a connector sends, through a pymongo CommandListener on its own client.

Speed is not asserted in tests (the machine is shared); how much work is asked of the server
is: a count of commands, or of documents in them, grows the same on any server.
"""

from __future__ import annotations

import collections
import typing as t

from pymongo import monitoring

from mongodb_common import client_factory

if t.TYPE_CHECKING:
    import pytest


class CommandCounter(monitoring.CommandListener):
    """Every command started by the clients created while it is installed, by name."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, t.Any]] = []
        self.documents_returned = 0  # by find and getMore: what reads cost in documents

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.commands.append((event.command_name, event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        cursor = event.reply.get("cursor") if event.command_name in {"find", "getMore", "aggregate"} else None
        if cursor is not None:
            self.documents_returned += len(cursor.get("firstBatch") or cursor.get("nextBatch") or [])

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def by_name(self) -> collections.Counter[str]:
        return collections.Counter(name for name, _command in self.commands)

    def named(self, name: str) -> list[t.Any]:
        return [command for command_name, command in self.commands if command_name == name]

    def clear(self) -> None:
        self.commands.clear()
        self.documents_returned = 0


def install(monkeypatch: pytest.MonkeyPatch) -> CommandCounter:
    """Make every client the connectors create from now on (create_client) report to a new counter."""
    counter = CommandCounter()
    original = client_factory.client_options

    def client_options(*args: t.Any, **kwargs: t.Any) -> tuple[t.Any, dict[str, t.Any]]:
        host, options = original(*args, **kwargs)
        return host, {**options, "event_listeners": [*options.get("event_listeners", []), counter]}

    monkeypatch.setattr(client_factory, "client_options", client_options)
    return counter
