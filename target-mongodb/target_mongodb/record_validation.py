"""Record validation against the stream's schema with fastjsonschema (compiled once per schema).

The SDK's default validator interprets the schema for every record, which costs more than
the whole rest of a load; a compiled validator checks the same rules. Like the SDK's
default, string formats are not enforced (a `date-time` string is checked when it is
converted to a date instead, with an error naming the value).
"""

from __future__ import annotations

import typing as t

import fastjsonschema
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord
from singer_sdk.sinks.core import BaseJSONSchemaValidator


def _formats(schema: t.Any, found: set[str]) -> set[str]:
    if isinstance(schema, dict):
        if isinstance(schema.get("format"), str):
            found.add(schema["format"])
        for value in schema.values():
            _formats(value, found)
    elif isinstance(schema, list):
        for value in schema:
            _formats(value, found)
    return found


def _any_value(_value: t.Any) -> bool:
    return True


class FastRecordValidator(BaseJSONSchemaValidator):
    def __init__(self, schema: dict[str, t.Any]) -> None:
        super().__init__(schema)
        formats = dict.fromkeys(_formats(schema, set()), _any_value)
        try:
            self._validate = fastjsonschema.compile(schema, formats=formats)
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            msg = f"the stream's schema is not valid JSON Schema: {exc}"
            raise InvalidJSONSchema(msg) from exc

    def validate(self, record: dict[str, t.Any]) -> None:
        try:
            self._validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            msg = f"Record Message Validation Error: {exc.message}"
            raise InvalidRecord(msg, record) from exc
