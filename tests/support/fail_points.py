"""Server-side faults through the server's own `configureFailPoint` / `failCommand`.

mongod (with test commands enabled) and SecantusDB (`--enable-test-commands`) fail chosen
commands on request: with an error code (NotPrimary, PrimarySteppedDown, CursorNotFound),
by closing the connection, or after blocking. Scoped to one application name, so only the
connector under test sees the faults, never the test's own client.
"""

from __future__ import annotations

import contextlib
import typing as t

if t.TYPE_CHECKING:
    import pymongo

NOT_WRITABLE_PRIMARY = 10107
PRIMARY_STEPPED_DOWN = 189
CURSOR_NOT_FOUND = 43
SHUTDOWN_IN_PROGRESS = 91


@contextlib.contextmanager
def fail_command(
    client: pymongo.MongoClient,
    commands: t.Sequence[str],
    *,
    app_name: str,
    mode: str | dict[str, int] = "alwaysOn",
    **data: t.Any,
) -> t.Iterator[None]:
    """Fail `commands` of clients named `app_name` as `data` says, until the block ends."""
    settings = {"failCommands": list(commands), "appName": app_name, **data}
    client.admin.command("configureFailPoint", "failCommand", mode=mode, data=settings)
    try:
        yield
    finally:
        client.admin.command("configureFailPoint", "failCommand", mode="off")
