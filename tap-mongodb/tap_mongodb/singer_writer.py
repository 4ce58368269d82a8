"""Singer message output through orjson, the fastest JSON encoder available to us.

Messages go to stdout's binary buffer; RECORD messages are not flushed one by one (the
per-line flush of the SDK's writer costs a system call per record), every other message
is, so STATE always reaches the target as soon as it is written.

When the reading process (the target) exits or closes its input, writing fails with a
broken pipe; that becomes one error naming the stream being synced, instead of the SDK's
"unhandled error" without a cause.
"""

from __future__ import annotations

import decimal
import sys
import typing as t

import orjson
from singer_sdk.singerlib.encoding.base import GenericSingerWriter
from singer_sdk.singerlib.messages import Message, RecordMessage

from mongodb_common.cli_errors import OutputClosedError

_OPTIONS = orjson.OPT_APPEND_NEWLINE


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

    def serialize_message(self, message: Message) -> bytes:
        return serialize(message.to_dict())

    def write_message(self, message: Message) -> None:
        self._stream = getattr(message, "stream", None) or self._stream
        try:
            self._write(message)
        except BrokenPipeError:
            where = f"while syncing stream {self._stream!r}" if self._stream else "before any stream was synced"
            msg = (
                f"the downstream process (the target) stopped reading the tap's output {where} "
                "(broken pipe); its own error output says why"
            )
            raise DownstreamClosedError(msg) from None

    def _write(self, message: Message) -> None:
        line = self.format_message(message)
        output = getattr(sys.stdout, "buffer", None)
        if output is None:  # stdout replaced by a text stream (test harnesses capture this way)
            sys.stdout.write(line.decode())
            return
        output.write(line)
        if not isinstance(message, RecordMessage):
            output.flush()
