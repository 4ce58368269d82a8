"""Documents holding every BSON type and the awkward corners of each."""

from __future__ import annotations

import datetime
import os
import re
import typing as t
import uuid

from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS

UTC = datetime.timezone.utc


def every_type_document(_id: object = None) -> dict[str, object]:
    """One value of every BSON type the codec handles, including the edge cases."""
    return {
        "_id": ObjectId("6630c2f0a1b2c3d4e5f60718") if _id is None else _id,
        "double": 3.25,
        "double_integral": 2.0,
        "double_negative_zero": -0.0,
        "double_nan": float("nan"),
        "double_inf": float("inf"),
        "double_neg_inf": float("-inf"),
        "string": "héllo \u2603 \x00 end",
        "empty_string": "",
        "int32": -(2**31),
        "int64": Int64(2**62),
        "int64_small": Int64(7),
        "decimal": Decimal128("1234567890.123456789012345678901234"),
        "decimal_negative_zero": Decimal128("-0"),
        "decimal_nan": Decimal128("NaN"),
        "decimal_inf": Decimal128("Infinity"),
        "decimal_neg_inf": Decimal128("-Infinity"),
        "decimal_exponent": Decimal128("1E+6144"),
        "bool_true": True,
        "bool_false": False,
        "null": None,
        "date": datetime.datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC),
        "date_epoch": datetime.datetime(1970, 1, 1, tzinfo=UTC),
        "date_before_1970": datetime.datetime(1969, 7, 20, 20, 17, 40, tzinfo=UTC),
        "date_year_1": datetime.datetime(1, 1, 1, tzinfo=UTC),
        "date_before_year_1": DatetimeMS(-62_198_755_200_000),
        "date_after_9999": DatetimeMS(253_402_300_800_000),
        "object_id": ObjectId("000000000000000000000000"),
        "binary_generic": b"\x00\xff\x10",
        "binary_function": Binary(b"\x01\x02", 1),
        "binary_old_uuid": Binary(b"\x01" * 16, 3),
        "binary_uuid": Binary(uuid.UUID("12345678-1234-5678-1234-567812345678").bytes, 4),
        "binary_md5": Binary(b"\x02" * 16, 5),
        "binary_encrypted": Binary(b"\x03\x04", 6),
        "binary_column": Binary(b"\x05", 7),
        "binary_sensitive": Binary(b"\x06", 8),
        "binary_vector": Binary(b"\x03\x00\x01\x02", 9),
        "binary_user": Binary(b"\x07\x08", 0x80),
        "empty_binary": b"",
        "timestamp": Timestamp(1_700_000_000, 42),
        "timestamp_zero_inc": Timestamp(5, 0),
        "regex": Regex("^a.*b$", "imsux"),
        "regex_python": re.compile(r"\d+", re.IGNORECASE | re.MULTILINE),
        "code": Code("function() { return 1; }"),
        "code_with_scope": Code("function() { return x; }", {"x": Int64(1), "y": [1, "a"]}),
        "dbref": DBRef("orders", ObjectId("6630c2f0a1b2c3d4e5f60719")),
        "dbref_db": DBRef("orders", 5, "shop", extra_field="kept"),
        "min_key": MinKey(),
        "max_key": MaxKey(),
        "nested": {"a": {"b": {"c": [1, {"d": Decimal128("0.1")}]}}},
        "array_mixed": [1, "two", 3.0, None, [Int64(4), [5]], {"six": 6}],
        "empty_array": [],
        "empty_object": {},
        "with.dot": "dotted key",
        "sub": {"$dollar": "dollar-prefixed nested key", "a.b": 1},
        "": "empty key",
        "unicode_ключ": "value",
    }


# The test server (SecantusDB) stores dates of years 1-9999 only, a documented limit of it; mongod
# stores any 64-bit millisecond count. Dates beyond that range are covered by the codec's unit tests
# (tests/unit/test_bson_encoding.py, test_properties.py) and, with MONGODB_URI set, by the
# integration tests against that server.
def storable_on_test_server(document: dict[str, object]) -> dict[str, object]:
    """The document without dates the test server cannot store, unless MONGODB_URI names another."""
    if os.environ.get("MONGODB_URI"):
        return document

    def keep(value: object) -> bool:
        return not (isinstance(value, DatetimeMS) and not _DATETIME_RANGE[0] <= int(value) <= _DATETIME_RANGE[1])

    def strip(value: object) -> object:
        if isinstance(value, dict):
            return {key: strip(item) for key, item in value.items() if keep(item)}
        if isinstance(value, list):
            return [strip(item) for item in value if keep(item)]
        return value

    return t.cast("dict[str, object]", strip(document))


# Milliseconds of 0001-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z.
_DATETIME_RANGE = (-62_135_596_800_000, 253_402_300_799_999)
