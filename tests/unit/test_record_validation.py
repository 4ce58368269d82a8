"""The target's record validation on schemas too deep to compile or meta-check.

For documents nested 80 deep with arrays of themselves a tap declares a schema that
fastjsonschema took over a minute to compile (and then failed on), and jsonschema as long to
check against the meta-schema, for every SCHEMA message. Such a schema is interpreted
instead, and its records must still be validated.
"""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord

from target_mongodb.record_validation import FastRecordValidator


def _nested_schema(levels: int) -> dict[str, t.Any]:
    node: dict[str, t.Any] = {"type": "object", "properties": {"leaf": {"type": "integer"}}}
    for _ in range(levels):
        node = {"type": "object", "properties": {"next": node, "copies": {"type": "array", "items": {}}}}
    return node


def _nested_record(levels: int, leaf: t.Any) -> dict[str, t.Any]:
    record: dict[str, t.Any] = {"leaf": leaf}
    for _ in range(levels):
        record = {"next": record, "copies": []}
    return record


def test_a_schema_too_large_to_compile_still_validates_its_records() -> None:
    validator = FastRecordValidator(_nested_schema(90))  # MongoDB allows 100 levels
    assert not validator.compiled
    validator.validate(_nested_record(90, 1))
    with pytest.raises(InvalidRecord):
        validator.validate(_nested_record(90, "not an integer"))


def test_a_small_schema_is_compiled_and_still_checked_against_the_meta_schema() -> None:
    validator = FastRecordValidator(_nested_schema(30))
    assert validator.compiled
    with pytest.raises(InvalidRecord):
        validator.validate(_nested_record(30, "not an integer"))
    with pytest.raises(InvalidJSONSchema):
        FastRecordValidator({"type": "object", "properties": {"a": {"type": "no such type"}}})
