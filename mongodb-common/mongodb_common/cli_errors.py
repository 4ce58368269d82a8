"""Console entry points that end with one clear error line instead of a traceback.

Errors the connectors raise on purpose (bad settings, unreachable server, bad input) carry
a message naming what is at fault; a traceback would bury it. Anything unexpected still
gets its traceback, since that is a bug to report.
"""

from __future__ import annotations

import sys
import typing as t

from mongodb_common.redaction import redact_uri


class ConnectorError(Exception):
    """Base of every error whose message alone tells the user what to fix."""


def run_cli(name: str, command: t.Callable[[], t.Any], expected: tuple[type[BaseException], ...]) -> None:
    try:
        command()
    except (ConnectorError, *expected) as exc:
        sys.stderr.write(f"{name}: error: {redact_uri(str(exc))}\n")
        sys.exit(1)
