"""Console entry points that end with one clear error line instead of a traceback.

Errors the connectors raise on purpose (bad settings, unreachable server, bad input) carry
a message naming what is at fault; a traceback would bury it, so it is shown only at the
DEBUG log level (`TAP_MONGODB_LOGLEVEL=debug`, `TARGET_MONGODB_LOGLEVEL=debug` or
`LOGLEVEL=debug`, the variables the Singer SDK reads its level from). Anything unexpected
still gets its traceback, since that is a bug to report.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
import typing as t

from mongodb_common.fast_exit import exit_succeeded
from mongodb_common.large_buffers import map_large_buffers_separately
from mongodb_common.redaction import redact_uri


class ConnectorError(Exception):
    """Base of every error whose message alone tells the user what to fix."""


class OutputClosedError(ConnectorError):
    """The process reading our standard output stopped reading it (a broken pipe)."""


def log_level(name: str) -> str:
    """The plugin's log level as the Singer SDK reads it: `<NAME>_LOGLEVEL`, else `LOGLEVEL`."""
    prefix = name.upper().replace("-", "_")
    return (os.environ.get(f"{prefix}_LOGLEVEL") or os.environ.get("LOGLEVEL") or "INFO").upper()


def _discard_standard_output() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush cannot fail on the dead pipe."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def run_cli(name: str, command: t.Callable[[], t.Any], expected: tuple[type[BaseException], ...]) -> None:
    map_large_buffers_separately()
    try:
        command()
    except SystemExit as exc:
        if not exc.code:  # success (click always ends in SystemExit): see fast_exit.py
            exit_succeeded()
        raise
    except (ConnectorError, *expected) as exc:
        if isinstance(exc, OutputClosedError):
            _discard_standard_output()
        if log_level(name) == "DEBUG":
            traceback.print_exc(file=sys.stderr)
        sys.stderr.write(f"{name}: error: {redact_uri(str(exc))}\n")
        sys.exit(1)
