"""BSON type names of decoded values, and the schema ``format`` that carries them.

Plain encoding writes an ObjectId as a hex string and an Int64 as a JSON integer. The schema
then says ``"format": "x-bson-objectid"`` (or ``x-bson-long`` ...), so a target that knows
the convention (target-mongodb) restores the exact type, while every other target and JSON
Schema validator ignores a format it does not know. ``format`` is used rather than a custom
keyword because the Singer SDK keeps only standard keywords when it passes schemas along.
"""

from __future__ import annotations

import datetime
import re
import typing as t
import uuid

from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS

# Types plain JSON cannot tell apart from another, which a schema annotation restores.
ANNOTATED_TYPES = frozenset(
    {
        "double",  # NaN and the infinities travel as text
        "objectId",
        "long",
        "decimal",
        "binData",
        "timestamp",
        "regex",
        "javascript",
        "javascriptWithScope",
        "minKey",
        "maxKey",
        "dbRef",
        "date",
    }
)

_NAMES: tuple[tuple[tuple[type, ...], str], ...] = (
    ((bool,), "bool"),
    ((Int64,), "long"),
    ((int,), "int"),
    ((float,), "double"),
    ((Decimal128,), "decimal"),
    ((ObjectId,), "objectId"),
    ((datetime.datetime, DatetimeMS), "date"),
    ((DBRef,), "dbRef"),
    ((dict,), "object"),
    ((list, tuple), "array"),
    ((bytes, Binary, uuid.UUID), "binData"),
    ((Timestamp,), "timestamp"),
    ((Regex, re.Pattern), "regex"),
    ((MinKey,), "minKey"),
    ((MaxKey,), "maxKey"),
)


# Exact types first: one dict lookup for the common cases, the isinstance walk for the rest.
_EXACT: dict[type, str] = {
    type(None): "null",
    str: "string",
    bool: "bool",
    int: "int",
    Int64: "long",
    float: "double",
    Decimal128: "decimal",
    ObjectId: "objectId",
    datetime.datetime: "date",
    dict: "object",
    list: "array",
    bytes: "binData",
    Binary: "binData",
    Timestamp: "timestamp",
    Regex: "regex",
}


def bson_type_name(value: t.Any) -> str:
    exact = _EXACT.get(type(value))
    if exact is not None:
        return exact
    if value is None:
        return "null"
    if isinstance(value, Code):
        return "javascript" if value.scope is None else "javascriptWithScope"
    if isinstance(value, str):
        return "string"
    for types, name in _NAMES:
        if isinstance(value, types):
            return name
    msg = f"no BSON type name for Python type {type(value).__name__}"
    raise TypeError(msg)


def binary_subtype(value: t.Any) -> int | None:
    if isinstance(value, Binary):
        return int(value.subtype)
    if isinstance(value, bytes):
        return 0
    if isinstance(value, uuid.UUID):
        return 4
    return None


FORMAT_PREFIX = "x-bson-"


def format_for(bson_type: str, subtype: int | None = None) -> str:
    """``x-bson-objectid``, ``x-bson-long`` ..., ``x-bson-bindata-5`` for one binary subtype."""
    name = FORMAT_PREFIX + bson_type.lower()
    return f"{name}-{subtype}" if bson_type == "binData" and subtype is not None else name


_TYPE_BY_FORMAT = {FORMAT_PREFIX + name.lower(): name for name in ANNOTATED_TYPES}


def parse_format(schema_format: str) -> tuple[str, int | None] | None:
    """(BSON type, binary subtype) named by an ``x-bson-*`` format, or None for any other."""
    if not schema_format.startswith(FORMAT_PREFIX):
        return None
    if schema_format in _TYPE_BY_FORMAT:
        return _TYPE_BY_FORMAT[schema_format], None
    base, _, subtype = schema_format.rpartition("-")
    if base == FORMAT_PREFIX + "bindata" and subtype.isdigit():
        return "binData", int(subtype)
    return None
