"""Change stream events (as MongoDB documents them) to `Change` values.

https://www.mongodb.com/docs/manual/reference/change-events/ : insert, update, replace and
delete carry documents; drop, rename, dropDatabase and invalidate end what a stream can
follow. Other operation types (create, createIndexes, modify, ..., shown only with expanded
events) change no document and are ignored.
"""

from __future__ import annotations

import typing as t

from bson import DBRef

from tap_mongodb.log_changes import DELETE, INSERT, REPLACE, UPDATE, Change, ChangeKind, as_document

INVALIDATING = ("drop", "rename", "dropDatabase", "invalidate")


def translate_event(event: t.Mapping[str, t.Any]) -> Change | None:
    """The change an event stands for, or None when it changes no document.

    An update whose `updateLookup` found nothing is skipped: the document was deleted after
    the update, and that delete comes later in the log.
    """
    operation = event.get("operationType")
    namespace = event.get("ns") or {}
    database, collection = namespace.get("db", ""), namespace.get("coll")
    wall_time = event.get("wallTime")
    document_id = (event.get("documentKey") or {}).get("_id")
    if operation in {INSERT, REPLACE, UPDATE}:
        document = event.get("fullDocument")
        if document is None:
            return None
        if isinstance(document, DBRef):  # top-level `$ref`/`$id`: read it again, as stored
            refetch = ChangeKind.REFETCH
            return Change(refetch, database, collection, document_id, wall_time=wall_time, operation=operation)
        identity = document.get("_id", document_id)
        return Change(ChangeKind.UPSERT, database, collection, identity, document, wall_time, operation=operation)
    if operation == DELETE:
        # The document as it was before the delete, where the collection keeps pre-images
        # (MongoDB 6.0+ changeStreamPreAndPostImages) and the stream asked for them.
        before = event.get("fullDocumentBeforeChange")
        before = as_document(before) if before is not None else None
        return Change(ChangeKind.DELETE, database, collection, document_id, before, wall_time, operation=DELETE)
    if operation in INVALIDATING:
        target = event.get("to")
        renamed_onto = None
        reason = f"{operation} of {database}.{collection or '*'}"
        if isinstance(target, t.Mapping):
            renamed_onto = (str(target.get("db")), str(target.get("coll")))
            reason += f" to {renamed_onto[0]}.{renamed_onto[1]}"
        return Change(
            ChangeKind.INVALIDATE,
            database,
            collection,
            wall_time=wall_time,
            reason=reason,
            also_invalidates=renamed_onto,
        )
    return None
