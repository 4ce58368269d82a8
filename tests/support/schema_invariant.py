"""The tap's promise, checked the strong way: every RECORD fits the latest SCHEMA of its stream.

A real JSON Schema validator (jsonschema, Draft 7, with `date-time` and `uuid` formats
checked, as SQL targets read them); `x-bson-*` formats are annotations it ignores. Every tap
test that captures output goes through `tests.support.singer_io.run_tap`, which calls this.
"""

from __future__ import annotations

import datetime
import typing as t
import uuid

import jsonschema

_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if "T" not in value:
        raise ValueError(value)
    datetime.datetime.fromisoformat(value)
    return True


@_FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(value: object) -> bool:
    if isinstance(value, str):
        uuid.UUID(value)
    return True


class SchemaViolationError(AssertionError):
    """A RECORD the tap wrote does not fit the SCHEMA it declared for the stream."""


def assert_records_fit_their_schemas(messages: t.Iterable[t.Mapping[str, t.Any]]) -> int:
    """Raises on the first RECORD outside its stream's latest SCHEMA; returns how many were checked."""
    validators: dict[str, jsonschema.Draft7Validator] = {}
    checked = 0
    for position, message in enumerate(messages):
        kind, stream = message.get("type"), message.get("stream")
        if kind == "SCHEMA":
            validators[stream] = jsonschema.Draft7Validator(message["schema"], format_checker=_FORMATS)
        elif kind == "RECORD":
            validator = validators.get(stream)
            if validator is None:
                msg = f"message {position}: RECORD of stream {stream!r} before any SCHEMA of it"
                raise SchemaViolationError(msg)
            error = jsonschema.exceptions.best_match(validator.iter_errors(message["record"]))
            if error is not None:
                path = ".".join(str(part) for part in error.absolute_path) or "(record)"
                msg = (
                    f"message {position}: RECORD of stream {stream!r} does not fit its SCHEMA at {path}: "
                    f"{error.message}\nrecord: {message['record']}"
                )
                raise SchemaViolationError(msg)
            checked += 1
    return checked


def declares_at_least(after: t.Any, before: t.Any) -> bool:
    """Every value `before` admits, `after` admits (on the keywords the tap writes): it only widened."""
    if not isinstance(before, dict) or "type" not in before:
        return before == after
    if not isinstance(after, dict) or "type" not in after:
        return True
    wider = _types(after) | ({"integer"} if "number" in _types(after) else set())
    if not _types(before) <= wider:
        return False
    if after.get("format") and not _same_or_more_general_format(after["format"], before.get("format")):
        return False
    for key, schema in before.get("properties", {}).items():
        if key not in after.get("properties", {}) or not declares_at_least(after["properties"][key], schema):
            return False
    return not (before.get("items") and not declares_at_least(after.get("items", {}), before["items"]))


def _same_or_more_general_format(after: str, before: str | None) -> bool:
    """The same format, or an `x-bson-*` annotation, which no validator enforces.

    A field of UUIDs (`uuid`) that then holds other binaries is declared `x-bson-bindata`:
    every string it admitted before, it still admits.
    """
    return after == before or after.startswith("x-bson-")


def _types(schema: t.Mapping[str, t.Any]) -> set[str]:
    declared = schema["type"]
    return {declared} if isinstance(declared, str) else set(declared)
