"""Oplog entries (`local.oplog.rs`) to `Change` values, for deployments without change streams.

Entry shapes, by `op`: `i` insert (`o` is the document), `u` update (`o2._id` names the
document; `o` is a replacement, `$set`/`$unset` modifiers, or a `$v: 2` diff), `d` delete
(`o._id`), `c` command (`applyOps` of a transaction, holding entries of the other kinds;
`drop`, `renameCollection`, `dropDatabase`), `n` no-op. Updates are never re-applied from
the entry: the document's current state is read instead, whatever the update format.

mongod writes a transaction as one `applyOps` entry; other servers (SecantusDB) write one
entry per operation, all with the transaction's `ts` and its `lsid`/`txnNumber`. Both read
the same here; the reader moves its position past a `ts` only once every entry of it is handled.
"""

from __future__ import annotations

import typing as t

from bson import DBRef

from tap_mongodb.log_changes import DELETE, INSERT, REPLACE, UPDATE, Change, ChangeKind, as_document


def _split(namespace: str) -> tuple[str, str]:
    database, _, collection = namespace.partition(".")
    return database, collection


def _is_replacement(update: t.Mapping[str, t.Any]) -> bool:
    return not any(str(key).startswith("$") for key in update)


def translate_entry(entry: t.Mapping[str, t.Any]) -> list[Change]:  # noqa: PLR0911 - one exit per kind
    """The changes one oplog entry stands for, in order (a transaction holds several)."""
    operation = entry.get("op")
    namespace = str(entry.get("ns", ""))
    database, collection = _split(namespace)
    wall_time = entry.get("wall")
    stored = entry.get("o") or {}
    body = as_document(stored)
    if operation == "i":
        if isinstance(stored, DBRef):  # top-level `$ref`/`$id`: read it again, as stored
            refetch = ChangeKind.REFETCH
            return [Change(refetch, database, collection, body.get("_id"), wall_time=wall_time, operation=INSERT)]
        return [
            Change(ChangeKind.UPSERT, database, collection, body.get("_id"), dict(body), wall_time, operation=INSERT)
        ]
    if operation == "u":
        document_id = (entry.get("o2") or {}).get("_id")
        if _is_replacement(body) and not isinstance(stored, DBRef):
            replacement = {"_id": document_id, **body}
            return [
                Change(ChangeKind.UPSERT, database, collection, document_id, replacement, wall_time, operation=REPLACE)
            ]
        return [Change(ChangeKind.REFETCH, database, collection, document_id, wall_time=wall_time, operation=UPDATE)]
    if operation == "d":
        return [Change(ChangeKind.DELETE, database, collection, body.get("_id"), wall_time=wall_time, operation=DELETE)]
    if operation == "c":
        return _command(database, body, wall_time)
    return []  # "n" no-ops, and anything newer


def _command(database: str, body: t.Mapping[str, t.Any], wall_time: t.Any) -> list[Change]:
    if "applyOps" in body:
        changes: list[Change] = []
        for inner in body["applyOps"]:
            changes.extend(translate_entry({"wall": wall_time, **inner}))
        return changes
    if "drop" in body:
        return [
            Change(
                ChangeKind.INVALIDATE,
                database,
                str(body["drop"]),
                wall_time=wall_time,
                reason=f"drop of {database}.{body['drop']}",
            )
        ]
    if "renameCollection" in body:
        source_db, source_collection = _split(str(body["renameCollection"]))
        reason = f"rename of {body['renameCollection']} to {body.get('to')}"
        renamed_onto = _split(str(body["to"])) if body.get("to") else None
        return [
            Change(
                ChangeKind.INVALIDATE,
                source_db,
                source_collection,
                wall_time=wall_time,
                reason=reason,
                also_invalidates=renamed_onto,
            )
        ]
    if "dropDatabase" in body:
        return [
            Change(ChangeKind.INVALIDATE, database, None, wall_time=wall_time, reason=f"dropDatabase of {database}")
        ]
    return []  # create, createIndexes, collMod ...: no document changed
