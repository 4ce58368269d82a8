"""JSON Schemas inferred from sampled documents.

The schema describes the *encoded* records the tap will emit (see mongodb_common's
bson_codec), so SCHEMA and RECORD messages always agree: in plain encoding a datetime is a
``date-time`` string and a Timestamp an object ``{t, i}``; in extended_json encoding an
ObjectId is the object ``{"$oid": ...}``. In plain encoding, a field whose sampled values all
share one BSON type that JSON cannot show (ObjectId, Int64, Decimal128 ...) gets a
``format`` naming it (``x-bson-objectid`` ...; see mongodb_common.bson_codec.type_names).

Every field is nullable, because a field missing from one document is as normal in MongoDB
as a null, and objects keep JSON Schema's default of allowing properties the sample never
saw, so such fields are still emitted.
"""

from __future__ import annotations

import datetime
import math
import re
import typing as t
import uuid

from bson import Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS

from mongodb_common.bson_codec import EXTENDED_JSON, encode_extended_json
from mongodb_common.bson_codec.decimal128 import decimal_from
from mongodb_common.bson_codec.singer_encoding import LITERAL, is_lookalike
from mongodb_common.bson_codec.type_names import (
    ANNOTATED_TYPES,
    binary_subtype,
    bson_type_name,
    format_for,
)

# Elements of one array read for the schema: long arrays of alike subdocuments (histories,
# line items) would otherwise dominate discovery time without telling anything new.
ITEMS_OBSERVED_PER_ARRAY = 50

# Spelled out rather than `{}`: the SDK and many targets need a "type" on every property.
ANY_JSON_TYPES = ("array", "boolean", "integer", "number", "object", "string", "null")

_SCALAR_STRING_TYPES = (str, ObjectId, Regex, re.Pattern, MinKey, MaxKey, bytes, uuid.UUID)


class _Node:
    """What the sample showed at one position of the document tree."""

    __slots__ = ("bson_types", "formats", "items", "properties", "subtypes", "types")

    def __init__(self) -> None:
        self.types: set[str] = set()
        self.bson_types: set[str] = set()
        self.subtypes: set[int | None] = set()
        self.formats: set[str | None] = set()
        self.properties: dict[str, _Node] = {}
        self.items: _Node | None = None

    def child(self, key: str) -> _Node:
        node = self.properties.get(key)
        if node is None:
            node = self.properties[key] = _Node()
        return node

    def item_node(self) -> _Node:
        if self.items is None:
            self.items = _Node()
        return self.items


def _plain_scalar(value: t.Any) -> tuple[str, str | None]:  # noqa: PLR0911 - one branch per BSON type
    """JSON type and format of a scalar in plain encoding (mirrors encode_plain)."""
    if isinstance(value, bool):
        return "boolean", None
    if isinstance(value, (int, Int64)):
        return "integer", None
    if isinstance(value, float):
        return ("number", None) if math.isfinite(value) else ("string", None)
    if isinstance(value, Decimal128):
        number = decimal_from(value)
        in_double_range = number.is_finite() and (not number or -308 <= number.adjusted() <= 308)
        return ("number", None) if in_double_range else ("string", None)
    if isinstance(value, datetime.datetime):
        return "string", "date-time"
    if isinstance(value, DatetimeMS):
        return "string", None  # expanded-year text that date-time validators reject
    if isinstance(value, Binary) and value.subtype == 4 and len(value) == 16:
        return "string", "uuid"
    if isinstance(value, uuid.UUID):
        return "string", "uuid"
    if isinstance(value, Code):
        return ("string", None) if value.scope is None else ("object", None)
    if isinstance(value, (*_SCALAR_STRING_TYPES, Binary)):
        return "string", None
    if isinstance(value, Timestamp):
        return "object", None
    msg = f"no schema mapping for Python type {type(value).__name__}"
    raise TypeError(msg)


def _plain_object(value: t.Any) -> dict[str, t.Any] | None:
    """The object a BSON value becomes in plain encoding, if it becomes one."""
    if isinstance(value, DBRef):
        return dict(value.as_doc())
    if isinstance(value, Timestamp):
        return {"t": value.time, "i": value.inc}
    if isinstance(value, Code) and value.scope is not None:
        return {"$code": str(value), "$scope": value.scope}
    return None


class SchemaInferrer:
    """Accumulates observed documents, then renders one JSON Schema for all of them."""

    def __init__(self, encoding: str) -> None:
        self._extended = encoding == EXTENDED_JSON
        self._root = _Node()
        self.document_count = 0

    def observe(self, document: t.Mapping[str, t.Any]) -> None:
        self.document_count += 1
        self._observe_object(self._root, document)

    def _observe_object(self, node: _Node, document: t.Mapping[str, t.Any]) -> None:
        node.types.add("object")
        for key, value in document.items():
            self._observe(node.child(key), value)

    def _observe(self, node: _Node, value: t.Any) -> None:
        if not self._extended:
            node.bson_types.add(bson_type_name(value))
            if isinstance(value, (bytes, Binary, uuid.UUID)):
                node.subtypes.add(binary_subtype(value))
        if value is None:
            node.types.add("null")
        elif isinstance(value, dict) and is_lookalike(value):
            # The codec escapes a document looking like an Extended JSON wrapper.
            node.types.add("object")
            self._observe_object(node.child(LITERAL), value)
        elif isinstance(value, dict):
            self._observe_object(node, value)
        elif isinstance(value, (list, tuple)):
            node.types.add("array")
            items = node.item_node()
            for item in value[:ITEMS_OBSERVED_PER_ARRAY]:
                self._observe(items, item)
        elif self._extended:
            self._observe_json(node, encode_extended_json(value))
        elif (as_object := _plain_object(value)) is not None:
            self._observe_object(node, as_object)
        else:
            json_type, json_format = _plain_scalar(value)
            node.types.add(json_type)
            if json_type == "string":
                node.formats.add(json_format)

    def _observe_json(self, node: _Node, value: t.Any) -> None:
        """Observe an already-encoded Extended JSON value (wrappers become objects)."""
        if isinstance(value, dict):
            node.types.add("object")
            for key, item in value.items():
                self._observe_json(node.child(key), item)
        elif isinstance(value, bool):
            node.types.add("boolean")
        elif isinstance(value, int):
            node.types.add("integer")
        elif isinstance(value, float):
            node.types.add("number")
        elif isinstance(value, str):
            node.types.add("string")
            node.formats.add(None)
        else:
            self._observe(node, value)

    def schema(self) -> dict[str, t.Any]:
        """The stream schema; `_id` is never null, every other field may be."""
        root = _render(self._root, nullable=False)
        id_node = self._root.properties.get("_id")
        properties = root.setdefault("properties", {})
        if id_node is None:
            properties["_id"] = _default_id_schema(self._extended)
        else:
            properties["_id"] = _render(id_node, nullable=False)
        root["type"] = "object"
        root["required"] = ["_id"]
        return root


def _default_id_schema(extended: bool) -> dict[str, t.Any]:
    """For an empty collection: the ObjectId every driver generates by default."""
    if extended:
        return {"type": "object", "properties": {"$oid": {"type": "string"}}}
    return {"type": "string", "format": format_for("objectId")}


def _render(node: _Node, *, nullable: bool = True) -> dict[str, t.Any]:
    types = set(node.types)
    if types == {"null"}:
        return {"type": list(ANY_JSON_TYPES)}  # only ever null in the sample: allow anything
    if "integer" in types and "number" in types:
        types.discard("integer")
    if nullable:
        types.add("null")
    else:
        types.discard("null")
    schema: dict[str, t.Any] = {}
    if types:
        ordered = sorted(types, key=lambda name: (name == "null", name))
        schema["type"] = ordered[0] if len(ordered) == 1 else ordered
    if "object" in types:
        schema["properties"] = {key: _render(child) for key, child in node.properties.items()}
    if "array" in types:
        schema["items"] = _render(node.items) if node.items is not None and node.items.types else {}
    if types - {"null"} == {"string"} and len(node.formats) == 1:
        (only_format,) = node.formats
        if only_format:
            schema["format"] = only_format
    _annotate_bson_type(schema, node)
    return schema


def _annotate_bson_type(schema: dict[str, t.Any], node: _Node) -> None:
    """An ``x-bson-*`` format where plain JSON hides the type and the sample shows only one.

    Dates keep ``date-time`` (understood by every target) unless a year is out of its
    range; a UUID keeps ``uuid``. target-mongodb restores the exact type from either.
    """
    bson_types = node.bson_types - {"null"}
    if len(bson_types) != 1:
        return
    (bson_type,) = bson_types
    if bson_type not in ANNOTATED_TYPES or schema.get("format") in {"date-time", "uuid"}:
        return
    subtype = next(iter(node.subtypes)) if bson_type == "binData" and len(node.subtypes) == 1 else None
    schema["format"] = format_for(bson_type, subtype)


def infer_schema(documents: t.Iterable[t.Mapping[str, t.Any]], encoding: str) -> dict[str, t.Any]:
    inferrer = SchemaInferrer(encoding)
    for document in documents:
        inferrer.observe(document)
    return inferrer.schema()


def envelope_schema(id_schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """Schema of the envelope form: the `_id` plus the whole document as one object."""
    return {
        "type": "object",
        "properties": {
            "_id": id_schema,
            "document": {"type": ["object", "null"], "properties": {}},
        },
        "required": ["_id"],
    }
