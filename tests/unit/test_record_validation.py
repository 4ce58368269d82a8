"""The target's record validation on schemas too large to compile or meta-check.

A tap declares, for documents nested 80 deep with arrays of themselves, a schema of tens of
thousands of subschemas; compiling it (fastjsonschema) or checking it against the
meta-schema (jsonschema) took over a minute a SCHEMA message. Such a schema is interpreted
instead, and its records must still be validated.
"""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord

from target_mongodb.record_validation import FastRecordValidator


def _nested_schema(levels: int) -> dict[str, t.Any]:
    """A schema whose size doubles every level: each level is a property and an array of it."""
    node: dict[str, t.Any] = {"type": "object", "properties": {"leaf": {"type": "integer"}}}
    for _ in range(levels):
        node = {"type": "object", "properties": {"next": node, "copies": {"type": "array", "items": node}}}
    return node


def _nested_record(levels: int, leaf: t.Any) -> dict[str, t.Any]:
    record: dict[str, t.Any] = {"leaf": leaf}
    for _ in range(levels):
        record = {"next": record, "copies": [record]}
    return record


def test_a_schema_too_large_to_compile_still_validates_its_records() -> None:
    validator = FastRecordValidator(_nested_schema(12))  # 2**13 subschemas
    assert not validator.compiled
    validator.validate(_nested_record(12, 1))
    with pytest.raises(InvalidRecord):
        validator.validate(_nested_record(12, "not an integer"))


def test_a_small_schema_is_compiled_and_still_checked_against_the_meta_schema() -> None:
    validator = FastRecordValidator(_nested_schema(3))
    assert validator.compiled
    with pytest.raises(InvalidRecord):
        validator.validate(_nested_record(3, "not an integer"))
    with pytest.raises(InvalidJSONSchema):
        FastRecordValidator({"type": "object", "properties": {"a": {"type": "no such type"}}})
