"""MongoDB's cross-type sort order, used to resume scans over mixed-type keys."""

from __future__ import annotations

import datetime
import random

from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp

from mongodb_common.bson_codec.type_order import bracket_of, compare, sort_key, type_clauses

UTC = datetime.timezone.utc

# In the order a MongoDB server sorts them (documented comparison order).
ORDERED = [
    MinKey(),
    None,
    float("nan"),
    -5,
    Decimal128("-1.5"),
    0.5,
    Int64(1),
    Decimal128("2"),
    "",
    "a",
    "b",
    {"a": 1},
    [1],
    b"z",
    Binary(b"ab", 0),
    Binary(b"ab", 5),
    ObjectId("000000000000000000000001"),
    ObjectId("ffffffffffffffffffffffff"),
    False,
    True,
    datetime.datetime(1969, 1, 1, tzinfo=UTC),
    datetime.datetime(2024, 1, 1, tzinfo=UTC),
    Timestamp(1, 2),
    Timestamp(2, 1),
    Regex("a"),
    Code("x"),
    MaxKey(),
]


def test_sort_key_orders_values_as_the_server_does() -> None:
    shuffled = ORDERED[:]
    random.Random(7).shuffle(shuffled)
    assert [repr(v) for v in sorted(shuffled, key=sort_key)] == [repr(v) for v in ORDERED]


def test_numbers_of_different_types_compare_by_value() -> None:
    assert compare(Int64(2), 2.0) == 0
    assert compare(Decimal128("2.5"), 2) == 1
    assert compare(1, Decimal128("1.0000000000000000000000000000001")) == -1


def test_code_is_not_a_string_and_bool_is_not_a_number() -> None:
    assert bracket_of(Code("x")) != bracket_of("x")
    assert bracket_of(True) != bracket_of(1)


def test_type_clauses_use_one_type_alias_per_clause() -> None:
    assert type_clauses("k", [2, 3]) == [
        {"k": {"$type": "number"}},
        {"k": {"$type": "string"}},
        {"k": {"$type": "symbol"}},
    ]
