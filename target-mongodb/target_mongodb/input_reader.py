"""Reading Singer messages with line numbers, so every input error can say where it is."""

from __future__ import annotations

import collections
import decimal
import json
import typing as t

import msgspec
from singer_sdk.singerlib.encoding.simple import SimpleSingerReader

from mongodb_common.cli_errors import ConnectorError
from target_mongodb.errors import InputLineError, line_error

# As the SDK parses (non-integral numbers as Decimal, so no digit is lost), in a third less time.
_FAST_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)


class LineNumberingReader(SimpleSingerReader):
    """The SDK's reader, counting lines and naming the line (and stream) in any failure."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        # Called after each message is processed and released (the target writes full batches then).
        self.after_message: t.Callable[[], None] | None = None

    def process_lines(
        self,
        file_input: t.IO[str] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> collections.Counter[str]:
        stats: collections.Counter[str] = collections.Counter()
        # Counted by hand: enumerate keeps its last (number, line) pair alive for reuse.
        for line in _raw_lines(file_input or self.default_input):
            self.line_number += 1
            if not line.strip():
                continue
            message = self._parse(line)
            # Neither a record's text nor, once processed, the record is kept: with large
            # documents each would otherwise double the memory the next line needs.
            del line
            message_type = message.get("type")
            callback = callbacks.get(message_type) if isinstance(message_type, str) else None
            if callback is None:
                raise InputLineError(self.line_number, f"unknown Singer message type {message_type!r}")
            try:
                callback(message)
            except ConnectorError:
                raise  # already names the stream and line
            except Exception as exc:
                stream = message.get("stream") if isinstance(message.get("stream"), str) else None
                raise line_error(exc, self.line_number, _describe(exc), stream) from exc
            del message, callback
            stats[message_type] += 1
            if self.after_message is not None:
                self.after_message()
        return stats

    def _parse(self, line: str | bytes) -> dict[str, t.Any]:
        try:
            return self._checked(_FAST_DECODER.decode(line))
        except msgspec.DecodeError:
            pass  # the standard library also reads NaN and Infinity, and explains any other fault
        try:
            message = json.loads(line, parse_float=decimal.Decimal)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an integer too long to read
            raise InputLineError(self.line_number, f"not valid JSON ({_describe(exc)})") from None
        return self._checked(message)

    def _checked(self, message: t.Any) -> dict[str, t.Any]:
        if not isinstance(message, dict):
            raise InputLineError(self.line_number, "a Singer message must be a JSON object")
        return message


def _raw_lines(file_input: t.IO[str]) -> t.Iterable[str | bytes]:
    """The input's lines as bytes when it has them (stdin, files): msgspec reads UTF-8 itself.

    A text stream decodes each line into a string of its own and, reading a line of many
    megabytes, keeps as much again in its decoder; the bytes are parsed and then dropped.
    Lines end at "\n" only (JSON text cannot hold a raw line break).
    """
    binary = getattr(file_input, "buffer", None)
    return binary if binary is not None else file_input


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 500 else text[:500] + "..."
