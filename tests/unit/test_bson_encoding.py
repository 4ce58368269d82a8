"""Every row of docs/bson-types.md: what each BSON type becomes, in both encodings."""

from __future__ import annotations

import datetime
import decimal
import math
import re
import uuid

import orjson
import pytest
from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp, json_util
from bson.datetime_ms import DatetimeMS

from mongodb_common.bson_codec import (
    UnsupportedBsonValueError,
    decode_value,
    encode_extended_json,
    encode_plain,
    get_encoder,
)
from tap_mongodb.singer_writer import serialize
from tests.support.bson_samples import UTC, every_type_document

OID = ObjectId("6630c2f0a1b2c3d4e5f60718")
UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")

PLAIN_ROWS = [
    (3.25, 3.25),
    (float("inf"), "Infinity"),
    (float("-inf"), "-Infinity"),
    ("text", "text"),
    (7, 7),
    (Int64(2**62), 2**62),
    (True, True),
    (None, None),
    (OID, "6630c2f0a1b2c3d4e5f60718"),
    (datetime.datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC), "2024-02-29T23:59:59.999Z"),
    (datetime.datetime(2024, 1, 1, 12), "2024-01-01T12:00:00.000Z"),  # naive means UTC
    (datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), "1969-12-31T23:59:59.000Z"),
    (DatetimeMS(-62_198_755_200_000), "-000001-01-01T00:00:00.000Z"),
    (DatetimeMS(253_402_300_800_000), "+010000-01-01T00:00:00.000Z"),
    (Decimal128("NaN"), "NaN"),
    (Decimal128("Infinity"), "Infinity"),
    (Decimal128("-Infinity"), "-Infinity"),
    (
        Decimal128("1E+6144"),
        "1.000000000000000000000000000000000E+6144",
    ),  # beyond any double: text, or readers overflow
    (Decimal128("-1.5E-400"), "-1.5E-400"),
    (b"\x00\xff", "AP8="),
    (Binary(b"\x01\x02", 5), "AQI="),
    (Binary(UUID.bytes, 4), "12345678-1234-5678-1234-567812345678"),
    (UUID, "12345678-1234-5678-1234-567812345678"),
    (Timestamp(1_700_000_000, 42), {"t": 1_700_000_000, "i": 42}),
    (Regex("^a.*", "im"), "/^a.*/im"),
    (re.compile("x", re.IGNORECASE), "/x/iu"),  # str patterns carry re.UNICODE, as pymongo stores them
    (Code("return 1"), "return 1"),
    (Code("return x", {"x": Int64(1)}), {"$code": "return x", "$scope": {"x": 1}}),
    (DBRef("orders", OID, "shop"), {"$ref": "orders", "$id": "6630c2f0a1b2c3d4e5f60718", "$db": "shop"}),
    (MinKey(), "MinKey"),
    (MaxKey(), "MaxKey"),
    ([1, [2, {"a": OID}]], [1, [2, {"a": "6630c2f0a1b2c3d4e5f60718"}]]),
    ({"a.b": 1, "$c": {"d": None}}, {"a.b": 1, "$c": {"d": None}}),
]


@pytest.mark.parametrize(("value", "expected"), PLAIN_ROWS, ids=[repr(row[0])[:40] for row in PLAIN_ROWS])
def test_plain_encoding_of_each_type(value: object, expected: object) -> None:
    assert encode_plain(value) == expected


def test_plain_nan_double_becomes_the_string_nan() -> None:
    assert encode_plain(float("nan")) == "NaN"


def test_plain_decimal128_keeps_every_digit_through_the_writer() -> None:
    encoded = encode_plain({"d": Decimal128("1234567890.123456789012345678901234")})
    assert isinstance(encoded["d"], decimal.Decimal)
    assert serialize(encoded) == b'{"d":1234567890.123456789012345678901234}\n'


def test_plain_output_is_valid_json_for_every_sample_field() -> None:
    line = serialize(encode_plain(every_type_document()))
    parsed = orjson.loads(line)
    assert parsed["date_after_9999"] == "+010000-01-01T00:00:00.000Z"
    assert parsed["double_nan"] == "NaN"
    assert parsed["with.dot"] == "dotted key"
    assert parsed["sub"]["$dollar"] == "dollar-prefixed nested key"


EXTENDED_ROWS = [
    (3.25, 3.25),
    (float("inf"), {"$numberDouble": "Infinity"}),
    (7, 7),
    (Int64(7), {"$numberLong": "7"}),
    (OID, {"$oid": "6630c2f0a1b2c3d4e5f60718"}),
    (datetime.datetime(2024, 2, 29, 23, 59, 59, 999000, tzinfo=UTC), {"$date": "2024-02-29T23:59:59.999Z"}),
    (datetime.datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC), {"$date": {"$numberLong": "-1000"}}),
    (DatetimeMS(253_402_300_800_000), {"$date": {"$numberLong": "253402300800000"}}),
    (Decimal128("0.10"), {"$numberDecimal": "0.10"}),
    (Decimal128("NaN"), {"$numberDecimal": "NaN"}),
    (b"\x00\xff", {"$binary": {"base64": "AP8=", "subType": "00"}}),
    (Binary(b"\x01", 0x80), {"$binary": {"base64": "AQ==", "subType": "80"}}),
    (Binary(UUID.bytes, 4), {"$binary": {"base64": "EjRWeBI0VngSNFZ4EjRWeA==", "subType": "04"}}),
    (Timestamp(5, 1), {"$timestamp": {"t": 5, "i": 1}}),
    (Regex("^a", "mi"), {"$regularExpression": {"pattern": "^a", "options": "im"}}),
    (Code("f()"), {"$code": "f()"}),
    (Code("f()", {"a": 1}), {"$code": "f()", "$scope": {"a": 1}}),
    (DBRef("c", 1), {"$ref": "c", "$id": 1}),
    (MinKey(), {"$minKey": 1}),
    (MaxKey(), {"$maxKey": 1}),
]


@pytest.mark.parametrize(("value", "expected"), EXTENDED_ROWS, ids=[repr(row[0])[:40] for row in EXTENDED_ROWS])
def test_extended_json_encoding_of_each_type(value: object, expected: object) -> None:
    assert encode_extended_json(value) == expected


def _same_bson(left: object, right: object) -> bool:  # noqa: PLR0911 - one rule per type
    """Equal in type and value, NaN included (NaN != NaN in Python)."""
    if isinstance(left, dict) and isinstance(right, dict):
        return list(left) == list(right) and all(_same_bson(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(_same_bson(a, b) for a, b in zip(left, right, strict=False))
    if type(left) is not type(right):
        return False
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)  # type: ignore[arg-type]
    if isinstance(left, float):
        return left == right and math.copysign(1, left) == math.copysign(1, right)  # type: ignore[arg-type]
    if isinstance(left, Decimal128):
        return str(left) == str(right)
    if isinstance(left, (Regex, re.Pattern)):
        return left.pattern == right.pattern and left.flags == right.flags  # type: ignore[union-attr]
    if isinstance(left, Code):
        return str(left) == str(right) and _same_bson(left.scope, right.scope)  # type: ignore[attr-defined]
    if isinstance(left, DBRef):
        return _same_bson(left.as_doc(), right.as_doc())  # type: ignore[attr-defined]
    return left == right


def _normalized(document: object) -> object:
    """The document as it reads back from MongoDB (Python regex objects come back as Regex)."""
    import bson

    from tests.support.deployment import CODEC_OPTIONS

    return bson.decode(bson.encode(document), codec_options=CODEC_OPTIONS)


def test_extended_json_round_trips_every_type_through_our_decoder() -> None:
    source = _normalized(every_type_document())
    wire = serialize(encode_extended_json(source))
    from singer_sdk.singerlib.json import deserialize_json  # the target's own reader

    restored = decode_value(deserialize_json(wire.decode()))
    assert _same_bson(source, restored)


def test_extended_json_is_readable_by_pymongo_json_util() -> None:
    source = _normalized(every_type_document())
    wire = serialize(encode_extended_json(source)).decode()
    restored = json_util.loads(
        wire,
        json_options=json_util.JSONOptions(
            tz_aware=True, tzinfo=UTC, datetime_conversion=json_util.DatetimeConversion.DATETIME_AUTO
        ),
    )
    # json_util decodes Binary subtype 0 as bytes and Int64 from $numberLong, as we do.
    for key in ("int64", "int64_small", "decimal", "binary_uuid", "timestamp", "min_key", "dbref_db"):
        assert _same_bson(source[key], restored[key]), key


def test_unknown_python_type_is_a_clear_error() -> None:
    with pytest.raises(UnsupportedBsonValueError, match="set"):
        encode_plain({"x": {1, 2}})


def test_get_encoder_rejects_unknown_encoding_by_name() -> None:
    with pytest.raises(ValueError, match="bson_encoding"):
        get_encoder("bsonish")


@pytest.mark.parametrize(
    "lookalike",
    [
        {"$oid": "not hex"},
        {"$numberLong": "x"},
        {"$date": 5},
        {"$literal": {"a": 1}},
        {"$ref": "c", "$id": 1, "extra": 2},
    ],
)
def test_documents_that_look_like_wrappers_are_escaped_and_come_back_as_documents(lookalike: dict) -> None:
    for encode in (encode_plain, encode_extended_json):
        encoded = encode({"v": lookalike})
        assert encoded["v"] == {"$literal": encode(lookalike)["$literal"]}
        assert decode_value(encoded) == {"v": lookalike}


def test_ordinary_dollar_keys_and_dbrefs_are_not_escaped() -> None:
    assert encode_plain({"v": {"$set": 1}}) == {"v": {"$set": 1}}
    assert encode_extended_json(DBRef("c", 1)) == {"$ref": "c", "$id": 1}
