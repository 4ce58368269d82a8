"""Another application writing to a database nobody follows, for LOG_BASED tests on a busy deployment."""

from __future__ import annotations

import threading
import time
import typing as t

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

# Between batches of 50 inserts: about a thousand oplog entries a second keeps the deployment
# busy (the log is mostly other databases' entries) without filling the test server's oplog,
# which every later test of the same worker would have to read past.
PAUSE_SECONDS = 0.05


class BusyWriter:
    """Inserts batches into `<name>.events` until stopped."""

    def __init__(self, deployment: Deployment, name: str = "busy") -> None:
        self.collection = deployment.database(name).events
        self.written = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._write, daemon=True)

    def _write(self) -> None:
        while not self._stop.is_set():
            self.collection.insert_many([{"n": self.written + i, "pad": "x" * 100} for i in range(50)])
            self.written += 50
            self._stop.wait(PAUSE_SECONDS)

    def wait_for(self, count: int, timeout_seconds: float = 120) -> None:
        """Until at least `count` documents are written: the log holds that many foreign entries."""
        deadline = time.monotonic() + timeout_seconds
        while self.written < count:
            if time.monotonic() > deadline or not self._thread.is_alive():
                msg = f"the busy writer wrote {self.written} of {count} documents"
                raise AssertionError(msg)
            time.sleep(0.05)

    def __enter__(self) -> BusyWriter:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
