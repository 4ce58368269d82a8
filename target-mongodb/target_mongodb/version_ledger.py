"""Table versions for ACTIVATE_VERSION, kept beside the data instead of inside it.

A FULL_TABLE sync tags its records with a version; ACTIVATE_VERSION says every document not
written by that version is gone at the source. Other targets store the version in each
row (``_sdc_table_version``); a MongoDB-to-MongoDB copy must not grow fields the source
does not have. So the version of each written document is kept in a ledger collection of
the destination database, keyed by (collection, key), and activation removes (or marks)
the documents whose ledger entry is older.
"""

from __future__ import annotations

import typing as t

import bson
import pymongo
from pymongo import DeleteMany, UpdateOne

from mongodb_common.singer_fields import DELETED_AT

if t.TYPE_CHECKING:
    import datetime

LEDGER_COLLECTION = "_sdc_table_versions"
_DELETE_CHUNK = 1000


def ledger_entry_id(collection: str, filter_: t.Mapping[str, t.Any]) -> bytes:
    """A scalar identity of (collection, key values).

    A scalar, not an embedded document: embedded `_id` equality depends on field order and
    the values' exact BSON types, which a scalar of their encoding pins down.
    """
    return bson.encode({"c": collection, "k": list(filter_.values())})


def record_version(collection: str, filter_: t.Mapping[str, t.Any], version: int) -> UpdateOne:
    return UpdateOne(
        {"_id": ledger_entry_id(collection, filter_)},
        {"$set": {"c": collection, "k": list(filter_.values()), "v": version}},
        upsert=True,
    )


def forget(collection: str, filter_: t.Mapping[str, t.Any]) -> DeleteMany:
    return DeleteMany({"_id": ledger_entry_id(collection, filter_)})


def ensure_index(database: pymongo.database.Database) -> None:
    database[LEDGER_COLLECTION].create_index([("c", pymongo.ASCENDING), ("v", pymongo.ASCENDING)])


def activate_version(
    database: pymongo.database.Database,
    collection: pymongo.collection.Collection,
    key_properties: t.Sequence[str],
    version: int,
    *,
    hard_delete: bool,
    now: datetime.datetime,
) -> int:
    """Remove (or mark deleted) the documents of older versions; returns how many."""
    ledger = database[LEDGER_COLLECTION].with_options(write_concern=collection.write_concern)
    stale = {"c": collection.name, "v": {"$lt": version}}
    removed = 0
    batch: list[list[t.Any]] = []
    for entry in ledger.find(stale, {"k": 1}):
        batch.append(entry["k"])
        if len(batch) >= _DELETE_CHUNK:
            removed += _remove(collection, ledger, key_properties, batch, hard_delete=hard_delete, now=now)
            batch = []
    if batch:
        removed += _remove(collection, ledger, key_properties, batch, hard_delete=hard_delete, now=now)
    return removed


def _remove(
    collection: pymongo.collection.Collection,
    ledger: pymongo.collection.Collection,
    key_properties: t.Sequence[str],
    keys: list[list[t.Any]],
    *,
    hard_delete: bool,
    now: datetime.datetime,
) -> int:
    filters = [dict(zip(key_properties, values, strict=True)) for values in keys]
    if hard_delete:
        operations: list[t.Any] = [pymongo.DeleteOne(f) for f in filters]
    else:
        # Only documents not marked yet, so a later activation keeps the first deletion time.
        operations = [UpdateOne({**f, DELETED_AT: None}, {"$set": {DELETED_AT: now}}) for f in filters]
    result = collection.bulk_write(operations, ordered=False)
    if hard_delete:
        ledger.bulk_write([DeleteMany({"_id": ledger_entry_id(collection.name, f)}) for f in filters], ordered=False)
    return result.deleted_count if hard_delete else result.modified_count
