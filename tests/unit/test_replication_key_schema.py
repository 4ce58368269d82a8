"""Finding a replication key's declaration along its dotted path."""

from __future__ import annotations

from tap_mongodb.replication_key_schema import is_datetime_key, schema_at_path

DATE = {"type": ["string", "null"], "format": "date-time"}
SCHEMA = {
    "type": "object",
    "properties": {
        "_id": {"type": "integer"},
        "updated_at": DATE,
        "meta": {
            "anyOf": [
                {"type": "string"},
                {"type": "object", "properties": {"at": {"anyOf": [{"type": "integer"}, DATE]}}},
            ]
        },
    },
}


def test_top_level_nested_and_union_branches_are_found() -> None:
    assert schema_at_path(SCHEMA, "updated_at") == DATE
    assert schema_at_path(SCHEMA, "meta.at") == {"anyOf": [{"type": "integer"}, DATE]}
    assert is_datetime_key(SCHEMA, "updated_at")
    assert is_datetime_key(SCHEMA, "meta.at")
    assert not is_datetime_key(SCHEMA, "_id")


def test_undeclared_keys_are_none_not_errors() -> None:
    assert schema_at_path(SCHEMA, "missing") is None
    assert schema_at_path(SCHEMA, "meta.missing") is None
    assert schema_at_path(SCHEMA, "_id.deeper") is None
    assert not is_datetime_key(SCHEMA, "meta.missing")
    assert schema_at_path({}, "updated_at") is None
