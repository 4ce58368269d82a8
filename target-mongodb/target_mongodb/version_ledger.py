"""Table versions for ACTIVATE_VERSION, kept beside the data instead of inside it.

A FULL_TABLE sync tags its records with a version; ACTIVATE_VERSION says every document not
written by that version (or a newer one) is gone at the source. Other targets store the
version in each row (``_sdc_table_version``); a MongoDB-to-MongoDB copy must not grow fields
the source does not have. So the destination database holds a ledger collection with one
tiny entry per written document and version, nothing but its ``_id``:
``<collection> NUL <key identity, base64> NUL <version>`` (the identity is
`write_operations.identity`, the key's BSON). A batch's entries are one ``insert_many``; an
entry written again (a retried batch, a resumed sync) is a duplicate ``_id``, ignored.

Activation reads the collection's entries in ``_id`` order, one range of the ``_id`` index:
a document's entries are adjacent (NUL sorts before every base64 character), so one pass,
in bounded memory, finds every document whose newest entry is older than the activated
version. Those are removed (or marked), then their entries and every other entry older
than the version are deleted by ``_id``, a thousand per command. Nothing is asked of the
server but a range read of its ``_id`` index and deletes by ``_id`` (no set operations, no
``$in`` over large arrays, which some servers compute in quadratic time), so the cost is
linear in the number of documents on any MongoDB-compatible server. Activation is
idempotent: cut short, it is simply done again (a document already removed is removed again
at no cost; entries are deleted only after the documents they describe are settled).

Entries of earlier releases (fields ``c`` and ``v``, with ``ids``, the identities a whole
batch wrote, or ``k``, one document's key values) are converted to this form when their
collection is activated.
"""

from __future__ import annotations

import base64
import typing as t

import pymongo
import pymongo.errors
from pymongo import UpdateOne

from mongodb_common.singer_fields import DELETED_AT
from target_mongodb.write_operations import identity_of_values, key_values

if t.TYPE_CHECKING:
    import datetime

LEDGER_COLLECTION = "_sdc_table_versions"
_SEPARATOR = "\x00"
# Documents removed, and ledger entries deleted, per command during activation.
_CHUNK = 1_000
_DUPLICATE_KEY = 11000


class LedgerOrderError(RuntimeError):
    """The server returned ledger entries out of `_id` order; nothing more is removed."""


def entry_id(collection: str, identity: bytes, version: int) -> str:
    return f"{collection}{_SEPARATOR}{base64.b64encode(identity).decode()}{_SEPARATOR}{version}"


def ledger_entries(collection: str, written: t.Iterable[tuple[int, bytes]]) -> list[dict[str, t.Any]]:
    """Ledger entries for one written batch of (version, key identity) pairs."""
    ids = dict.fromkeys(entry_id(collection, identity, version) for version, identity in written)
    return [{"_id": one} for one in ids]


def write_entries(ledger: pymongo.collection.Collection, entries: list[dict[str, t.Any]]) -> None:
    """Insert entries; those already there (a retried or repeated batch) are left as they are."""
    try:
        ledger.insert_many(entries, ordered=False)
    except pymongo.errors.BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if exc.details.get("writeConcernErrors") or any(e.get("code") != _DUPLICATE_KEY for e in errors):
            raise


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
    _convert_earlier_entries(ledger, collection.name)
    removal = _Removal(ledger, collection, key_properties, hard_delete=hard_delete, now=now)
    prefix = collection.name + _SEPARATOR
    entries = ledger.find({"_id": {"$gt": prefix, "$lt": collection.name + "\x01"}}, {"_id": 1}, sort=[("_id", 1)])
    previous = prefix
    current: str | None = None  # the base64 identity of the document whose entries are being read
    older: list[str] = []  # its entries older than `version`
    kept = False
    for entry in entries:
        one = entry["_id"]
        if one < previous:
            msg = f"the server returned {LEDGER_COLLECTION} entries out of _id order ({one!r} after {previous!r})"
            raise LedgerOrderError(msg)
        previous = one
        identity, _, entry_version = one[len(prefix) :].rpartition(_SEPARATOR)
        if identity != current:
            removal.settle(current, older, kept=kept)
            current, older, kept = identity, [], False
        if int(entry_version) >= version:
            kept = True
        else:
            older.append(one)
    removal.settle(current, older, kept=kept)
    removal.flush()
    return removal.removed


class _Removal:
    """Batches what activation removes: documents first, then the ledger entries about them."""

    def __init__(
        self,
        ledger: pymongo.collection.Collection,
        collection: pymongo.collection.Collection,
        key_properties: t.Sequence[str],
        *,
        hard_delete: bool,
        now: datetime.datetime,
    ) -> None:
        self._ledger = ledger
        self._collection = collection
        self._key_properties = list(key_properties)
        self._hard_delete = hard_delete
        self._now = now
        self._gone: list[bytes] = []
        self._stale_entries: list[str] = []
        self.removed = 0

    def settle(self, identity: str | None, older_entries: list[str], *, kept: bool) -> None:
        """One document's entries read: remove it unless an entry of the version keeps it."""
        if identity is None:
            return
        if not kept:
            self._gone.append(base64.b64decode(identity))
        self._stale_entries.extend(older_entries)
        if len(self._gone) >= _CHUNK or len(self._stale_entries) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self._gone:
            self.removed += self._remove_documents(self._gone)
            self._gone = []
        if self._stale_entries:  # only once the documents they describe are settled
            # One delete by `_id` each, not `$in` (which some servers match in quadratic time).
            self._ledger.bulk_write([pymongo.DeleteOne({"_id": one}) for one in self._stale_entries], ordered=False)
            self._stale_entries = []

    def _remove_documents(self, identities: list[bytes]) -> int:
        filters = [dict(zip(self._key_properties, key_values(one), strict=True)) for one in identities]
        if self._hard_delete:
            operations: list[t.Any] = [pymongo.DeleteOne(f) for f in filters]
        else:
            # Only documents not marked yet, so a later activation keeps the first deletion time.
            operations = [UpdateOne({**f, DELETED_AT: None}, {"$set": {DELETED_AT: self._now}}) for f in filters]
        result = self._collection.bulk_write(operations, ordered=False)
        return result.deleted_count if self._hard_delete else result.modified_count


def _convert_earlier_entries(ledger: pymongo.collection.Collection, name: str) -> None:
    """Entries of earlier releases become entries of this form, then go.

    They exist only where an earlier release created its index on `c` (`(c, v)` or
    `(c, v, ids)`), so the (indexed) look-up is made only then; once none is left in any
    collection, those indexes are dropped. Converted entries are written before the old entry is
    deleted, so a conversion cut short is simply done again.
    """
    indexes = ledger.index_information()
    earlier = [index for index, spec in indexes.items() if spec.get("key", [("_id", 1)])[0][0] == "c"]
    if not earlier:
        return
    for entry in ledger.find({"c": name}):
        if "ids" in entry:  # one entry per batch: the identities it wrote
            identities = [bytes(one) for one in entry["ids"]]
        elif "k" in entry:  # one entry per document: its key values
            identities = [identity_of_values(entry["k"])]
        else:
            continue
        for start in range(0, len(identities), _CHUNK):
            chunk = identities[start : start + _CHUNK]
            write_entries(ledger, ledger_entries(name, [(entry["v"], one) for one in chunk]))
        ledger.delete_one({"_id": entry["_id"]})
    if ledger.find_one({"c": {"$exists": True}}, {"_id": 1}) is None:
        for index in earlier:  # no entry of an earlier release is left, in any collection
            ledger.drop_index(index)
