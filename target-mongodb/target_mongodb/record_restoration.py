"""Singer records back to BSON-typed documents, guided by the stream's schema.

What arrives is JSON: numbers (non-integral ones as ``Decimal``), strings, objects. This
module decides what each becomes in MongoDB:

- Extended JSON wrappers (``{"$oid": ...}``, ``{"$numberLong": ...}`` ...) become the exact
  BSON value, through the shared codec, wherever the schema admits an object or says
  nothing; tap-mongodb's ``extended_json`` encoding relies on it.
- Values whose schema format names a BSON type (``x-bson-objectid`` ..., written by
  tap-mongodb's plain encoding) become that type: a hex string an ObjectId, an integer an
  Int64, and so on; ``format: uuid`` strings become BSON UUIDs (binary subtype 4).
- Strings whose schema says ``format: date-time`` become BSON dates, at any depth.
- Integers stay integers (int32 or int64 by size; beyond int64, Decimal128).
- Other numbers become doubles when a double holds them exactly, else Decimal128, so no
  digit is ever lost.

Unions (a type list, ``anyOf``, ``oneOf``; see schema_branches.py) follow one rule: a value
is restored by the branches that admit its JSON type. A branch whose restoration does not
fit the value (a string that is no date under ``date-time``) does not count. If the
remaining branches agree on the result, it is used; if they disagree (a plain ``string``
branch beside a ``date-time`` one), the value is kept as its plain JSON value, because
nothing says which was meant. If no branch fits, the record is rejected naming the field.
A format applies only to the JSON types its values take (``date-time`` to strings,
``x-bson-long`` to integers, ``x-bson-timestamp`` to objects ...), so in
``{"type": ["integer", "string"], "format": "date-time"}`` integers stay integers.

A converter is compiled once per schema; the per-record work is a walk of the record.
"""

from __future__ import annotations

import decimal
import functools
import math
import typing as t

import bson
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
from target_mongodb.schema_branches import Branch, Schema, SchemaResolver, branches, property_schemas

Converter = t.Callable[[t.Any], t.Any]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_AS_IS = frozenset({str, bool, type(None), float})  # JSON values that are already their BSON value

# The JSON types an `x-bson-*` annotation applies to: those its plain encoding produces
# (a double is a number, or text for NaN and the infinities; a Timestamp an object {t, i}).
_ANNOTATION_APPLIES_TO: dict[str, frozenset[str]] = {
    "double": frozenset({"integer", "number", "string"}),
    "decimal": frozenset({"integer", "number", "string"}),
    "long": frozenset({"integer"}),
    "objectId": frozenset({"string"}),
    "binData": frozenset({"string"}),
    "regex": frozenset({"string"}),
    "javascript": frozenset({"string"}),
    "minKey": frozenset({"string"}),
    "maxKey": frozenset({"string"}),
    "date": frozenset({"string"}),
    "timestamp": frozenset({"object"}),
    "javascriptWithScope": frozenset({"object"}),
    "dbRef": frozenset({"object"}),
}

# The JSON type of each Python value a Singer reader produces, and the branch types admitting it.
_ADMITTING: dict[type, tuple[str, frozenset[str]]] = {
    type(None): ("null", frozenset({"null"})),
    bool: ("boolean", frozenset({"boolean"})),
    int: ("integer", frozenset({"integer", "number"})),
    decimal.Decimal: ("number", frozenset({"number"})),
    float: ("number", frozenset({"number"})),
    str: ("string", frozenset({"string"})),
    dict: ("object", frozenset({"object"})),
    list: ("array", frozenset({"array"})),
}


class ValueRestorationError(ValueError):
    """A value that cannot become BSON; names the field path."""

    def __init__(self, reason: str, path: tuple[str, ...] = ()) -> None:
        self.reason = reason
        self.path = path
        super().__init__(reason)

    def __str__(self) -> str:
        if not self.path:
            return self.reason
        return f"field {'.'.join(self.path)!r}: {self.reason}"

    def under(self, key: str) -> ValueRestorationError:
        return ValueRestorationError(self.reason, (key, *self.path))


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


def _restore_datetime(value: str) -> t.Any:
    try:
        return date_from_iso(value)
    except ValueError as exc:
        raise ValueRestorationError(str(exc)) from None


@functools.cache
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


def _annotation(schema_format: str | None, json_type: str) -> Converter | None:
    """The converter a format asks for, for values of one JSON type (None if it does not apply)."""
    if schema_format is None:
        return None
    if schema_format == "date-time":
        return _restore_datetime if json_type == "string" else None
    if schema_format == "uuid":
        return _annotated_converter("binData", 4) if json_type == "string" else None
    parsed = parse_format(schema_format)
    if parsed is None or json_type not in _ANNOTATION_APPLIES_TO.get(parsed[0], frozenset()):
        return None
    return _annotated_converter(*parsed)


def _same_bson(one: t.Any, other: t.Any) -> bool:
    """Equal as stored: same BSON types and values (Int64(5) differs from 5, NaN equals NaN)."""
    try:
        return bson.encode({"v": one}) == bson.encode({"v": other})
    except (bson.errors.BSONError, OverflowError, TypeError):
        return False


def _union_converter(candidates: list[Converter]) -> Converter:
    """Several branches admit the value's JSON type: keep what those that fit agree on."""

    def convert_union(value: t.Any) -> t.Any:
        results = []
        failure: ValueRestorationError | None = None
        for candidate in candidates:
            try:
                results.append(candidate(value))
            except ValueRestorationError as exc:
                failure = failure or exc
            except ExtendedJsonError as exc:
                failure = failure or ValueRestorationError(str(exc))
        if not results:
            assert failure is not None
            raise failure
        first = results[0]
        if all(_same_bson(first, other) for other in results[1:]):
            return first
        return restore_any(value)  # the branches disagree: nothing says which was meant

    return convert_union


class _ConverterCompiler:
    """Compiles the converters of one stream schema, each sub-schema once (cycles included)."""

    def __init__(self, root: Schema) -> None:
        self._resolver = SchemaResolver(root)
        self._compiled: dict[int, Converter] = {}
        self._schemas: list[Schema] = []  # keeps every compiled schema alive, so ids stay unique

    def compile(self, schema: Schema) -> Converter:
        key = id(schema)
        found = self._compiled.get(key)
        if found is not None:
            return found
        self._schemas.append(schema)
        compiled: list[Converter] = []

        def forward(value: t.Any) -> t.Any:  # stands in while a recursive schema compiles
            return compiled[0](value)

        self._compiled[key] = forward
        converter = self._build(branches(schema, self._resolver))
        compiled.append(converter)
        self._compiled[key] = converter
        return converter

    def _combined(self, schemas: list[Schema]) -> Converter:
        if not schemas:
            return restore_any
        if len(schemas) == 1:
            return self.compile(schemas[0])
        combined = {"allOf": schemas}
        return self.compile(combined)

    def _build(self, alternatives: list[Branch]) -> Converter:
        by_python_type: dict[type, Converter] = {}
        for python_type, (json_type, admitting) in _ADMITTING.items():
            candidates: list[Converter] = []
            for branch in alternatives:
                if branch.types & admitting:
                    converter = self._typed(branch, json_type)
                    if all(converter is not known for known in candidates):
                        candidates.append(converter)
            if len(candidates) == 1:
                by_python_type[python_type] = candidates[0]
            elif candidates:
                by_python_type[python_type] = _union_converter(candidates)
        specific = {kind: converter for kind, converter in by_python_type.items() if converter is not restore_any}
        if not specific:
            return restore_any
        if len(specific) == 1:
            ((only_type, only),) = specific.items()

            def convert_one_type(value: t.Any) -> t.Any:
                return only(value) if type(value) is only_type else restore_any(value)

            return convert_one_type

        def convert_by_type(value: t.Any) -> t.Any:
            return specific.get(type(value), restore_any)(value)

        return convert_by_type

    def _typed(self, branch: Branch, json_type: str) -> Converter:
        """How one branch restores values of one JSON type; `restore_any` when nothing specific."""
        annotated = _annotation(branch.format, json_type)
        if annotated is not None:
            return annotated
        if json_type == "object":
            return self._object_converter(branch)
        if json_type == "array":
            return self._array_converter(branch)
        return restore_any

    def record_converter(self, schema: Schema) -> Converter:
        """For whole records: a record is a document even when its keys are a wrapper's (`$ref`, `$id`)."""
        objects = [branch for branch in branches(schema, self._resolver) if "object" in branch.types]
        if len(objects) == 1:
            return self._object_converter(objects[0], record=True)
        convert = self.compile(schema)

        def convert_record(value: t.Any) -> t.Any:
            return _restore_fields(value) if is_extended_json_wrapper(value) else convert(value)

        return convert_record

    def _object_converter(self, branch: Branch, *, record: bool = False) -> Converter:
        names = [name for name, _schema in branch.properties or ()]
        if not record and names and all(name[:1] == "$" for name in names) and not branch.pattern_properties:
            decode = wrapper_decoder(names)
            if decode is not None:
                return _wrapper_converter(frozenset(names), decode)
        converters = {name: self._combined(property_schemas(branch, name)) for name in names}
        specific = {name: converter for name, converter in converters.items() if converter is not restore_any}
        others = [schema for _pattern, schema in branch.pattern_properties]
        if branch.additional_properties is not None:
            others.append(branch.additional_properties)
        others_specific = any(self.compile(schema) is not restore_any for schema in others)
        if not specific and not others_specific:
            return _restore_fields if record else restore_any
        unknown: dict[str, Converter] = {}

        def for_key(key: str) -> Converter:
            converter = specific.get(key)
            if converter is not None or not others_specific or key in converters:
                return converter or restore_any
            converter = unknown.get(key)
            if converter is None:
                converter = unknown[key] = self._combined(property_schemas(branch, key))
            return converter

        def convert_object(value: t.Any) -> t.Any:
            if type(value) is not dict or (not record and is_extended_json_wrapper(value)):
                return restore_any(value)
            try:
                if not others_specific:
                    return {
                        key: item
                        if key not in specific and type(item) in _AS_IS
                        else specific.get(key, restore_any)(item)
                        for key, item in value.items()
                    }
                return {key: for_key(key)(item) for key, item in value.items()}
            except (ValueRestorationError, ExtendedJsonError):
                return _locate_failure(value, for_key)

        return convert_object

    def _array_converter(self, branch: Branch) -> Converter:
        item_converter = restore_any if branch.items is None else self.compile(branch.items)
        positional = [
            self.compile(schema) if schema is not None else restore_any for schema in branch.prefix_items or ()
        ]
        if item_converter is restore_any and all(converter is restore_any for converter in positional):
            return restore_any

        def convert_array(value: t.Any) -> t.Any:
            if type(value) is not list:
                return restore_any(value)
            if not positional:
                return [item_converter(item) for item in value]
            return [
                (positional[index] if index < len(positional) else item_converter)(item)
                for index, item in enumerate(value)
            ]

        return convert_array


def _restore_fields(value: dict[str, t.Any]) -> dict[str, t.Any]:
    """A document's fields restored one by one (the document itself is never taken for a wrapper)."""
    return {key: item if type(item) in _AS_IS else restore_any(item) for key, item in value.items()}


def _locate_failure(value: dict[str, t.Any], for_key: t.Callable[[str], Converter]) -> t.NoReturn:
    """Convert again key by key to name the field at fault (only ever on the error path)."""
    for key, item in value.items():
        try:
            for_key(key)(item)
        except ValueRestorationError as exc:
            raise exc.under(key) from None
        except ExtendedJsonError as exc:
            raise ValueRestorationError(str(exc), (key,)) from None
    msg = "a value could not be restored"
    raise ValueRestorationError(msg)


def compile_converter(schema: Schema) -> Converter:
    """A converter for values described by `schema`."""
    return _ConverterCompiler(schema).compile(schema)


def compile_record_converter(schema: Schema) -> Converter:
    """A converter for the records of a stream whose schema is `schema`."""
    return _ConverterCompiler(schema).record_converter(schema)
