"""Singer records back to BSON-typed documents, guided by the stream's schema.

What arrives is JSON: numbers (non-integral ones as ``Decimal``), strings, objects. This
module decides what each becomes in MongoDB:

- Extended JSON wrappers (``{"$oid": ...}``, ``{"$numberLong": ...}`` ...) become the exact
  BSON value, through the shared codec; tap-mongodb's ``extended_json`` encoding relies on it.
- Values whose schema format names a BSON type (``x-bson-objectid`` ..., written by
  tap-mongodb's plain encoding) become that type: a hex string an ObjectId, an integer an
  Int64, and so on; ``format: uuid`` strings become BSON UUIDs (binary subtype 4).
- Strings whose schema says ``format: date-time`` become BSON dates, at any depth.
- Integers stay integers (int32 or int64 by size; beyond int64, Decimal128).
- Other numbers become doubles when a double holds them exactly, else Decimal128, so no
  digit is ever lost.

A converter is compiled once per schema; the per-record work is a walk of the record.
"""

from __future__ import annotations

import decimal
import math
import typing as t

from bson import Decimal128

from mongodb_common.bson_codec import (
    ExtendedJsonError,
    decode_plain,
    decode_value,
    is_extended_json_wrapper,
    wrapper_decoder,
)
from mongodb_common.bson_codec.decimal128 import decimal128_from
from mongodb_common.bson_codec.singer_decoding import date_from_iso
from mongodb_common.bson_codec.type_names import parse_format

Converter = t.Callable[[t.Any], t.Any]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_AS_IS = frozenset({str, bool, type(None), float})  # JSON values that are already their BSON value


class ValueRestorationError(ValueError):
    """A value that cannot become BSON; names the field path."""


def restore_number(value: decimal.Decimal) -> float | Decimal128:
    as_float = float(value)
    if math.isfinite(as_float) and decimal.Decimal(repr(as_float)) == value:
        return as_float
    try:
        return decimal128_from(value)
    except (decimal.Inexact, decimal.InvalidOperation, ValueError):
        return as_float  # more than 34 significant digits: the nearest double is the best left


def restore_integer(value: int) -> int | Decimal128:
    if _INT64_MIN <= value <= _INT64_MAX:
        return value
    return Decimal128(decimal.Decimal(value))


def restore_any(value: t.Any) -> t.Any:
    """Restore a value the schema says nothing specific about.

    The hottest function of a load (every value of an Extended JSON record passes here), so
    the common JSON types are tested first, by exact type.
    """
    value_type = type(value)
    if value_type in _AS_IS:
        return value
    if value_type is dict:
        for first_key in value:
            if first_key[:1] == "$" and is_extended_json_wrapper(value):
                return decode_value(value)
            break
        return {key: item if type(item) in _AS_IS else restore_any(item) for key, item in value.items()}
    if value_type is list:
        return [item if type(item) in _AS_IS else restore_any(item) for item in value]
    if value_type is decimal.Decimal:
        return restore_number(value)
    return restore_integer(value) if value_type is int else value


def _types(schema: t.Mapping[str, t.Any]) -> set[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return {declared}
    if isinstance(declared, list):
        return set(declared)
    return set()


def _is_datetime(schema: t.Mapping[str, t.Any]) -> bool:
    if schema.get("format") == "date-time":
        return True
    return any(_is_datetime(option) for option in schema.get("anyOf", []) if isinstance(option, dict))


def _restore_datetime(value: t.Any) -> t.Any:
    if isinstance(value, str):
        try:
            return date_from_iso(value)
        except ValueError as exc:
            raise ValueRestorationError(str(exc)) from None
    return restore_any(value)


def _annotated_converter(bson_type: str, subtype: int | None) -> Converter:
    def convert(value: t.Any) -> t.Any:
        if value is None or (isinstance(value, dict) and is_extended_json_wrapper(value)):
            return restore_any(value)
        try:
            return decode_plain(value, bson_type, subtype)
        except ExtendedJsonError as exc:
            raise ValueRestorationError(str(exc)) from None

    return convert


def _wrapper_converter(keys: frozenset[str], decode: Converter) -> Converter:
    """For a schema that declares an Extended JSON wrapper (tap-mongodb's extended_json)."""

    def convert_wrapper(value: t.Any) -> t.Any:
        if type(value) is dict and value.keys() == keys:
            return decode(value)
        return restore_any(value)

    return convert_wrapper


def _object_converter(properties: dict[str, t.Any]) -> Converter:
    if all(name.startswith("$") for name in properties):
        decode = wrapper_decoder(properties)
        if decode is not None:
            return _wrapper_converter(frozenset(properties), decode)
    converters = {name: compile_converter(sub) for name, sub in properties.items() if isinstance(sub, dict)}
    specific = {name: conv for name, conv in converters.items() if conv is not restore_any}
    if not specific:
        return restore_any

    def convert_object(value: t.Any) -> t.Any:
        if type(value) is not dict or is_extended_json_wrapper(value):
            return restore_any(value)
        return {
            key: item if key not in specific and type(item) in _AS_IS else specific.get(key, restore_any)(item)
            for key, item in value.items()
        }

    return convert_object


def _array_converter(items: dict[str, t.Any]) -> Converter:
    item_converter = compile_converter(items)
    if item_converter is restore_any:
        return restore_any

    def convert_array(value: t.Any) -> t.Any:
        if type(value) is not list:
            return restore_any(value)
        return [item_converter(item) for item in value]

    return convert_array


def _annotation(schema: t.Mapping[str, t.Any]) -> tuple[str, int | None] | None:
    schema_format = schema.get("format")
    if schema_format == "uuid":
        return "binData", 4
    return parse_format(schema_format) if isinstance(schema_format, str) else None


def compile_converter(schema: t.Mapping[str, t.Any]) -> Converter:
    """A converter for values described by `schema` (a record schema gives a record converter)."""
    annotation = _annotation(schema)
    if annotation is not None:
        return _annotated_converter(*annotation)
    if _is_datetime(schema):
        return _restore_datetime
    types = _types(schema)
    properties = schema.get("properties")
    if isinstance(properties, dict) and properties and (not types or "object" in types):
        return _object_converter(properties)
    items = schema.get("items")
    if isinstance(items, dict) and (not types or "array" in types):
        return _array_converter(items)
    return restore_any
