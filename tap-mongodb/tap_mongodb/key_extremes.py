"""The lowest and highest type brackets a replication key holds, read from its two ends.

An INCREMENTAL query must take every key sorting after the bookmark, and a `>=` comparison
only matches the bookmark's own type bracket: the type-aware query adds one `$type` clause
per later bracket, an `$or` that a server answers far more slowly than one range, and a
count of the documents the bookmark can no longer reach costs a scan of its own. Two
sorted probes of one key each (served by the key's index, as the query itself is) say
which brackets the collection holds at all: when nothing sorts after the bookmark's
bracket, the query is one range; when nothing sorts before it, the count is not needed.
A key of a later type written after the probes is read by the next run (whose probes see
it), as is any document written behind a sorted scan.

The server sorts an array by its elements (the lowest first when ascending, the highest
when descending), the same order in which `>=` and `$type` match array elements; a probe
that meets an array or a sub-document, or a path through an array, answers "unknown",
and the caller keeps the full type-aware query.
"""

from __future__ import annotations

import typing as t

import pymongo

from mongodb_common.bson_codec.type_order import ARRAY, OBJECT, bracket_of

if t.TYPE_CHECKING:
    from pymongo.collection import Collection


def _bracket_at(document: t.Mapping[str, t.Any] | None, path: str) -> int | None:
    """The sort bracket of the value at `path` (null when missing); None when it is not a plain scalar."""
    if document is None:
        return None
    value: t.Any = document
    for part in path.split("."):
        if not isinstance(value, t.Mapping):
            return None  # a path through an array or a scalar: not one value
        if part not in value:
            value = None
            break
        value = value[part]
    bracket = bracket_of(value)
    return None if bracket in {ARRAY, OBJECT} else bracket


def _end(collection: Collection, key: str, direction: int) -> tuple[bool, int | None]:
    """Whether the collection has documents, and the bracket at that end of the key's order."""
    projection = {key: 1, "_id": 0}
    document = collection.find_one({}, projection, sort=[(key, direction)])
    return document is not None, _bracket_at(document, key)


def key_brackets(collection: Collection, key: str) -> tuple[int | None, int | None]:
    """The lowest and highest sort brackets of `key` in the collection (None: unknown).

    An empty collection answers its brackets as unknown: nothing to narrow.
    """
    found, lowest = _end(collection, key, pymongo.ASCENDING)
    if not found:
        return None, None
    _, highest = _end(collection, key, pymongo.DESCENDING)
    return lowest, highest
