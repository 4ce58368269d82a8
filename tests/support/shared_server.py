"""One server per test process, started on first use, unless an environment variable names one."""

from __future__ import annotations

import atexit
import os
import typing as t


class _Startable(t.Protocol):
    uri: str

    def stop(self) -> None: ...


class SharedServer:
    """`uri()` is the variable's value when set, else that of a server `start` makes, once."""

    def __init__(self, variable: str, start: t.Callable[[], _Startable]) -> None:
        self._variable = variable
        self._start = start
        self._server: _Startable | None = None

    def uri(self) -> str:
        configured = os.environ.get(self._variable)
        if configured:
            return configured
        if self._server is None:
            self._server = self._start()
            atexit.register(self.stop)
        return self._server.uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
