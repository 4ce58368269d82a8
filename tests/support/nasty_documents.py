"""Documents that break naive connectors: deep nesting, odd keys, mixed ids, extreme values."""

from __future__ import annotations

import typing as t

from bson import Binary, Decimal128, Int64, MaxKey, MinKey, ObjectId, Timestamp
from bson.datetime_ms import DatetimeMS

from tests.support.bson_samples import every_type_document


def _deep(levels: int) -> dict[str, t.Any]:
    node: dict[str, t.Any] = {"leaf": Int64(levels)}
    for level in range(levels):
        node = {f"l{level}": node, "arr": [node] if level % 10 == 0 else []}
    return node


def nasty_documents() -> list[dict[str, t.Any]]:
    return [
        every_type_document(ObjectId("6630c2f0a1b2c3d4e5f60718")),
        {"_id": 1, "deep": _deep(80)},
        {"_id": Int64(2), "keys": {"a.b": 1, "$c": 2, "": 3, " ": 4, "ключ": 5, "emoji 🎉": 6, "x" * 200: 7}},
        {"_id": 2.5, "arrays": [[[]], [[1, [2, [3, [4]]]]], [{"a": []}, {}]]},
        {"_id": Decimal128("3.5"), "v": Decimal128("-0E-6176")},
        {
            "_id": "string id",
            "extreme": [Int64(-(2**63)), Int64(2**63 - 1), -(2**31), 2**31 - 1, 5e-324, 1.7976931348623157e308],
        },
        {"_id": {"compound": 1, "id": [1, 2]}, "v": 1},
        {"_id": Binary(b"\x00\x01", 0x80), "dates": [DatetimeMS(-(2**62)), DatetimeMS(2**62)]},
        {"_id": Timestamp(1, 1), "v": None},
        {"_id": True, "v": "bool id"},
        {"_id": MinKey(), "v": "min"},
        {"_id": MaxKey(), "v": "max"},
        {"_id": "big", "text": "🎉" * 100_000, "numbers": list(range(10_000))},
        # Documents that only look like Extended JSON wrappers (MongoDB allows these names).
        {
            "_id": "lookalikes",
            "oid": {"$oid": "not hex at all"},
            "long": {"$numberLong": "x"},
            "date": {"$date": "yesterday"},
            "literal": {"$literal": {"$oid": "y"}},
            "nested": [{"$timestamp": {"t": "a", "i": "b"}}],
        },
    ]
