"""Singer message output through orjson, the fastest JSON encoder available to us.

On a real stdout (a pipe, a file), RECORD lines gather in a buffer of our own and go out in
one write per 64 KiB; every other message goes out at once, after every line before it, so a
STATE never reaches the target ahead of the records it covers. The buffer is ours, and every
write loops until all bytes are out, because stdout's own buffering cannot be relied on:
with `PYTHONUNBUFFERED=1` (common in containers and CI) stdout has no buffer, which made every
record a system call, and a signal arriving during a write on a full pipe can cut it short;
with Python's buffer, the SDK's SIGTERM handler, writing its final STATE from inside an
interrupted write, met "reentrant call" and the STATE was lost.

A termination handler must therefore not write while a message is being written:
`run_when_idle` runs it at once between messages, or right after the message in progress
(tap.py hands the SDK's handler to it).

When the reading process (the target) exits or closes its input, writing fails with a
broken pipe; that becomes one error naming the stream being synced, instead of the SDK's
"unhandled error" without a cause.
"""

from __future__ import annotations

import decimal
import io
import select
import sys
import typing as t

import orjson
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.messages import Message, RecordMessage

from mongodb_common.cli_errors import OutputClosedError

_OPTIONS = orjson.OPT_APPEND_NEWLINE
_BUFFER_BYTES = 1 << 16


def _default(value: t.Any) -> t.Any:
    # Decimal128 values arrive as Decimal: written as exact JSON numbers, never rounded.
    # "-0" would read back as the integer 0; "-0E+0" keeps the sign and the exponent.
    if isinstance(value, decimal.Decimal):
        text = str(value)
        return orjson.Fragment("-0E+0" if text == "-0" else text)
    msg = f"cannot serialize a value of type {type(value).__name__} to JSON"
    raise TypeError(msg)


def serialize(payload: t.Any) -> bytes:
    return orjson.dumps(payload, default=_default, option=_OPTIONS)


class DownstreamClosedError(OutputClosedError):
    """The target stopped reading the tap's output."""


class OrjsonSingerWriter(GenericSingerWriter[bytes, Message]):
    """Writes Singer messages as JSON lines with orjson."""

    _stream: str | None = None  # the stream of the latest message that had one
    _busy = False  # a message is being written
    _when_idle: t.Callable[[], None] | None = None
    _output: _Output | None = None

    def serialize_message(self, message: Message) -> bytes:
        return serialize(message.to_dict())

    def write_message(self, message: Message) -> None:
        self._stream = getattr(message, "stream", None) or self._stream
        self._guarded(self._write, message)

    def write_record_lines(self, stream: str, lines: bytes) -> None:
        """RECORD lines already formatted (by a record process: see record_processes.py), buffered as any record."""
        self._stream = stream
        self._guarded(self._add, lines)

    def flush(self) -> None:
        """Write out the records still buffered (the end of a run, failed or not)."""
        if self._output is not None:
            self._guarded(_Output.flush, self._output)

    def run_when_idle(self, action: t.Callable[[], None]) -> None:
        """`action` now, or once the message being written is out (for a signal handler)."""
        if self._busy:
            self._when_idle = action
        else:
            action()

    def _guarded(self, write: t.Callable[[t.Any], None], argument: t.Any) -> None:
        self._busy = True
        try:
            write(argument)
        except BrokenPipeError:
            where = f"while syncing stream {self._stream!r}" if self._stream else "before any stream was synced"
            msg = (
                f"the downstream process (the target) stopped reading the tap's output {where} "
                "(broken pipe); its own error output says why"
            )
            raise DownstreamClosedError(msg) from None
        finally:
            self._busy = False
            action, self._when_idle = self._when_idle, None
            if action is not None:
                action()

    def _write(self, message: Message) -> None:
        self._add(self.format_message(message), at_once=not isinstance(message, RecordMessage))

    def _add(self, line: bytes, *, at_once: bool = False) -> None:
        output = self._output
        if output is None or output.target is not sys.stdout:
            if output is not None:
                output.flush()  # what was written for the stdout being replaced goes there
            output = self._output = _Output.on(sys.stdout)
        output.add(line, at_once=at_once)


class _Output:
    """Lines for one stdout: buffered on a file descriptor, else handed to it one by one."""

    def __init__(self, target: t.Any, raw: io.FileIO | None) -> None:
        self.target = target
        self._raw = raw
        self._lines: list[bytes] = []
        self._size = 0

    @classmethod
    def on(cls, target: t.Any) -> _Output:
        try:
            descriptor = target.fileno()
        except (AttributeError, OSError, ValueError):  # no descriptor: a capture (test harnesses)
            return cls(target, None)
        target.flush()  # whatever was printed before goes first
        # closefd=False: this object never closes the process's stdout.
        return cls(target, io.FileIO(descriptor, "w", closefd=False))

    def add(self, line: bytes, *, at_once: bool) -> None:
        if self._raw is None:
            binary = getattr(self.target, "buffer", None)
            if binary is None:
                self.target.write(line.decode())
            else:
                binary.write(line)
                if at_once:
                    binary.flush()
            return
        self._lines.append(line)
        self._size += len(line)
        if at_once or self._size >= _BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        if self._raw is None or not self._lines:
            return
        lines = self._lines
        data = memoryview(lines[0] if len(lines) == 1 else b"".join(lines))  # a huge line is not copied
        self._lines.clear()
        self._size = 0
        while data:  # a write cut short by a signal returns what it wrote
            written = self._raw.write(data)
            if written is None:  # a non-blocking descriptor that is full: wait until it takes more
                select.select([], [self._raw], [])
                continue
            data = data[written:]
