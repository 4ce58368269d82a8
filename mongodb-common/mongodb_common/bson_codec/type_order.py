"""MongoDB's cross-type comparison order, for resuming scans over mixed-type keys.

A query such as ``{"_id": {"$gt": 5}}`` only matches values of the same *type bracket*
(numbers), never strings or ObjectIds, although those sort after every number. A resumable
scan therefore has to ask for "greater within my bracket, or any value of a later bracket".
This module knows the bracket order and compares values the way the server sorts them.
"""

from __future__ import annotations

import datetime
import decimal
import re
import typing as t
import uuid

from bson import Binary, Code, DBRef, Decimal128, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS

from mongodb_common.bson_codec.datetimes import datetime_to_ms
from mongodb_common.bson_codec.decimal128 import decimal_from

# Brackets in server sort order, each with the `$type` aliases that select it.
TYPE_BRACKETS: tuple[tuple[str, ...], ...] = (
    ("minKey",),
    ("null", "undefined"),
    ("number",),
    ("string", "symbol"),
    ("object",),
    ("array",),
    ("binData",),
    ("objectId",),
    ("bool",),
    ("date",),
    ("timestamp",),
    ("regex",),
    ("javascript", "javascriptWithScope"),
    ("maxKey",),
)

MIN_KEY, NULL, NUMBER, STRING, OBJECT, ARRAY, BINARY, OBJECT_ID, BOOLEAN, DATE = range(10)
TIMESTAMP, REGEX, CODE, MAX_KEY = range(10, 14)


# Checked in order: bool before the numbers (bool is an int), Code before strings (Code is a str).
_BRACKET_BY_TYPE: tuple[tuple[tuple[type, ...], int], ...] = (
    ((type(None),), NULL),
    ((bool,), BOOLEAN),
    ((int, float, Decimal128, decimal.Decimal), NUMBER),
    ((Code,), CODE),
    ((str,), STRING),
    ((ObjectId,), OBJECT_ID),
    ((datetime.datetime, DatetimeMS), DATE),
    ((dict, DBRef), OBJECT),
    ((list, tuple), ARRAY),
    ((bytes, Binary, uuid.UUID), BINARY),
    ((Timestamp,), TIMESTAMP),
    ((Regex, re.Pattern), REGEX),
    ((MinKey,), MIN_KEY),
    ((MaxKey,), MAX_KEY),
)


def bracket_of(value: t.Any) -> int:
    """The sort bracket of a decoded BSON value (a missing field sorts as null)."""
    for types, bracket in _BRACKET_BY_TYPE:
        if isinstance(value, types):
            return bracket
    msg = f"no BSON sort order known for Python type {type(value).__name__}"
    raise TypeError(msg)


def type_clauses(field: str, brackets: t.Iterable[int]) -> list[dict[str, t.Any]]:
    """`$or` clauses matching `field` values of the given brackets.

    One `$type` per clause (not a `$type` list) keeps the query within what every server
    version and MongoDB-compatible server understands.
    """
    return [{field: {"$type": alias}} for bracket in brackets for alias in TYPE_BRACKETS[bracket]]


def brackets_after(bracket: int) -> range:
    return range(bracket + 1, len(TYPE_BRACKETS))


def brackets_before(bracket: int) -> range:
    return range(bracket)


def _number_key(value: t.Any) -> tuple[int, t.Any]:
    if isinstance(value, Decimal128):
        value = decimal_from(value)
    if isinstance(value, decimal.Decimal):
        return (0, 0) if value.is_nan() else (1, value)
    if isinstance(value, float) and value != value:  # noqa: PLR0124 - NaN test
        return (0, 0)
    return (1, value)


def _binary_key(value: t.Any) -> tuple[int, int, bytes]:
    if isinstance(value, uuid.UUID):
        return (16, 4, value.bytes)
    subtype = value.subtype if isinstance(value, Binary) else 0
    return (len(value), subtype, bytes(value))


def sort_key(value: t.Any) -> tuple[t.Any, ...]:  # noqa: PLR0911 - one branch per bracket
    """A Python sort key that orders values as a MongoDB ``sort`` does."""
    bracket = bracket_of(value)
    if bracket == NUMBER:
        return (bracket, _number_key(value))
    if bracket in {STRING, BOOLEAN}:
        return (bracket, value)
    if bracket == OBJECT_ID:
        return (bracket, value.binary)
    if bracket == DATE:
        ms = int(value) if isinstance(value, DatetimeMS) else datetime_to_ms(value)
        return (bracket, ms)
    if bracket == TIMESTAMP:
        return (bracket, (value.time, value.inc))
    if bracket == BINARY:
        return (bracket, _binary_key(value))
    if bracket == OBJECT:
        items = value.as_doc().items() if isinstance(value, DBRef) else value.items()
        # The server compares field by field: the value's type, then the name, then the value.
        keyed = ((sort_key(item), key) for key, item in items)
        return (bracket, tuple((item_key[0], key, item_key) for item_key, key in keyed))
    if bracket == ARRAY:
        return (bracket, tuple(sort_key(item) for item in value))
    if bracket in {REGEX, CODE}:
        return (bracket, str(value))
    return (bracket,)


def compare(left: t.Any, right: t.Any) -> int:
    """-1, 0 or 1 as MongoDB would order `left` against `right`."""
    left_key, right_key = sort_key(left), sort_key(right)
    return (left_key > right_key) - (left_key < right_key)
