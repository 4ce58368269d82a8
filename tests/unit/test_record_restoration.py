"""Type restoration under any JSON Schema: the union rule of record_restoration.py."""

from __future__ import annotations

import datetime
import decimal
import typing as t

import bson
import pytest
from bson import Decimal128, Int64, ObjectId, Timestamp

from target_mongodb.record_restoration import ValueRestorationError, compile_converter

UTC = datetime.timezone.utc
WHEN = "2024-05-01T10:00:00.000Z"
WHEN_DATE = datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)
DATE_TIME = {"type": "string", "format": "date-time"}


def _restore(field_schema: t.Any, value: t.Any, **root: t.Any) -> t.Any:
    schema = {"type": "object", "properties": {"f": field_schema}, **root}
    return compile_converter(schema)({"f": value})["f"]


def _bson(value: t.Any) -> bytes:
    """Compare as stored: Int64(5) and 5, or a float and a Decimal128, are different values."""
    return bson.encode({"v": value})


@pytest.mark.parametrize(
    ("schema", "value", "expected"),
    [
        # A union whose only string branch is date-time: strings become dates, the rest stay.
        ({"type": ["string", "null", "integer"], "format": "date-time"}, WHEN, WHEN_DATE),
        ({"type": ["string", "null", "integer"], "format": "date-time"}, 5, 5),
        ({"type": ["string", "null", "integer"], "format": "date-time"}, None, None),
        ({"anyOf": [DATE_TIME, {"type": "integer"}, {"type": "null"}]}, WHEN, WHEN_DATE),
        ({"oneOf": [DATE_TIME, {"type": "integer"}]}, 7, 7),
        ({"format": "date-time"}, WHEN, WHEN_DATE),  # no type: the format still applies to strings
        # A plain string branch beside a date-time one: nothing says which was meant.
        ({"anyOf": [{"type": "string"}, DATE_TIME]}, WHEN, WHEN),
        ({"anyOf": [{"type": "string"}, DATE_TIME]}, "not a date", "not a date"),
        ({"anyOf": [{}, DATE_TIME]}, WHEN, WHEN),
        # Two date-time branches agree.
        ({"anyOf": [DATE_TIME, {"type": ["string", "null"], "format": "date-time"}]}, WHEN, WHEN_DATE),
        # x-bson-* formats apply to the JSON types their plain values take.
        ({"type": ["integer", "string", "null"], "format": "x-bson-long"}, 5, Int64(5)),
        ({"type": ["integer", "string", "null"], "format": "x-bson-long"}, "5", "5"),
        (
            {"type": ["string", "integer"], "format": "x-bson-objectid"},
            "6630c2f0a1b2c3d4e5f60718",
            ObjectId("6630c2f0a1b2c3d4e5f60718"),
        ),
        ({"type": ["string", "integer"], "format": "x-bson-objectid"}, 12, 12),
        ({"type": ["number", "string"], "format": "x-bson-decimal"}, "NaN", Decimal128("NaN")),
        ({"type": ["number", "string"], "format": "x-bson-decimal"}, decimal.Decimal("1.50"), Decimal128("1.50")),
        ({"type": ["number", "string"], "format": "x-bson-double"}, "Infinity", float("inf")),
        ({"type": ["object", "null"], "format": "x-bson-timestamp"}, {"t": 5, "i": 1}, Timestamp(5, 1)),
        (
            {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "integer"}]},
            "12345678-1234-5678-1234-567812345678",
            bson.Binary(bytes.fromhex("12345678123456781234567812345678"), 4),
        ),
        # Numbers: exact doubles, else Decimal128; multipleOf changes nothing.
        ({"type": "number", "multipleOf": decimal.Decimal("0.01")}, decimal.Decimal("19.99"), 19.99),
        (
            {"type": ["number", "null"]},
            decimal.Decimal("0.1000000000000000000001"),
            Decimal128("0.1000000000000000000001"),
        ),
        ({"type": ["integer", "string"]}, 2**70, Decimal128(str(2**70))),
    ],
)
def test_union_values_are_restored_by_the_branch_they_fit(schema: t.Any, value: t.Any, expected: t.Any) -> None:
    assert _bson(_restore(schema, value)) == _bson(expected)


@pytest.mark.parametrize(
    "schema",
    [
        True,
        {},
        {"type": ["object", "integer"]},
        {"anyOf": [{"type": "object", "properties": {"a": {"type": "integer"}}}, {"type": "string"}]},
        {"type": "array", "items": True},
        {"type": ["object", "null"], "additionalProperties": True},
    ],
    ids=["true", "empty", "type-list", "anyOf-object", "items-true", "additional-true"],
)
def test_extended_json_wrappers_are_decoded_where_the_schema_admits_an_object(schema: t.Any) -> None:
    value = {"$date": WHEN}
    if isinstance(schema, dict) and schema.get("type") == "array":
        assert _restore(schema, [value, {"$numberLong": "5"}]) == [WHEN_DATE, Int64(5)]
        assert type(_restore(schema, [{"$numberLong": "5"}])[0]) is Int64
    else:
        assert _restore(schema, value) == WHEN_DATE
        assert type(_restore(schema, {"$numberLong": "5"})) is Int64


def test_a_string_that_fits_no_branch_names_its_field() -> None:
    schema = {
        "type": "object",
        "properties": {
            "outer": {"type": "object", "properties": {"f": {"type": ["string", "integer"], "format": "date-time"}}}
        },
    }
    with pytest.raises(ValueRestorationError, match=r"field 'outer.f': .*not a date"):
        compile_converter(schema)({"outer": {"f": "not a date"}})


def test_object_branches_that_disagree_keep_the_plain_value_and_agreeing_ones_restore() -> None:
    schema = {
        "anyOf": [
            {"type": "object", "properties": {"a": DATE_TIME}},
            {"type": "object", "properties": {"b": {"type": "integer"}}},
        ]
    }
    assert _restore(schema, {"a": WHEN}) == {"a": WHEN}  # the second branch leaves "a" a string
    assert _restore(schema, {"b": 1, "c": {"$numberLong": "2"}}) == {"b": 1, "c": Int64(2)}


def test_references_all_of_and_recursion_are_followed() -> None:
    tree = {
        "type": "object",
        "properties": {
            "at": {"$ref": "#/definitions/when"},
            "children": {"type": "array", "items": {"$ref": "#/definitions/node"}},
        },
    }
    root = {
        "type": "object",
        "definitions": {"when": DATE_TIME, "node": tree},
        "$defs": {"stamp": {"allOf": [{"type": "string"}, {"format": "date-time"}]}},
        "properties": {
            "tree": {"$ref": "#/definitions/node"},
            "stamp": {"$ref": "#/$defs/stamp"},
            "remote": {"$ref": "https://example.com/s.json"},
        },
    }
    restored = compile_converter(root)(
        {
            "tree": {"at": WHEN, "children": [{"at": WHEN, "children": []}]},
            "stamp": WHEN,
            "remote": {"$oid": "6630c2f0a1b2c3d4e5f60718"},
        }
    )
    assert restored == {
        "tree": {"at": WHEN_DATE, "children": [{"at": WHEN_DATE, "children": []}]},
        "stamp": WHEN_DATE,
        "remote": ObjectId("6630c2f0a1b2c3d4e5f60718"),
    }


def test_additional_pattern_and_positional_schemas_apply() -> None:
    schema = {
        "type": "object",
        "properties": {
            "by_day": {"type": "object", "additionalProperties": DATE_TIME},
            "mixed": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "patternProperties": {"^at_": DATE_TIME},
            },
            "pair": {
                "type": "array",
                "prefixItems": [DATE_TIME, {"type": "integer", "format": "x-bson-long"}],
                "items": {"type": "string"},
            },
            "tuple": {"type": "array", "items": [{"type": "integer", "format": "x-bson-long"}]},
        },
    }
    restored = compile_converter(schema)(
        {
            "by_day": {"mon": WHEN, "tue": None},
            "mixed": {"n": 1, "at_x": WHEN, "other": WHEN},
            "pair": [WHEN, 5, WHEN],
            "tuple": [5, 6],
        }
    )
    assert restored["by_day"] == {"mon": WHEN_DATE, "tue": None}
    assert restored["mixed"] == {"n": 1, "at_x": WHEN_DATE, "other": WHEN}
    assert _bson(restored["pair"]) == _bson([WHEN_DATE, Int64(5), WHEN])
    assert _bson(restored["tuple"]) == _bson([Int64(5), 6])


def test_false_schema_and_huge_unions_never_fail() -> None:
    huge = {"allOf": [{"anyOf": [{"type": "string", "format": "date-time"}] * 9}] * 3}  # 729 combinations
    assert _restore(huge, WHEN) == WHEN  # too many branches: treated as open
    assert _restore(False, {"$numberLong": "1"}) == Int64(1)


def test_a_record_is_a_document_even_when_its_keys_are_a_wrappers() -> None:
    from target_mongodb.record_restoration import compile_record_converter

    open_schema = {"type": "object", "properties": {}}
    typed = {"type": "object", "properties": {"$id": {"type": "string", "format": "x-bson-objectid"}}}
    record = {"$ref": "orders", "$id": "6630c2f0a1b2c3d4e5f60718"}
    assert compile_record_converter(open_schema)(dict(record)) == record
    assert compile_record_converter(typed)(dict(record)) == {
        "$ref": "orders",
        "$id": ObjectId("6630c2f0a1b2c3d4e5f60718"),
    }
    assert compile_record_converter({"anyOf": [open_schema, typed]})({"$date": WHEN}) == {"$date": WHEN}
