"""Errors target-mongodb raises on purpose; each names the stream, input line and key at fault."""

from __future__ import annotations

import functools

from singer_sdk.exceptions import MissingKeyPropertiesError

from mongodb_common.cli_errors import ConnectorError


class InputLineError(ConnectorError):
    """A line of Singer input that cannot be processed (bad JSON, bad message, bad record)."""

    def __init__(self, line_number: int, problem: str, stream: str | None = None) -> None:
        where = f"input line {line_number}" + (f", stream {stream!r}" if stream else "")
        super().__init__(f"{where}: {problem}")
        self.line_number = line_number
        self.stream = stream


@functools.cache
def _line_error_class(cause_type: type[Exception]) -> type[InputLineError]:
    # Also an instance of the original type, so code catching the SDK's exception still does.
    return type(f"{cause_type.__name__}AtLine", (InputLineError, cause_type), {"__str__": InputLineError.__str__})


def line_error(cause: Exception, line_number: int, problem: str, stream: str | None) -> InputLineError:
    """An InputLineError naming the line, keeping the type of the exception that caused it."""
    try:
        error_class = _line_error_class(type(cause))
        return error_class(line_number, problem, stream)
    except TypeError:  # an exception type that cannot be combined (C-level layout)
        return InputLineError(line_number, problem, stream)


class RecordRejectedError(ConnectorError):
    """A record that cannot become a MongoDB document; raised only in `fail` mode."""


class MissingKeyPropertiesRejectedError(RecordRejectedError, MissingKeyPropertiesError):
    """A record without its key properties (also the SDK's MissingKeyPropertiesError)."""


class KeyPropertyNameError(ConnectorError):
    """A key property MongoDB cannot query by (a `.` or a leading `$` in its name)."""


class WriteFailedError(ConnectorError):
    """The server refused writes of a batch; nothing past the last durable write is confirmed."""
