"""The `--catalog` and `--state` files, checked to be JSON before the SDK parses them.

The SDK parses them with no handling of its own, so a truncated or hand-edited file ended
the run in a traceback; this names the file and the position of the first error instead.
"""

from __future__ import annotations

import io
import json
import typing as t

from mongodb_common.cli_errors import ConnectorError


class InputFileError(ConnectorError):
    """A catalog or state file that is not valid JSON."""


def checked_json_file(handle: t.IO[str] | None, role: str) -> t.IO[str] | None:
    """The same content as a fresh text stream, or an error naming the file and the position."""
    if handle is None:
        return None
    text = handle.read()
    name = getattr(handle, "name", role)
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        remedy = "give the catalog `--discover` wrote" if role == "catalog" else "give the target's last STATE"
        msg = f"the {role} file {name} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): {remedy}"
        raise InputFileError(msg) from None
    return io.StringIO(text)
