"""BSON values to JSON-ready Python values: the one place a BSON type becomes Singer data.

Two encodings, chosen by the tap's ``bson_encoding`` setting (see docs/bson-types.md):

``plain`` (default)
    Ordinary JSON any Singer target understands: ObjectId as its hex string, dates as
    ISO-8601 text, Decimal128 as an exact JSON number, binary as base64, and so on. Some
    type information is lost (an ObjectId and its hex string look alike).

``extended_json``
    MongoDB Relaxed Extended JSON v2, except that Int64 keeps its ``$numberLong`` wrapper
    so that 64-bit integers stay distinguishable from 32-bit ones. ``bson.json_util.loads``
    and target-mongodb restore every value to the exact BSON type and value it had.

Encoders dispatch on the exact Python type first (one dict lookup per value, the hot path)
and fall back to ``isinstance`` checks for subclasses such as ``SON``.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
import re
import types
import typing as t
import uuid

from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS
from bson.son import SON

from mongodb_common.bson_codec.datetimes import datetime_to_ms, ms_to_iso
from mongodb_common.bson_codec.decimal128 import decimal128_text, decimal_from
from mongodb_common.bson_codec.singer_decoding import is_extended_json_wrapper

PLAIN = "plain"
EXTENDED_JSON = "extended_json"
ENCODINGS = (PLAIN, EXTENDED_JSON)

Encoder = t.Callable[[t.Any], t.Any]

_REGEX_FLAG_LETTERS = (
    (re.IGNORECASE, "i"),
    (re.LOCALE, "l"),
    (re.MULTILINE, "m"),
    (re.DOTALL, "s"),
    (re.UNICODE, "u"),
    (re.VERBOSE, "x"),
)
_UUID_SUBTYPES = {3, 4}
_FINITE_FLOAT_NAMES = {math.inf: "Infinity", -math.inf: "-Infinity"}


class UnsupportedBsonValueError(TypeError):
    """A value whose Python type the codec does not know; names the type."""


def regex_options(value: Regex | re.Pattern[str]) -> str:
    """Extended JSON option letters for a regex, alphabetically as the spec requires."""
    flags = value.flags
    if isinstance(flags, str):
        return "".join(sorted(flags))
    return "".join(letter for flag, letter in _REGEX_FLAG_LETTERS if flags & flag)


def _non_finite_name(value: float) -> str:
    return "NaN" if value != value else _FINITE_FLOAT_NAMES[value]  # noqa: PLR0124


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# ---------------------------------------------------------------------------------------
# plain


def _plain_float(value: float) -> float | str:
    return value if math.isfinite(value) else _non_finite_name(value)


def _plain_decimal128(value: Decimal128) -> decimal.Decimal | str:
    """An exact JSON number; text where JSON numbers cannot go or readers would overflow.

    Beyond the double range (|exponent| > 308) many JSON readers fail or yield infinity, so
    such values travel as their decimal text, like NaN and the infinities.
    """
    number = decimal_from(value)
    if number.is_nan():
        return "NaN"
    if number.is_infinite():
        return "Infinity" if number > 0 else "-Infinity"
    if number and not -308 <= number.adjusted() <= 308:
        return str(number)
    return number


def _plain_binary(value: Binary) -> str:
    if value.subtype == 4 and len(value) == 16:
        return str(uuid.UUID(bytes=bytes(value)))
    return _base64(bytes(value))


def _plain_code(value: Code) -> t.Any:
    if value.scope is None:
        return str(value)
    return {"$code": str(value), "$scope": encode_plain(value.scope)}


def _plain_dbref(value: DBRef) -> dict[str, t.Any]:
    return {key: encode_plain(item) for key, item in value.as_doc().items()}


def _plain_regex(value: Regex | re.Pattern[str]) -> str:
    return f"/{value.pattern}/{regex_options(value)}"


_UTC = datetime.timezone.utc
_ZERO = datetime.timedelta(0)


def _plain_datetime(value: datetime.datetime) -> str:
    if not value.microsecond % 1000:
        # The common case, whole milliseconds in UTC as the driver decodes them: C-speed.
        if value.tzinfo is None:
            return value.isoformat(timespec="milliseconds") + "Z"
        if value.tzinfo is _UTC or value.utcoffset() == _ZERO:
            return value.isoformat(timespec="milliseconds")[:-6] + "Z"
    return ms_to_iso(datetime_to_ms(value))


_PLAIN: dict[type, Encoder] = {
    str: lambda value: value,
    int: lambda value: value,
    bool: lambda value: value,
    type(None): lambda value: value,
    float: _plain_float,
    Int64: int,
    ObjectId: str,
    datetime.datetime: _plain_datetime,
    DatetimeMS: lambda value: ms_to_iso(int(value)),
    Decimal128: _plain_decimal128,
    bytes: _base64,
    Binary: _plain_binary,
    uuid.UUID: str,
    Timestamp: lambda value: {"t": value.time, "i": value.inc},
    Regex: _plain_regex,
    re.Pattern: _plain_regex,
    Code: _plain_code,
    DBRef: _plain_dbref,
    MinKey: lambda _value: "MinKey",
    MaxKey: lambda _value: "MaxKey",
    decimal.Decimal: lambda value: value,
}


LITERAL = "$literal"


def is_lookalike(document: dict[str, t.Any]) -> bool:
    """A document whose keys are exactly an Extended JSON wrapper's (`{"$oid": "x"}` ...).

    MongoDB allows such `$`-prefixed field names; without an escape, a target reading
    Extended JSON would take the document for the BSON value it resembles.
    """
    for first in document:
        return first.startswith("$") and (frozenset(document) == {LITERAL} or is_extended_json_wrapper(document))
    return False


# Values that are already JSON, handed on inline without a call (the hot path); so is a
# finite float (`x - x` is NaN for NaN and the infinities). Other scalars go straight to
# their converter; only documents and arrays recurse.
AS_IS = frozenset({str, int, bool, type(None)})


def encode_plain(value: t.Any) -> t.Any:
    """Encode one decoded BSON value (document, array or scalar) as plain JSON values."""
    value_type = type(value)
    if value_type is dict:
        encoded = {
            key: item
            if (kind := type(item)) in AS_IS or (kind is float and item - item == 0.0)
            else (scalar(item) if (scalar := _PLAIN.get(kind)) is not None else encode_plain(item))
            for key, item in value.items()
        }
        return {LITERAL: encoded} if is_lookalike(value) else encoded
    if value_type is list:
        return [
            item
            if (kind := type(item)) in AS_IS or (kind is float and item - item == 0.0)
            else (scalar(item) if (scalar := _PLAIN.get(kind)) is not None else encode_plain(item))
            for item in value
        ]
    converter = _PLAIN.get(value_type)
    if converter is not None:
        return converter(value)
    return _encode_by_isinstance(value, encode_plain, _PLAIN)


# ---------------------------------------------------------------------------------------
# extended_json


def _ext_float(value: float) -> t.Any:
    return value if math.isfinite(value) else {"$numberDouble": _non_finite_name(value)}


def _ext_datetime_ms(milliseconds: int) -> dict[str, t.Any]:
    # Relaxed Extended JSON: ISO text for years 1970-9999, the exact count otherwise.
    if 0 <= milliseconds <= 253_402_300_799_999:
        return {"$date": ms_to_iso(milliseconds)}
    return {"$date": {"$numberLong": str(milliseconds)}}


def _ext_binary(data: bytes, subtype: int) -> dict[str, t.Any]:
    return {"$binary": {"base64": _base64(data), "subType": f"{subtype:02x}"}}


def _ext_code(value: Code) -> dict[str, t.Any]:
    if value.scope is None:
        return {"$code": str(value)}
    return {"$code": str(value), "$scope": encode_extended_json(value.scope)}


def _ext_regex(value: Regex | re.Pattern[str]) -> dict[str, t.Any]:
    return {"$regularExpression": {"pattern": value.pattern, "options": regex_options(value)}}


_EXTENDED: dict[type, Encoder] = {
    str: lambda value: value,
    int: lambda value: value,
    bool: lambda value: value,
    type(None): lambda value: value,
    float: _ext_float,
    Int64: lambda value: {"$numberLong": str(int(value))},
    ObjectId: lambda value: {"$oid": str(value)},
    datetime.datetime: lambda value: _ext_datetime_ms(datetime_to_ms(value)),
    DatetimeMS: lambda value: _ext_datetime_ms(int(value)),
    Decimal128: lambda value: {"$numberDecimal": decimal128_text(value)},
    bytes: lambda value: _ext_binary(value, 0),
    Binary: lambda value: _ext_binary(bytes(value), value.subtype),
    uuid.UUID: lambda value: _ext_binary(value.bytes, 4),
    Timestamp: lambda value: {"$timestamp": {"t": value.time, "i": value.inc}},
    Regex: _ext_regex,
    re.Pattern: _ext_regex,
    Code: _ext_code,
    DBRef: lambda value: {key: encode_extended_json(item) for key, item in value.as_doc().items()},
    MinKey: lambda _value: {"$minKey": 1},
    MaxKey: lambda _value: {"$maxKey": 1},
    decimal.Decimal: lambda value: {"$numberDecimal": str(value)},
}


def encode_extended_json(value: t.Any) -> t.Any:
    """Encode one decoded BSON value as (type-exact) MongoDB Extended JSON values."""
    value_type = type(value)
    if value_type is dict:
        encoded = {
            key: item
            if (kind := type(item)) in AS_IS or (kind is float and item - item == 0.0)
            else (scalar(item) if (scalar := _EXTENDED.get(kind)) is not None else encode_extended_json(item))
            for key, item in value.items()
        }
        return {LITERAL: encoded} if is_lookalike(value) else encoded
    if value_type is list:
        return [
            item
            if (kind := type(item)) in AS_IS or (kind is float and item - item == 0.0)
            else (scalar(item) if (scalar := _EXTENDED.get(kind)) is not None else encode_extended_json(item))
            for item in value
        ]
    converter = _EXTENDED.get(value_type)
    if converter is not None:
        return converter(value)
    return _encode_by_isinstance(value, encode_extended_json, _EXTENDED)


# ---------------------------------------------------------------------------------------


def _encode_by_isinstance(value: t.Any, encode: Encoder, table: dict[type, Encoder]) -> t.Any:
    """Slow path for subclasses (SON, OrderedDict, RawBSONDocument, str/int subclasses)."""
    if isinstance(value, (SON, t.Mapping)):
        return encode(dict(value))
    if isinstance(value, (list, tuple)):
        return [encode(item) for item in value]
    for known_type, converter in table.items():
        if isinstance(value, known_type):
            return converter(value)
    msg = f"cannot encode a value of Python type {type(value).__name__} from BSON"
    raise UnsupportedBsonValueError(msg)


def scalar_encoders(encoding: str) -> t.Mapping[type, Encoder]:
    """The converter the encoder of `encoding` applies to each exact type of non-container value.

    For the tap's schema-guided walk, which checks each value against the declared schema as
    it encodes it (tap_mongodb/schema_conformance.py): it walks documents and arrays itself,
    hands on values of the `AS_IS` types and finite floats unchanged, as the encoders do, and
    converts every other value with the function given here, so a value is never encoded in
    two ways. Types without an entry (subclasses) go through the encoder itself.
    """
    table = _EXTENDED if encoding == EXTENDED_JSON else _PLAIN if encoding == PLAIN else None
    if table is None:
        msg = f"bson_encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}"
        raise ValueError(msg)
    return types.MappingProxyType(table)


def get_encoder(encoding: str) -> Encoder:
    """The value encoder for a ``bson_encoding`` setting."""
    if encoding == PLAIN:
        return encode_plain
    if encoding == EXTENDED_JSON:
        return encode_extended_json
    msg = f"bson_encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}"
    raise ValueError(msg)
