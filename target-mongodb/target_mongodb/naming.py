"""Where a stream's records go: destination database and collection names."""

from __future__ import annotations

import typing as t

KEEP_STREAM_NAME = "stream_name"
STRIP_DATABASE_PREFIX = "strip_database_prefix"
DATABASE_FROM_PREFIX = "database_from_prefix"
NAMING_MODES = (KEEP_STREAM_NAME, STRIP_DATABASE_PREFIX, DATABASE_FROM_PREFIX)

# MongoDB refuses these characters in collection names; "$" is reserved for system names.
_FORBIDDEN_IN_COLLECTION = ("$", "\x00")


class NamingError(ValueError):
    """A stream name that maps to no valid MongoDB namespace; names the stream."""


def destination_namespace(stream_name: str, config: t.Mapping[str, t.Any]) -> tuple[str, str]:
    """(database, collection) for a stream.

    tap-mongodb names streams ``<database>-<collection>``. The ``collection_naming`` setting
    keeps that as the collection name, strips the database part, or writes to a database
    of that name. The split is at the first ``-``; ``stream_collections`` names the
    namespace explicitly where a database name itself contains ``-``.
    """
    database = str(config["database"])
    explicit = (config.get("stream_collections") or {}).get(stream_name)
    if explicit:
        target_db, dot, collection = str(explicit).partition(".")
        return _checked(stream_name, (target_db, collection) if dot else (database, target_db))
    mode = config.get("collection_naming", KEEP_STREAM_NAME)
    prefix, dash, rest = stream_name.partition("-")
    if mode == KEEP_STREAM_NAME or not dash:
        return _checked(stream_name, (database, stream_name))
    if mode == STRIP_DATABASE_PREFIX:
        return _checked(stream_name, (database, rest))
    if mode == DATABASE_FROM_PREFIX:
        return _checked(stream_name, (prefix, rest))
    msg = f"collection_naming must be one of {', '.join(NAMING_MODES)}, not {mode!r}"
    raise NamingError(msg)


def _checked(stream_name: str, namespace: tuple[str, str]) -> tuple[str, str]:
    database, collection = namespace
    if not database or not collection or any(ch in collection for ch in _FORBIDDEN_IN_COLLECTION):
        msg = f"stream {stream_name!r} maps to the invalid namespace {database!r}.{collection!r}"
        raise NamingError(msg)
    if any(ch in database for ch in '/\\. "$\x00'):
        msg = f"stream {stream_name!r} maps to the invalid database name {database!r}"
        raise NamingError(msg)
    return database, collection
