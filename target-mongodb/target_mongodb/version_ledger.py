"""Table versions for ACTIVATE_VERSION, kept beside the data instead of inside it.

A FULL_TABLE sync tags its records with a version; ACTIVATE_VERSION says every document not
written by that version (or a newer one) is gone at the source. Other targets store the
version in each row (``_sdc_table_version``); a MongoDB-to-MongoDB copy must not grow fields
the source does not have. So the destination database holds a ledger collection with one
entry per written batch: the collection, the version, and the identities of the documents
the batch wrote (``ids``, a multikey-indexed array). One ledger write per batch, not per
document, so a full sync costs about one write per document, as an insert would.

Activation walks the entries of older versions, keeps the identities that no entry of the
activated (or a newer) version holds, removes (or marks) those documents, then drops the
older entries. It is idempotent: an activation cut short is simply done again. Entries of
earlier releases (one per document: `_id`, `c`, `k` key values, `v`) are still honoured.
"""

from __future__ import annotations

import typing as t

import bson
import pymongo
from pymongo import UpdateOne

from mongodb_common.singer_fields import DELETED_AT
from target_mongodb.write_operations import identity_of_values, key_values

if t.TYPE_CHECKING:
    import datetime

LEDGER_COLLECTION = "_sdc_table_versions"
# Bounds per ledger entry, well under MongoDB's 16 MiB document limit.
_ENTRY_MAX_IDS = 10_000
_ENTRY_MAX_BYTES = 4 * 1024 * 1024
_CHECK_CHUNK = 1_000


def batch_entries(collection: str, written: t.Iterable[tuple[int, bytes]]) -> list[dict[str, t.Any]]:
    """Ledger entries for one written batch of (version, key identity) pairs, by version.

    Identities are `write_operations.identity` of the key filter (decoded by `key_values`).
    """
    by_version: dict[int, list[bytes]] = {}
    for version, identity in written:
        by_version.setdefault(version, []).append(identity)
    entries = []
    for version, ids in by_version.items():
        chunk: list[bytes] = []
        size = 0
        for one in ids:
            if chunk and (len(chunk) >= _ENTRY_MAX_IDS or size + len(one) > _ENTRY_MAX_BYTES):
                entries.append({"c": collection, "v": version, "ids": chunk})
                chunk, size = [], 0
            chunk.append(one)
            size += len(one) + 16  # element overhead in the array
        entries.append({"c": collection, "v": version, "ids": chunk})
    return entries


def ensure_index(database: pymongo.database.Database) -> None:
    database[LEDGER_COLLECTION].create_index(
        [("c", pymongo.ASCENDING), ("v", pymongo.ASCENDING), ("ids", pymongo.ASCENDING)]
    )


def activate_version(
    database: pymongo.database.Database,
    collection: pymongo.collection.Collection,
    key_properties: t.Sequence[str],
    version: int,
    *,
    hard_delete: bool,
    now: datetime.datetime,
) -> int:
    """Remove (or mark deleted) the documents only older versions wrote; returns how many."""
    ledger = database[LEDGER_COLLECTION].with_options(write_concern=collection.write_concern)
    removed = 0
    # Per-document entries of earlier releases (no `ids`) need one more lookup per chunk;
    # asked once here so ledgers written only by this release never pay for it.
    has_legacy = ledger.find_one({"c": collection.name, "ids": {"$exists": False}}, {"_id": 1}) is not None
    stale_entries = ledger.find({"c": collection.name, "v": {"$lt": version}}, {"_id": 1})
    for entry_id in [entry["_id"] for entry in stale_entries]:
        entry = ledger.find_one({"_id": entry_id})
        if entry is None:
            continue
        ids = list(dict.fromkeys(_entry_ids(entry)))
        for start in range(0, len(ids), _CHECK_CHUNK):
            chunk = ids[start : start + _CHECK_CHUNK]
            kept = _written_since(ledger, collection.name, version, chunk, has_legacy=has_legacy)
            gone = [one for one in chunk if one not in kept]
            if gone:
                removed += _remove(collection, key_properties, gone, hard_delete=hard_delete, now=now)
        ledger.delete_one({"_id": entry_id})
    return removed


def _entry_ids(entry: t.Mapping[str, t.Any]) -> list[bytes]:
    if "ids" in entry:
        return entry["ids"]
    return [identity_of_values(entry["k"])]  # a per-document entry of earlier releases


def _legacy_entry_id(collection: str, identity: bytes) -> bytes:
    """The `_id` earlier releases gave a document's own ledger entry."""
    return bson.encode({"c": collection, "k": key_values(identity)})


def _written_since(
    ledger: pymongo.collection.Collection, name: str, version: int, ids: list[bytes], *, has_legacy: bool
) -> set[bytes]:
    """Which of `ids` an entry of `version` or newer holds (the server intersects the arrays)."""
    pipeline = [
        {"$match": {"c": name, "v": {"$gte": version}, "ids": {"$in": ids}}},
        {"$project": {"_id": 0, "ids": {"$setIntersection": ["$ids", {"$literal": ids}]}}},
    ]
    found = {one for entry in ledger.aggregate(pipeline) for one in entry["ids"]}
    if not has_legacy:
        return found
    # A sync begun before the upgrade to batch entries left one entry per document.
    legacy = {_legacy_entry_id(name, one): one for one in ids if one not in found}
    if legacy:
        for entry in ledger.find({"_id": {"$in": list(legacy)}, "v": {"$gte": version}}, {"_id": 1}):
            found.add(legacy[entry["_id"]])
    return found


def _remove(
    collection: pymongo.collection.Collection,
    key_properties: t.Sequence[str],
    ids: list[bytes],
    *,
    hard_delete: bool,
    now: datetime.datetime,
) -> int:
    filters = [dict(zip(key_properties, key_values(one), strict=True)) for one in ids]
    if hard_delete:
        operations: list[t.Any] = [pymongo.DeleteOne(f) for f in filters]
    else:
        # Only documents not marked yet, so a later activation keeps the first deletion time.
        operations = [UpdateOne({**f, DELETED_AT: None}, {"$set": {DELETED_AT: now}}) for f in filters]
    result = collection.bulk_write(operations, ordered=False)
    return result.deleted_count if hard_delete else result.modified_count
