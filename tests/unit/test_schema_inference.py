"""Inferred schemas describe exactly the records the tap emits."""

from __future__ import annotations

import datetime

import hypothesis
import jsonschema
import orjson
from bson import Decimal128, Int64, ObjectId, Timestamp
from hypothesis import strategies as st

from mongodb_common.bson_codec import encode_extended_json, encode_plain
from mongodb_common.bson_codec.type_names import bson_type_name
from tap_mongodb.schema_inference import _PLAIN_BY_TYPE, _plain_scalar, infer_schema
from tap_mongodb.singer_writer import serialize
from tests.support.bson_samples import UTC, every_type_document


def _as_emitted(value: object) -> object:
    return orjson.loads(serialize(value))


def test_plain_schema_types_and_formats() -> None:
    schema = infer_schema(
        [
            {"_id": ObjectId(), "n": 1, "when": datetime.datetime(2024, 1, 1, tzinfo=UTC), "ts": Timestamp(1, 1)},
            {"_id": ObjectId(), "n": 2.5, "when": datetime.datetime(2024, 1, 2, tzinfo=UTC), "big": Int64(1)},
        ],
        "plain",
    )
    props = schema["properties"]
    assert props["_id"] == {"type": "string", "format": "x-bson-objectid"}
    assert props["n"]["type"] == ["number", "null"]
    assert "format" not in props["n"]  # int and double: no single type to restore
    assert props["when"] == {"type": ["string", "null"], "format": "date-time"}
    assert props["ts"]["properties"] == {"t": {"type": ["integer", "null"]}, "i": {"type": ["integer", "null"]}}
    assert props["big"] == {"type": ["integer", "null"], "format": "x-bson-long"}
    assert props["ts"]["format"] == "x-bson-timestamp"
    assert schema["required"] == ["_id"]


def test_mixed_types_become_unions_and_lose_a_format_they_do_not_all_share() -> None:
    schema = infer_schema(
        [{"_id": 1, "v": "text"}, {"_id": "a", "v": datetime.datetime(2024, 1, 1, tzinfo=UTC)}, {"_id": 2.5, "v": 3}],
        "plain",
    )
    assert schema["properties"]["_id"]["type"] == ["integer", "string"] or schema["properties"]["_id"]["type"] == [
        "number",
        "string",
    ]
    assert schema["properties"]["v"] == {"type": ["integer", "string", "null"]}


def test_nested_objects_and_arrays_are_described_for_flattening() -> None:
    schema = infer_schema([{"_id": 1, "a": {"b": {"c": [{"d": 1}, {"e": "x"}]}}, "empty": []}], "plain")
    c = schema["properties"]["a"]["properties"]["b"]["properties"]["c"]
    assert c["type"] == ["array", "null"]
    assert set(c["items"]["properties"]) == {"d", "e"}
    assert schema["properties"]["empty"] == {"type": ["array", "null"], "items": {}}


def test_field_only_ever_null_allows_anything() -> None:
    schema = infer_schema([{"_id": 1, "x": None}], "plain")
    assert schema["properties"]["x"] == {"type": ["array", "boolean", "integer", "number", "object", "string", "null"]}


def test_schema_validates_the_plain_record_of_every_bson_type() -> None:
    document = every_type_document()
    schema = infer_schema([document], "plain")
    jsonschema.validate(_as_emitted(encode_plain(document)), schema)


def test_schema_validates_the_extended_json_record_of_every_bson_type() -> None:
    document = every_type_document()
    schema = infer_schema([document], "extended_json")
    assert schema["properties"]["_id"]["properties"] == {"$oid": {"type": ["string", "null"]}}
    assert schema["properties"]["int64"]["properties"] == {"$numberLong": {"type": ["string", "null"]}}
    jsonschema.validate(_as_emitted(encode_extended_json(document)), schema)


def test_decimal_beyond_double_range_is_a_string_in_plain_schema() -> None:
    schema = infer_schema([{"_id": 1, "d": Decimal128("1E+400"), "e": Decimal128("1.5")}], "plain")
    assert schema["properties"]["d"]["type"] == ["string", "null"]
    assert schema["properties"]["e"]["type"] == ["number", "null"]


def test_empty_collection_gets_an_objectid_shaped_id() -> None:
    assert infer_schema([], "plain")["properties"] == {"_id": {"type": "string", "format": "x-bson-objectid"}}
    assert infer_schema([], "extended_json")["properties"]["_id"]["properties"] == {"$oid": {"type": "string"}}


def test_binary_annotation_carries_its_subtype_only_when_single() -> None:
    from bson import Binary

    schema = infer_schema(
        [{"_id": 1, "b": Binary(b"x", 5), "mixed": b"a"}, {"_id": 2, "b": Binary(b"y", 5), "mixed": Binary(b"z", 6)}],
        "plain",
    )
    assert schema["properties"]["b"]["format"] == "x-bson-bindata-5"
    assert schema["properties"]["mixed"]["format"] == "x-bson-bindata"


def test_extended_json_schemas_carry_no_annotations() -> None:
    assert "x-bson-" not in str(infer_schema([every_type_document()], "extended_json"))


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(
    st.one_of(
        st.text(),
        st.booleans(),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(Int64),
        st.binary(min_size=12, max_size=12).map(ObjectId),
        st.datetimes(timezones=st.one_of(st.none(), st.just(UTC))),
    )
)
def test_a_type_noted_by_lookup_is_noted_as_the_type_walk_would_for_every_value(value: object) -> None:
    """The lookup table assumes these types' plain encoding does not depend on the value."""
    assert _PLAIN_BY_TYPE[type(value)] == (bson_type_name(value), *_plain_scalar(value))
