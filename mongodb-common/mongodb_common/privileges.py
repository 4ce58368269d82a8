"""A missing privilege becomes an error naming the privilege and the namespace."""

from __future__ import annotations

import contextlib
import typing as t

import pymongo.errors

from mongodb_common.cli_errors import ConnectorError

UNAUTHORIZED = 13


class MissingPrivilegeError(ConnectorError):
    """The user may not do what the connector needs; names the action, namespace and role."""


@contextlib.contextmanager
def explained_privileges(action: str, namespace: str, role: str) -> t.Iterator[None]:
    """Turn the server's `Unauthorized` (code 13) into a MissingPrivilegeError."""
    try:
        yield
    except pymongo.errors.OperationFailure as exc:
        if exc.code != UNAUTHORIZED:
            raise
        msg = (
            f"not authorized to {action} on {namespace}: grant the user {role} "
            f"(server said: {exc.details.get('errmsg', exc) if exc.details else exc})"
        )
        raise MissingPrivilegeError(msg) from None
