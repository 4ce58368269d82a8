"""The embedded MongoDB stand-in, for tests and demos only (never for production data).

There is no ``mongod`` in this project's build environment, so tests and the demo use
litemongo: mongomock's pymongo-compatible API over SQLite files, shared between processes
so a real ``meltano run`` of tap and target can pass data through it. A URI
``litemongo:///some/dir`` names the directory holding the data.

Where the stand-in lacks a pymongo call the connectors use, it is added here, answering in
the shape a real server gives, so product code keeps calling pymongo exactly as it would
against MongoDB.
"""

from __future__ import annotations

import collections
import datetime
import functools
import random
import re
import sqlite3
import threading
import typing as t
from urllib import parse

import bson
import litemongo
import pymongo
from bson import Binary, Code, Int64, MaxKey, MinKey, Regex, Timestamp
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.datetime_ms import DatetimeMS
from bson.raw_bson import RawBSONDocument
from litemongo import sqlite_store
from litemongo._vendor.mongomock import aggregate as mongomock_aggregate
from litemongo._vendor.mongomock import collection as mongomock_collection
from litemongo._vendor.mongomock import database as mongomock_database
from litemongo._vendor.mongomock import filtering as mongomock_filtering
from litemongo._vendor.mongomock import helpers as mongomock_helpers

from mongodb_common.bson_codec import type_order

CODEC_OPTIONS: CodecOptions = CodecOptions(
    tz_aware=True,
    tzinfo=datetime.timezone.utc,
    datetime_conversion=DatetimeConversion.DATETIME_AUTO,
)
_RAW_OPTIONS: CodecOptions = CODEC_OPTIONS.with_options(document_class=RawBSONDocument)


class _DatabaseStore(sqlite_store.DatabaseStore):
    """Decodes stored BSON as our real clients do: aware UTC datetimes, any year."""

    def __init__(self, path: t.Any) -> None:
        super().__init__(path, codec_options=CODEC_OPTIONS)

    def set_codec_options(self, codec_options: CodecOptions) -> None:
        """Keep CODEC_OPTIONS: mongomock would reset them to defaults that fail on old dates."""


class _ServerStore(sqlite_store.ServerStore):
    def __getitem__(self, db_name: str) -> sqlite_store.DatabaseStore:
        if db_name not in self._databases:
            self._databases[db_name] = _DatabaseStore(self._dirpath / db_name)
        return self._databases[db_name]


def _list_collections(
    self: mongomock_database.Database,
    session: t.Any = None,  # noqa: ARG001 - pymongo signature
    filter: t.Mapping[str, t.Any] | None = None,
    **_kwargs: t.Any,
) -> t.Iterator[dict[str, t.Any]]:
    """`listCollections` results shaped as a server returns them (no views on the stand-in)."""
    for name in self.list_collection_names():
        info = {
            "name": name,
            "type": "collection",
            "options": {},
            "info": {"readOnly": False},
            "idIndex": {"v": 2, "key": {"_id": 1}, "name": "_id_"},
        }
        if not filter or mongomock_filtering.filter_applies(filter, info):
            yield info


mongomock_database.Database.list_collections = _list_collections

_LEAVES = frozenset({str, int, float, bool, type(None), bytes, bson.ObjectId, Int64})


def _aware_milliseconds(value: t.Any) -> t.Any:
    """Dates in filters and writes as the store returns them: aware UTC, whole milliseconds.

    mongomock makes every date naive, while the store decodes aware ones (as our clients do),
    so an equality filter on a date never matched. Leaves are skipped by exact type: this
    walks every written document.
    """
    value_type = type(value)
    if value_type in _LEAVES:
        return value
    if isinstance(value, dict):
        kind = collections.OrderedDict if isinstance(value, collections.OrderedDict) else dict
        return kind((key, _aware_milliseconds(item)) for key, item in value.items())
    if isinstance(value, (tuple, list)):
        return [_aware_milliseconds(item) for item in value]
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).replace(microsecond=value.microsecond // 1000 * 1000)
    if isinstance(value, Timestamp) and not value.time and not value.inc:
        return mongomock_helpers.get_current_timestamp()
    return value


mongomock_helpers.patch_datetime_awareness_in_document = _aware_milliseconds

_original_bson_compare = mongomock_filtering.bson_compare


def _bson_compare(op: t.Callable[[t.Any, t.Any], bool], a: t.Any, b: t.Any, can_compare_types: bool = True) -> bool:
    """Server ordering for every BSON type (mongomock cannot order Timestamp, MinKey, ...)."""
    try:
        key_a, key_b = type_order.sort_key(a), type_order.sort_key(b)
    except TypeError:
        return _original_bson_compare(op, a, b, can_compare_types)
    if key_a[0] != key_b[0]:
        return can_compare_types and op(key_a[0], key_b[0])
    return op(key_a, key_b)


mongomock_filtering.bson_compare = _bson_compare

mongomock_filtering.TYPE_MAP.update(
    {
        "null": lambda v: v is None,
        "undefined": lambda _v: False,
        "symbol": lambda _v: False,
        "dbPointer": lambda _v: False,
        "regex": lambda v: isinstance(v, (Regex, re.Pattern)),
        "javascript": lambda v: isinstance(v, Code) and v.scope is None,
        "javascriptWithScope": lambda v: isinstance(v, Code) and v.scope is not None,
        "timestamp": lambda v: isinstance(v, Timestamp),
        "minKey": lambda v: isinstance(v, MinKey),
        "maxKey": lambda v: isinstance(v, MaxKey),
        "date": lambda v: isinstance(v, (datetime.datetime, DatetimeMS)),
        "binData": lambda v: isinstance(v, (bytes, Binary)),
        "int": lambda v: type(v) is int and -(2**31) <= v < 2**31,
        "long": lambda v: isinstance(v, Int64),
        "string": lambda v: isinstance(v, str) and not isinstance(v, Code),
    }
)


# A MongoClient may be used from many threads (target-mongodb drains sinks in parallel); the
# stand-in's SQLite connections may not. Connections are opened shareable and every call
# that touches them is serialized by one lock.
_LOCK = threading.RLock()
_SERIALIZED_COLLECTION_METHODS = (
    "bulk_write",
    "insert_one",
    "insert_many",
    "replace_one",
    "update_one",
    "update_many",
    "delete_one",
    "delete_many",
    "find_one",
    "count_documents",
    "estimated_document_count",
    "create_index",
    "create_indexes",
    "drop_index",
    "list_indexes",
    "index_information",
    "drop",
)


def _serialized(method: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    @functools.wraps(method)
    def call(*args: t.Any, **kwargs: t.Any) -> t.Any:
        with _LOCK:
            return method(*args, **kwargs)

    return call


def _inflated(document: t.Any) -> t.Any:
    if isinstance(document, RawBSONDocument):
        return bson.decode(document.raw, codec_options=CODEC_OPTIONS)
    return document


def _with_inflated_documents(operation: t.Any) -> t.Any:
    """pymongo sends RawBSONDocument bytes as they are; mongomock needs dicts."""
    document = getattr(operation, "_doc", None)
    if not isinstance(document, RawBSONDocument):
        return operation
    if isinstance(operation, pymongo.InsertOne):
        return pymongo.InsertOne(_inflated(document))
    return pymongo.ReplaceOne(operation._filter, _inflated(document), upsert=operation._upsert)


_mongomock_bulk_write = mongomock_collection.Collection.bulk_write


def _stored_id(id_: t.Any) -> t.Any:
    """The `_id` as mongomock keys its store (documents as hashdicts)."""
    return mongomock_helpers.hashdict(id_) if isinstance(id_, dict) else id_


def _same_id(a: t.Any, b: t.Any) -> bool:
    return type(a) is type(b) and a == b


def _absent_id_upserts_as_inserts(
    collection: mongomock_collection.Collection, operations: list[t.Any]
) -> tuple[list[t.Any], list[tuple[int, t.Any]]]:
    """Replace-upserts by `_id` of documents that do not exist yet, as the inserts they are.

    A server does such an upsert for the price of an insert; mongomock first runs a query,
    then copies and walks the document three times. Returns the operations and the
    (index, _id) of each converted one, for the result's upsert counts.
    """
    converted: list[tuple[int, t.Any]] = []
    seen: set[t.Any] = set()
    result = []
    for index, operation in enumerate(operations):
        if isinstance(operation, pymongo.ReplaceOne) and operation._upsert and list(operation._filter) == ["_id"]:
            id_ = operation._filter["_id"]
            document = operation._doc
            key = None if isinstance(id_, (dict, Regex, re.Pattern)) else collection._store._index_key(_stored_id(id_))
            if (
                key is not None
                and key not in seen
                and ("_id" not in document or _same_id(document["_id"], id_))
                and id_ not in collection._store
            ):
                seen.add(key)
                result.append(pymongo.InsertOne({"_id": id_, **document}))
                converted.append((index, id_))
                continue
            seen.add(key)
        result.append(operation)
    return result, converted


def _bulk_write(
    self: mongomock_collection.Collection, requests: t.Iterable[t.Any], *args: t.Any, **kwargs: t.Any
) -> t.Any:
    operations, converted = _absent_id_upserts_as_inserts(self, [_with_inflated_documents(op) for op in requests])
    result = _mongomock_bulk_write(self, operations, *args, **kwargs)
    if converted:
        counts = result.bulk_api_result
        counts["nInserted"] -= len(converted)
        counts["nUpserted"] += len(converted)
        upserted = counts.get("upserted", []) + [{"index": index, "_id": id_} for index, id_ in converted]
        counts["upserted"] = sorted(upserted, key=lambda entry: entry["index"])
    return result


mongomock_collection.Collection.bulk_write = _bulk_write

_mongomock_insert_many = mongomock_collection.Collection.insert_many


def _insert_many(
    self: mongomock_collection.Collection, documents: t.Iterable[t.Any], *args: t.Any, **kwargs: t.Any
) -> t.Any:
    """pymongo also takes RawBSONDocuments here."""
    return _mongomock_insert_many(self, [_inflated(document) for document in documents], *args, **kwargs)


mongomock_collection.Collection.insert_many = _insert_many

_mongomock_set_operator = mongomock_aggregate._Parser._handle_set_operator


def _set_operator(self: t.Any, operator: str, values: t.Any) -> t.Any:
    """Adds `$setIntersection` (the version ledger's activation uses it)."""
    if operator != "$setIntersection":
        return _mongomock_set_operator(self, operator, values)
    arrays = [self.parse(value) for value in values]
    if any(array is None for array in arrays):
        return None
    first, *others = arrays
    try:
        common = set(first).intersection(*others)
        return [value for value in dict.fromkeys(first) if value in common]
    except TypeError:  # unhashable values (documents): compare one by one, as BSON equality
        return [value for i, value in enumerate(first) if value not in first[:i] and all(value in o for o in others)]


mongomock_aggregate._Parser._handle_set_operator = _set_operator

# A server streams query results in batches; mongomock builds every result list whole (and
# loads the collection to sort it or to $sample it), which made the tap's memory grow with the
# collection on the stand-in only. Cursors without skip/limit now stream, finds sorted by
# `_id` alone hold only the keys (as a server walks its `_id` index), and a leading $sample
# keeps a reservoir of `size` documents.
_ID_ORDER_CHUNK = 500
_mongomock_get_dataset = mongomock_collection.Collection._get_dataset


def _only_about_id(spec: t.Any) -> bool:
    """True when a filter tests nothing but `_id` (the tap's full-table resume filters)."""
    if isinstance(spec, dict):
        return all((key.startswith("$") or key == "_id") and _only_about_id(value) for key, value in spec.items())
    if isinstance(spec, list):
        return all(_only_about_id(item) for item in spec)
    return True


def _ids_with_keys(collection: mongomock_collection.Collection, spec: t.Any) -> t.Iterator[tuple[t.Any, str]]:
    """(`_id`, store key) of the matching documents, reading only `_id` when the filter allows."""
    store = collection._store
    if not _only_about_id(spec):
        for document in collection._iter_documents(spec):
            yield document["_id"], store._index_key(_stored_id(document["_id"]))
        return
    table = store._documents
    rows = table._connection.cursor().execute(f"SELECT {table.ID}, {table.DOC} FROM {table._table_name}")
    for key, raw in rows:
        id_ = RawBSONDocument(raw, codec_options=_RAW_OPTIONS)["_id"]
        if isinstance(id_, RawBSONDocument):
            id_ = bson.decode(id_.raw, codec_options=CODEC_OPTIONS)
        if mongomock_filtering.filter_applies(spec, {"_id": id_}):
            yield id_, key


def _keys_in_id_order(collection: mongomock_collection.Collection, spec: t.Any, descending: bool) -> list[str] | None:
    """The store keys of the matching documents in server `_id` order; None if not orderable."""
    try:
        order = sorted(
            ((type_order.sort_key(id_), key) for id_, key in _ids_with_keys(collection, spec)), reverse=descending
        )
    except TypeError:
        return None
    return [key for _sort_key, key in order]


def _get_dataset(
    self: mongomock_collection.Collection, spec: t.Any, sort: t.Any, fields: t.Any, as_class: t.Any
) -> t.Iterator[t.Any]:
    order = list(sort.items()) if isinstance(sort, dict) else list(sort or [])
    keys = None
    if len(order) == 1 and order[0][0] == "_id" and order[0][1] in (1, -1):
        keys = _keys_in_id_order(self, spec, descending=order[0][1] == -1)
    if keys is None:
        yield from _mongomock_get_dataset(self, spec, sort, fields, as_class)
        return
    for start in range(0, len(keys), _ID_ORDER_CHUNK):
        for document in self._store._get_many(keys[start : start + _ID_ORDER_CHUNK]):
            if mongomock_filtering.filter_applies(spec, document):  # it may have changed meanwhile
                # Decoded afresh from the store: nothing to copy unless projecting.
                yield document if fields is None else self._copy_only_fields(document, fields, as_class)


mongomock_collection.Collection._get_dataset = _get_dataset
_Cursor = mongomock_collection.Cursor
_mongomock_next, _mongomock_rewind = _Cursor.__next__, _Cursor.rewind
_mongomock_alive = _Cursor.alive


def _streams(cursor: t.Any) -> bool:
    return not cursor._skip and not cursor._limit and cursor._results is None


def _next(self: t.Any) -> t.Any:
    if not _streams(self):
        return _mongomock_next(self)
    if getattr(self, "_standin_factory", None) is not self._factory:
        self._standin_stream, self._standin_factory, self._standin_done = iter(self._factory()), self._factory, False
    try:
        document = next(self._standin_stream)
    except StopIteration:
        self._standin_done = True
        raise
    self._emitted += 1
    return document


def _rewind(self: t.Any) -> t.Any:
    self._standin_factory = None
    return _mongomock_rewind(self)


def _alive(self: t.Any) -> bool:
    if _streams(self) and getattr(self, "_standin_factory", None) is self._factory:
        return not self._standin_done
    return _mongomock_alive.fget(self)


_Cursor.__next__, _Cursor.next, _Cursor.rewind, _Cursor.alive = _next, _next, _rewind, property(_alive)

_mongomock_aggregate = mongomock_collection.Collection.aggregate


def _aggregate(self: mongomock_collection.Collection, pipeline: list[t.Any], *args: t.Any, **kwargs: t.Any) -> t.Any:
    """A leading `{$sample: {size}}` draws its documents with a reservoir, not a copy of all."""
    first = pipeline[0] if pipeline else None
    sample = first.get("$sample") if isinstance(first, dict) and len(first) == 1 else None
    if not (isinstance(sample, dict) and set(sample) == {"size"} and isinstance(sample["size"], int)):
        return _mongomock_aggregate(self, pipeline, *args, **kwargs)
    size, reservoir = sample["size"], []
    for seen, document in enumerate(self._iter_documents({})):
        if seen < size:
            reservoir.append(document)
        else:
            slot = _RANDOM.randint(0, seen)
            if slot < size:
                reservoir[slot] = document
    _RANDOM.shuffle(reservoir)  # documents decoded afresh from the store: no copies needed
    return mongomock_aggregate.process_pipeline(reservoir, self.database, pipeline[1:], kwargs.get("session"))


_RANDOM = random.Random()
mongomock_collection.Collection.aggregate = _aggregate

# Tailable-await cursors (oplog reading) set an await time; the stand-in never waits.
if not hasattr(mongomock_collection.Cursor, "max_await_time_ms"):
    mongomock_collection.Cursor.max_await_time_ms = lambda self, _ms: self

for _name in _SERIALIZED_COLLECTION_METHODS:
    setattr(mongomock_collection.Collection, _name, _serialized(getattr(mongomock_collection.Collection, _name)))
for _name in ("drop_collection", "create_collection", "command"):
    setattr(mongomock_database.Database, _name, _serialized(getattr(mongomock_database.Database, _name)))


class _SharedSqlite:
    """The sqlite3 module as litemongo sees it: connections usable from any thread."""

    def __getattr__(self, name: str) -> t.Any:
        return getattr(sqlite3, name)

    @staticmethod
    def connect(*args: t.Any, **kwargs: t.Any) -> sqlite3.Connection:
        return sqlite3.connect(*args, check_same_thread=False, **kwargs)


sqlite_store.sqlite3 = _SharedSqlite()  # type: ignore[assignment]


def path_of(uri: str) -> str:
    """The data directory a ``litemongo://`` URI names."""
    parsed = parse.urlparse(uri)
    return parse.unquote(parsed.netloc + parsed.path)


def connect(uri: str) -> litemongo.MongoClient:
    """A stand-in client over the directory the URI names (created if missing)."""
    # The store already decodes aware UTC datetimes (CODEC_OPTIONS); mongomock need not walk
    # every document again to make them so.
    return litemongo.MongoClient(_ServerStore(path_of(uri)), tz_aware=False)
