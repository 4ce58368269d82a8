"""Where a stream's position is read from and written to Singer STATE.

Positions are BSON values (an ObjectId, a datetime, an Int64, a Timestamp ...) and must come
back from STATE with the exact type they had: a bookmark that returned as a string would
match nothing, or the wrong documents, on the next run. They are stored as type-exact
Extended JSON through the shared codec.

A stream's state entry looks like::

    {"replication_key": "updated_at",
     "replication_key_value": {"$date": "2024-05-01T10:00:00.000Z"},   # INCREMENTAL
     "version": 1714557600000,                                       # FULL_TABLE in progress
     "last_id": {"$oid": "6630c2f0a1b2c3d4e5f60718"},                 # FULL_TABLE resume point
     "log_position": {"resume_token": {"_data": "8266..."},          # LOG_BASED (change streams)
                      "cluster_time": {"$timestamp": {"t": 1714557600, "i": 0}}},
     "schema": {"type": "object", "properties": {...}}}               # once the data widened it
    # or {"log_position": {"oplog_ts": {"$timestamp": {"t": 1714557600, "i": 3}}}}  (oplog)

The resume token is the server's and is stored untouched (see log_positions). `schema` is
the stream's document schema as widened by the data (docs/schema-evolution.md): the next run
starts from it, so no run declares less than an earlier one did.
"""

from __future__ import annotations

import typing as t

from mongodb_common.bson_codec import decode_value, encode_extended_json

REPLICATION_KEY = "replication_key"
REPLICATION_KEY_VALUE = "replication_key_value"
TABLE_VERSION = "version"
LAST_ID = "last_id"
LOG_POSITION = "log_position"
DOCUMENT_SCHEMA = "schema"
RESYNC = "resync"  # set when the log asked for a new initial sync (start_date does not apply then)

NO_BOOKMARK: t.Final = object()  # "no position yet", distinct from a null key value


def encode_position(value: t.Any) -> t.Any:
    return encode_extended_json(value)


def decode_position(value: t.Any) -> t.Any:
    return decode_value(value)


def read_replication_key_value(state: t.Mapping[str, t.Any], replication_key: str) -> t.Any:
    """The typed bookmark, or `NO_BOOKMARK` when there is none for this key.

    A bookmark kept for another replication key (the key was changed) is not used.
    """
    if state.get(REPLICATION_KEY) != replication_key or REPLICATION_KEY_VALUE not in state:
        return NO_BOOKMARK
    return decode_position(state[REPLICATION_KEY_VALUE])


def write_replication_key_value(state: dict[str, t.Any], replication_key: str, value: t.Any) -> None:
    state[REPLICATION_KEY] = replication_key
    state[REPLICATION_KEY_VALUE] = encode_position(value)


def has_bookmark(value: t.Any) -> bool:
    return value is not NO_BOOKMARK


def read_full_table_progress(state: t.Mapping[str, t.Any]) -> tuple[int | None, t.Any]:
    """(table version, last `_id` emitted) of an interrupted full-table sync."""
    version = state.get(TABLE_VERSION)
    last_id = decode_position(state[LAST_ID]) if LAST_ID in state else NO_BOOKMARK
    return (int(version) if version is not None else None), last_id


def write_full_table_progress(state: dict[str, t.Any], version: int, last_id: t.Any) -> None:
    state[TABLE_VERSION] = version
    state[LAST_ID] = encode_position(last_id)


def start_full_table(state: dict[str, t.Any], version: int) -> None:
    state[TABLE_VERSION] = version
    state.pop(LAST_ID, None)


def finish_full_table(state: dict[str, t.Any]) -> None:
    """A completed sync leaves no resume point, so the next run starts a new version."""
    state.pop(TABLE_VERSION, None)
    state.pop(LAST_ID, None)


def read_log_position(state: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
    """Where LOG_BASED reading continues; None before the initial sync captured one."""
    position = state.get(LOG_POSITION)
    return decode_position(position) if position else None


def write_log_position(state: dict[str, t.Any], position: t.Mapping[str, t.Any]) -> None:
    state[LOG_POSITION] = encode_position(dict(position))


def initial_sync_in_progress(state: t.Mapping[str, t.Any]) -> bool:
    return TABLE_VERSION in state


def clear_for_resync(state: dict[str, t.Any]) -> None:
    """Forget everything, so the next run starts with a new initial sync."""
    for key in (LOG_POSITION, TABLE_VERSION, LAST_ID, RESYNC):
        state.pop(key, None)


def read_document_schema(state: t.Mapping[str, t.Any]) -> dict[str, t.Any] | None:
    schema = state.get(DOCUMENT_SCHEMA)
    return schema if isinstance(schema, dict) else None


def write_document_schema(state: dict[str, t.Any], schema: dict[str, t.Any]) -> None:
    state[DOCUMENT_SCHEMA] = schema


def request_resync(state: dict[str, t.Any]) -> None:
    """Forget everything and remember why: the next run re-syncs, whatever `start_date` says."""
    clear_for_resync(state)
    state[RESYNC] = True


def resync_requested(state: t.Mapping[str, t.Any]) -> bool:
    return bool(state.get(RESYNC))
