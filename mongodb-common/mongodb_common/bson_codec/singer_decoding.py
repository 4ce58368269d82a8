"""JSON values back to BSON values: the inverse of ``singer_encoding.encode_extended_json``.

Used by target-mongodb for record values and by tap-mongodb for typed bookmarks. Accepts
canonical and relaxed MongoDB Extended JSON v2 (and the legacy v1 forms mongoexport still
writes), so files from other tools load too. A JSON object is read as a type wrapper only
when its key set is exactly a wrapper's; any other object stays a document.

Non-integral JSON numbers arrive from the Singer SDK's reader as ``decimal.Decimal`` and
become doubles, matching what a JSON number means in Extended JSON.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import functools
import typing as t
import uuid

from bson import Binary, Code, DBRef, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS
from bson.errors import BSONError

from mongodb_common.bson_codec.datetimes import iso_to_ms, ms_to_datetime
from mongodb_common.bson_codec.decimal128 import decimal128_from


class ExtendedJsonError(ValueError):
    """A value shaped like an Extended JSON wrapper whose content is invalid."""


_NON_FINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def date_from_ms(milliseconds: int) -> datetime.datetime | DatetimeMS:
    """A UTC datetime, or DatetimeMS where Python's datetime cannot reach (years < 1, > 9999)."""
    try:
        return ms_to_datetime(milliseconds)
    except OverflowError:
        return DatetimeMS(milliseconds)


_CANONICAL_DATE_LENGTH = len("2024-01-01T00:00:00.000Z")


def date_from_iso(text: str) -> datetime.datetime | DatetimeMS:
    """A BSON date from ISO-8601 text; the form the encoders write is parsed in C."""
    if len(text) == _CANONICAL_DATE_LENGTH and text[-1] == "Z" and text[10] == "T" and text[19] == ".":
        try:
            return datetime.datetime.fromisoformat(text)  # milliseconds exactly, tzinfo UTC
        except ValueError:
            pass  # the general parser names the fault
    return date_from_ms(iso_to_ms(text))


def _decode_date(content: t.Any) -> datetime.datetime | DatetimeMS:
    if isinstance(content, str):
        return date_from_iso(content)
    if isinstance(content, dict) and set(content) == {"$numberLong"}:
        return date_from_ms(int(content["$numberLong"]))
    if isinstance(content, (int, decimal.Decimal, float)) and not isinstance(content, bool):
        return date_from_ms(int(content))
    msg = f"invalid $date content: {content!r}"
    raise ExtendedJsonError(msg)


def _binary(data_b64: str, subtype_hex: str) -> Binary | bytes:
    data = base64.b64decode(data_b64, validate=True)
    subtype = int(subtype_hex, 16)
    # pymongo decodes subtype 0 to bytes; mirror that so round trips compare equal.
    return data if subtype == 0 else Binary(data, subtype)


def _decode_binary(wrapper: dict[str, t.Any]) -> Binary | bytes:
    content = wrapper["$binary"]
    if isinstance(content, dict):  # v2: {"$binary": {"base64": ..., "subType": ...}}
        return _binary(content["base64"], content["subType"])
    return _binary(content, wrapper["$type"])  # v1: {"$binary": ..., "$type": ...}


def _decode_double(content: str) -> float:
    return _NON_FINITE[content] if content in _NON_FINITE else float(content)


def _decode_regex_v2(wrapper: dict[str, t.Any]) -> Regex:
    content = wrapper["$regularExpression"]
    return Regex(content["pattern"], content.get("options", ""))


def _decode_code(wrapper: dict[str, t.Any]) -> Code:
    scope = wrapper.get("$scope")
    return Code(wrapper["$code"], decode_value(scope) if scope is not None else None)


def _decode_dbref(wrapper: dict[str, t.Any]) -> DBRef:
    extra = {key: decode_value(item) for key, item in wrapper.items() if key not in {"$ref", "$id", "$db"}}
    return DBRef(wrapper["$ref"], decode_value(wrapper["$id"]), wrapper.get("$db"), **extra)


LITERAL = "$literal"


def _decode_literal(wrapper: dict[str, t.Any]) -> dict[str, t.Any]:
    """A document that only looked like a wrapper (see singer_encoding.is_lookalike)."""
    return {key: decode_value(item) for key, item in wrapper[LITERAL].items()}


_WRAPPERS: dict[frozenset[str], t.Callable[[dict[str, t.Any]], t.Any]] = {
    frozenset({"$oid"}): lambda w: ObjectId(w["$oid"]),
    frozenset({"$numberLong"}): lambda w: Int64(int(w["$numberLong"])),
    frozenset({"$numberInt"}): lambda w: int(w["$numberInt"]),
    frozenset({"$numberDouble"}): lambda w: _decode_double(w["$numberDouble"]),
    frozenset({"$numberDecimal"}): lambda w: decimal128_from(w["$numberDecimal"]),
    frozenset({"$date"}): lambda w: _decode_date(w["$date"]),
    frozenset({"$binary"}): _decode_binary,
    frozenset({"$binary", "$type"}): _decode_binary,
    frozenset({"$uuid"}): lambda w: Binary(uuid.UUID(w["$uuid"]).bytes, 4),
    frozenset({"$timestamp"}): lambda w: Timestamp(int(w["$timestamp"]["t"]), int(w["$timestamp"]["i"])),
    frozenset({"$regularExpression"}): _decode_regex_v2,
    frozenset({"$regex", "$options"}): lambda w: Regex(w["$regex"], w["$options"]),
    frozenset({"$code"}): _decode_code,
    frozenset({"$code", "$scope"}): _decode_code,
    frozenset({"$minKey"}): lambda _w: MinKey(),
    frozenset({"$maxKey"}): lambda _w: MaxKey(),
    frozenset({"$symbol"}): lambda w: str(w["$symbol"]),
    frozenset({"$undefined"}): lambda _w: None,
    frozenset({"$dbPointer"}): lambda w: DBRef(w["$dbPointer"]["$ref"], decode_value(w["$dbPointer"]["$id"])),
    frozenset({LITERAL}): _decode_literal,
}


def is_extended_json_wrapper(value: dict[str, t.Any]) -> bool:
    """True when the object stands for a BSON value (``{"$oid": ...}``, a DBRef ...)."""
    if not next(iter(value), "").startswith("$"):
        return False
    return frozenset(value) in _WRAPPERS or ("$ref" in value and "$id" in value)


def _run_wrapper(handler: t.Callable[[dict[str, t.Any]], t.Any], value: dict[str, t.Any]) -> t.Any:
    try:
        return handler(value)
    except (KeyError, TypeError, ValueError, decimal.InvalidOperation, BSONError) as exc:
        msg = f"invalid Extended JSON {next(iter(value))} value {value!r}: {exc}"
        raise ExtendedJsonError(msg) from exc


def wrapper_decoder(keys: t.Iterable[str]) -> t.Callable[[dict[str, t.Any]], t.Any] | None:
    """The decoder of the wrapper with exactly these keys (None if there is none).

    For callers that know a value's shape in advance (a schema declaring
    ``{"$numberDecimal": ...}``), so they can skip recognising it per value.
    """
    handler = _WRAPPERS.get(frozenset(keys))
    if handler is None:
        return None
    return functools.partial(_run_wrapper, handler)


def _decode_object(value: dict[str, t.Any]) -> t.Any:
    first_key = next(iter(value), "")
    if first_key.startswith("$"):
        handler = _WRAPPERS.get(frozenset(value))
        if handler is not None:
            return _run_wrapper(handler, value)
        if "$ref" in value and "$id" in value:
            return _decode_dbref(value)
    return {key: decode_value(item) for key, item in value.items()}


def decode_value(value: t.Any) -> t.Any:
    """Restore the BSON value an Extended JSON (or plain JSON) value stands for."""
    value_type = type(value)
    if value_type is dict:
        return _decode_object(value)
    if value_type is list:
        return [decode_value(item) for item in value]
    if value_type is decimal.Decimal:
        return float(value)
    return value


def _plain_binary(value: str, subtype: int | None) -> Binary | bytes:
    if subtype == 4 and len(value) == 36:
        return Binary(uuid.UUID(value).bytes, 4)
    data = base64.b64decode(value, validate=True)
    return data if not subtype else Binary(data, subtype)


def _plain_regex(value: str) -> Regex:
    pattern, _, options = value[1:].rpartition("/")
    return Regex(pattern, options)


def _plain_code_with_scope(value: dict[str, t.Any]) -> Code:
    return Code(value["$code"], decode_value(value["$scope"]))


def _plain_dbref(value: dict[str, t.Any]) -> DBRef:
    return _decode_dbref(value)


def _plain_double(value: t.Any) -> float:
    return _decode_double(value) if isinstance(value, str) else float(value)


_PLAIN_DECODERS: dict[str, t.Callable[[t.Any, int | None], t.Any]] = {
    "double": lambda v, _s: _plain_double(v),
    "objectId": lambda v, _s: ObjectId(v),
    "long": lambda v, _s: Int64(int(v)),
    "decimal": lambda v, _s: decimal128_from(str(v)),
    "binData": _plain_binary,
    "timestamp": lambda v, _s: Timestamp(int(v["t"]), int(v["i"])),
    "regex": lambda v, _s: _plain_regex(v),
    "javascript": lambda v, _s: Code(v),
    "javascriptWithScope": lambda v, _s: _plain_code_with_scope(v),
    "minKey": lambda _v, _s: MinKey(),
    "maxKey": lambda _v, _s: MaxKey(),
    "dbRef": lambda v, _s: _plain_dbref(v),
    "date": lambda v, _s: date_from_iso(v),
}


def decode_plain(value: t.Any, bson_type: str, subtype: int | None = None) -> t.Any:
    """Restore a plain-encoded value whose schema names its BSON type (``x-bson-type``).

    Raises ExtendedJsonError when the value does not have the plain shape of that type.
    """
    decoder = _PLAIN_DECODERS.get(bson_type)
    if decoder is None:
        return decode_value(value)
    try:
        return decoder(value, subtype)
    except (KeyError, TypeError, ValueError, IndexError, decimal.InvalidOperation, BSONError) as exc:
        msg = f"{value!r} is not a plain-encoded {bson_type}: {exc}"
        raise ExtendedJsonError(msg) from None
