"""pymongo's errors told as causes a user can act on, with the timeouts that really applied.

pymongo appends "(configured timeouts: socketTimeoutMS: ..., connectTimeoutMS: ...)" to
network errors with the options of the connection that failed. When that connection is the
driver's monitor (server selection, heartbeats) those are not the user's settings: its read
timeout is the connect timeout, quoted as a socket timeout nobody set. So these messages
drop pymongo's list and say which of the connector's timeouts fired, with its value.
"""

from __future__ import annotations

import re
import typing as t

import pymongo.errors

from mongodb_common.timeouts import HEARTBEAT_INTERVAL_MS, Timeouts

_TIMEOUT_DETAILS = re.compile(r"\s*\(configured timeouts:[^)]*\)")
_TIMED_OUT = re.compile(r"\btimed out\s*\(configured timeouts:[^)]*\)")
# Raised in an operation whose connection pymongo closed because the server stopped
# answering its heartbeat (private in pymongo, hence looked up by name).
_CANCELLED = t.cast("type[BaseException]", getattr(pymongo.errors, "_OperationCancelled", ()))


def _certificate_hint(text: str) -> str:
    """What to do about a server certificate the client does not trust."""
    if "CERTIFICATE_VERIFY_FAILED" not in text:
        return ""
    return (
        "; the server's TLS certificate is not signed by a certificate authority this client "
        "trusts: set tls_ca_file to the PEM file of the CA that signed it"
    )


def socket_timeout_text(timeouts: Timeouts) -> str:
    if timeouts.socket_ms is None:
        return "socket_timeout_ms is not set"
    return f"socket_timeout_ms = {timeouts.socket_ms} ms"


def heartbeat_text(timeouts: Timeouts) -> str:
    return (
        f"the driver's heartbeat got no answer within connect_timeout_ms = {timeouts.connect_ms} ms "
        f"(checked every {HEARTBEAT_INTERVAL_MS // 1000} s)"
    )


def _server_errors(text: str, timeouts: Timeouts) -> str:
    """A server-selection error's per-server causes, as the monitor saw them."""
    text = _TIMED_OUT.sub(f"no answer within connect_timeout_ms = {timeouts.connect_ms} ms", text)
    return _TIMEOUT_DETAILS.sub("", text)


def _timeout_cause(exc: BaseException, timeouts: Timeouts) -> str | None:
    """The cause of a timeout (the server did not answer in time), None for other errors."""
    text = str(exc)
    if isinstance(exc, pymongo.errors.ServerSelectionTimeoutError):
        causes = _server_errors(text.split(", Timeout:", 1)[0], timeouts)
        limit = f"server_selection_timeout_ms = {timeouts.server_selection_ms} ms"
        return f"no server could be selected within {limit}: {causes}{_certificate_hint(causes)}"
    if isinstance(exc, _CANCELLED):
        return (
            f"the server stopped answering: {heartbeat_text(timeouts)}, so it closed the connection "
            f"({socket_timeout_text(timeouts)})"
        )
    if isinstance(exc, pymongo.errors.NetworkTimeout):
        where = _TIMED_OUT.split(text, 1)[0].rstrip(": ")
        if timeouts.socket_ms is not None:
            return f"{where}: no reply within socket_timeout_ms = {timeouts.socket_ms} ms"
        return f"{where}: no answer within connect_timeout_ms = {timeouts.connect_ms} ms"
    return None


def explain(exc: BaseException, timeouts: Timeouts) -> str:
    """One line: what went wrong, naming the timeout that fired and its value."""
    timed_out = _timeout_cause(exc, timeouts)
    if timed_out is not None:
        return timed_out
    text = str(exc)
    details = getattr(exc, "details", None)
    if isinstance(details, t.Mapping) and "code" in details:
        name = details.get("codeName") or type(exc).__name__
        return f"server error {details['code']} ({name}): {details.get('errmsg') or text}"
    if isinstance(exc, pymongo.errors.ConnectionFailure):
        return f"network error: {_TIMEOUT_DETAILS.sub('', text)}{_certificate_hint(text)}"
    return f"{type(exc).__name__}: {text}"
