"""Change stream events (as MongoDB documents them) to `Change` values.

https://www.mongodb.com/docs/manual/reference/change-events/ : insert, update, replace and
delete carry documents; drop, rename, dropDatabase and invalidate end what a stream can
follow. Other operation types (create, createIndexes, modify, ..., shown only with expanded
events) change no document and are ignored.
"""

from __future__ import annotations

import typing as t

from tap_mongodb.log_changes import Change, ChangeKind

_INVALIDATING = {"drop", "rename", "dropDatabase", "invalidate"}


def translate_event(event: t.Mapping[str, t.Any]) -> Change | None:
    """The change an event stands for, or None when it changes no document."""
    operation = event.get("operationType")
    namespace = event.get("ns") or {}
    database, collection = namespace.get("db", ""), namespace.get("coll")
    wall_time = event.get("wallTime")
    document_id = (event.get("documentKey") or {}).get("_id")
    if operation in {"insert", "replace", "update"}:
        document = event.get("fullDocument")
        if document is None:
            # updateLookup found nothing: the document was deleted after this update.
            return Change(ChangeKind.DELETE, database, collection, document_id, wall_time=wall_time)
        return Change(ChangeKind.UPSERT, database, collection, document.get("_id", document_id), document, wall_time)
    if operation == "delete":
        return Change(ChangeKind.DELETE, database, collection, document_id, wall_time=wall_time)
    if operation in _INVALIDATING:
        target = event.get("to")
        reason = f"{operation} of {database}.{collection or '*'}" + (
            f" to {target.get('db')}.{target.get('coll')}" if isinstance(target, dict) else ""
        )
        return Change(ChangeKind.INVALIDATE, database, collection, wall_time=wall_time, reason=reason)
    return None
