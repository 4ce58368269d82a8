"""A connector command running beside the test, its output lines collected as they come.

Fault tests break something at a chosen point of a run (after so many records, once the
process logs a retry) and then wait for the process to react, without sleeping: they wait
for a line. Reading stdout in the test's own thread keeps the pipe's flow control, so the
tap is never far ahead of what the test has seen. Used as a context manager, it leaves
no process running and no pipe open, whatever the test did (`wait` closes the pipes too).
"""

from __future__ import annotations

import subprocess
import threading
import typing as t

if t.TYPE_CHECKING:
    from types import TracebackType

WAIT_SECONDS = 120  # only catches a hang


class RunningCommand:
    def __init__(self, args: t.Sequence[str], *, stdin: bool = False) -> None:
        self.process = subprocess.Popen(
            list(args),
            stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._changed = threading.Condition()
        self._stdout_done = threading.Event()
        self._threads = [threading.Thread(target=self._collect, args=(self.process.stderr, self.stderr), daemon=True)]
        self._threads[0].start()

    def _collect(self, stream: t.IO[str] | None, lines: list[str], done: threading.Event | None = None) -> None:
        assert stream is not None
        for line in stream:
            with self._changed:
                lines.append(line)
                self._changed.notify_all()
        if done is not None:
            done.set()
        with self._changed:
            self._changed.notify_all()

    def read_stdout_until(self, predicate: t.Callable[[list[str]], bool]) -> None:
        """Read stdout in this thread (the process blocks when the pipe is full) until `predicate`."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.stdout.append(line)
            if predicate(self.stdout):
                return
        msg = "the process ended before its output showed what was awaited"
        raise AssertionError(msg)

    def drain_stdout(self) -> None:
        """From now on, collect stdout in the background (the process never blocks on it)."""
        thread = threading.Thread(
            target=self._collect, args=(self.process.stdout, self.stdout, self._stdout_done), daemon=True
        )
        thread.start()
        self._threads.append(thread)

    def wait_for(self, predicate: t.Callable[[RunningCommand], bool], what: str) -> None:
        """Until `predicate(self)` holds, or the process exited without it."""
        with self._changed:
            finished = self._changed.wait_for(
                lambda: predicate(self) or self.process.poll() is not None, timeout=WAIT_SECONDS
            )
        assert finished, f"no {what} within {WAIT_SECONDS} s"
        assert predicate(self), f"the process exited ({self.process.returncode}) without {what}:\n{self.errors()}"

    def write(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def close_stdin(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()

    def wait(self) -> int:
        """The exit status, once the process ended and all it wrote was collected; pipes closed."""
        if self.process.stdout is not None and not self._stdout_done.is_set() and len(self._threads) == 1:
            self.drain_stdout()
        status = self.process.wait(timeout=WAIT_SECONDS)
        for thread in self._threads:
            thread.join(timeout=WAIT_SECONDS)
        self._close_pipes()
        return status

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> RunningCommand:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """A test that failed midway leaves no process behind: kill it, then wait as usual."""
        if self.process.poll() is None:
            self.process.kill()
        self.wait()

    def errors(self) -> str:
        return "".join(self.stderr)

    def last_error_line(self) -> str:
        lines = [line.strip() for line in self.stderr if line.strip()]
        return lines[-1] if lines else ""

    def logged(self, text: str) -> bool:
        return any(text in line for line in self.stderr)
