"""What is known about the values at each path of a stream's documents, and the JSON Schema it declares.

A `SchemaNode` gathers what was seen at one position of the document tree: JSON types, BSON
type names, binary subtypes, string formats, child properties and array items. Sampling
fills nodes (schema_inference.py), drift handling widens them (schema_drift.py), and
`render` turns them into the JSON Schema the tap declares. `parse` reads a declared schema
back (from the catalog or from STATE), so a run continues from what earlier runs declared;
`render(parse(s)) == s` for every schema `render` produces.

Rendering rules (docs/bson-types.md, docs/schema-evolution.md): every property may be null
except `_id`; integer and number together become number; a string format (date-time, uuid)
only when all strings share it; an `x-bson-*` format only when one BSON type was seen that
plain JSON hides.
"""

from __future__ import annotations

import copy
import typing as t

from mongodb_common.bson_codec.type_names import ANNOTATED_TYPES, format_for, parse_format

# Spelled out rather than `{}`: the SDK and many targets need a "type" on every property.
ANY_JSON_TYPES = ("array", "boolean", "integer", "number", "object", "string", "null")
STRING_FORMATS = frozenset({"date-time", "uuid"})
# A BSON type set that is known to hold more than one type without saying which: read back
# from a schema without an `x-bson-*` format, it keeps the annotation off for good.
MIXED = "*"
_KNOWN_KEYWORDS = frozenset({"type", "format", "properties", "items", "required"})
# Keywords that describe without constraining, or that only forbid what the tap then declares.
_IGNORED_KEYWORDS = frozenset({"title", "description", "$comment", "examples", "default", "additionalProperties"})
_ANY_TYPES = frozenset(ANY_JSON_TYPES)


class SchemaNode:
    """Everything seen at one position of the document tree.

    `accepts_any`: a foreign schema the tap did not write (`{}`, `true`, `anyOf` ...), kept
    as given. `any_type`: the "any JSON type" list the tap declares for a field it only ever
    saw null. Every value fits either, and they stay as they are: a schema never narrows.
    """

    __slots__ = (
        "accepts_any",
        "any_type",
        "bson_types",
        "codecs",
        "decimals",
        "fast",
        "field_codecs",
        "finite_floats",
        "foreign",
        "formats",
        "items",
        "memo",
        "object_like",
        "properties",
        "subtypes",
        "types",
    )

    def __init__(self) -> None:
        self.types: set[str] = set()
        self.bson_types: set[str] = set()
        self.subtypes: set[int | None] = set()
        self.formats: set[str | None] = set()
        self.properties: dict[str, SchemaNode] = {}
        self.items: SchemaNode | None = None
        self.accepts_any = False
        self.any_type = False
        self.foreign: t.Any = None
        # What schema_conformance worked out for this node; forgotten whenever the tree changes.
        self.memo: dict[t.Any, bool] = {}
        self.fast: frozenset[type] | None = None
        self.finite_floats = False
        self.decimals = False
        self.object_like = False
        self.codecs: dict[type, t.Any] | None = None
        self.field_codecs: dict[str, dict[type, t.Any]] | None = None

    def child(self, key: str) -> SchemaNode:
        node = self.properties.get(key)
        if node is None:
            node = self.properties[key] = SchemaNode()
        return node

    def item_node(self) -> SchemaNode:
        if self.items is None:
            self.items = SchemaNode()
        return self.items

    def settle(self) -> None:
        """A field seen only as null, once declared, is declared as "any type": keep it so.

        Sampling still refines such a field from later documents; a declared schema must not,
        since "any type" narrowing to one type would take back what targets were promised.
        """
        if self.types == {"null"} and not self.accepts_any:
            self.any_type = True
            self.types = set(_ANY_TYPES)
        for node in self.properties.values():
            node.settle()
        if self.items is not None:
            self.items.settle()

    def clear_memos(self) -> None:
        self.memo.clear()
        self.fast = None
        self.codecs = None
        self.field_codecs = None
        for node in self.properties.values():
            node.clear_memos()
        if self.items is not None:
            self.items.clear_memos()

    def copy(self) -> SchemaNode:
        duplicate = copy.deepcopy(self)
        duplicate.clear_memos()
        return duplicate

    def level_copy(self, keys: t.Iterable[str]) -> SchemaNode:
        """This node's own facts with copies of only the named children, and no items.

        Enough to tell whether a scalar changes the node (a scalar reaches only the children
        its encoded object names): copying the whole subtree instead made every check of a
        deeply nested document cost the square of its depth.
        """
        duplicate = SchemaNode()
        duplicate.types = set(self.types)
        duplicate.bson_types = set(self.bson_types)
        duplicate.subtypes = set(self.subtypes)
        duplicate.formats = set(self.formats)
        duplicate.accepts_any, duplicate.any_type, duplicate.foreign = self.accepts_any, self.any_type, self.foreign
        for key in keys:
            child = self.properties.get(key)
            if child is not None:
                duplicate.properties[key] = child.copy()
        return duplicate


# ---------------------------------------------------------------------------------------
# rendering


def render(node: SchemaNode, *, nullable: bool = True) -> t.Any:
    """The JSON Schema declaring every value the node has seen."""
    if node.accepts_any:
        return copy.deepcopy(node.foreign)
    types = set(node.types)
    if node.any_type or types == {"null"}:
        return {"type": list(ANY_JSON_TYPES)}  # only ever null: allow anything
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
        schema["properties"] = {key: render(child) for key, child in node.properties.items()}
    if "array" in types:
        schema["items"] = render(node.items) if node.items is not None and _has_content(node.items) else {}
    if types - {"null"} == {"string"} and len(node.formats) == 1:
        (only_format,) = node.formats
        if only_format:
            schema["format"] = only_format
    _annotate_bson_type(schema, node)
    return schema


def _has_content(node: SchemaNode) -> bool:
    return bool(node.types) or node.accepts_any or node.any_type


def _annotate_bson_type(schema: dict[str, t.Any], node: SchemaNode) -> None:
    """An ``x-bson-*`` format where plain JSON hides the type and only one was seen.

    Dates keep ``date-time`` (understood by every target) unless a year is out of its
    range; a UUID keeps ``uuid``. target-mongodb restores the exact type from either.
    """
    bson_types = node.bson_types - {"null"}
    if len(bson_types) != 1:
        return
    (bson_type,) = bson_types
    if bson_type not in ANNOTATED_TYPES or schema.get("format") in STRING_FORMATS:
        return
    subtype = next(iter(node.subtypes)) if bson_type == "binData" and len(node.subtypes) == 1 else None
    schema["format"] = format_for(bson_type, subtype)


def render_document(root: SchemaNode, extended: bool) -> dict[str, t.Any]:
    """A stream schema: an object whose `_id` is never null (and always declared)."""
    schema = render(root, nullable=False)
    if not isinstance(schema, dict) or root.accepts_any:
        return t.cast("dict[str, t.Any]", schema)
    properties = schema.setdefault("properties", {})
    id_node = root.properties.get("_id")
    properties["_id"] = default_id_schema(extended) if id_node is None else render(id_node, nullable=False)
    schema["type"] = "object"
    schema["required"] = ["_id"]
    return schema


def default_id_schema(extended: bool) -> dict[str, t.Any]:
    """For an empty collection: the ObjectId every driver generates by default."""
    if extended:
        return {"type": "object", "properties": {"$oid": {"type": "string"}}}
    return {"type": "string", "format": format_for("objectId")}


# ---------------------------------------------------------------------------------------
# reading a declared schema back


def parse(schema: t.Any) -> SchemaNode:
    """The node a declared schema stands for: what any value fitting it may be."""
    node = SchemaNode()
    if (
        not isinstance(schema, dict)
        or not schema
        or set(schema) - _KNOWN_KEYWORDS - _IGNORED_KEYWORDS
        or "type" not in schema
    ):
        node.accepts_any, node.foreign = True, copy.deepcopy(schema)
        return node
    declared = schema["type"]
    types = {declared} if isinstance(declared, str) else set(declared)
    if types == _ANY_TYPES and "properties" not in schema and "items" not in schema:
        node.any_type = True
        node.types = set(types)
        return node
    node.types = types
    schema_format = schema.get("format")
    if "string" in types:
        node.formats = {schema_format if schema_format in STRING_FORMATS else None}
    annotation = parse_format(schema_format) if isinstance(schema_format, str) else None
    if annotation is not None:
        bson_type, subtype = annotation
        node.bson_types = {bson_type}
        node.subtypes = {subtype} if bson_type == "binData" else set()
    elif schema_format == "date-time":
        node.bson_types = {"date"}
    elif schema_format == "uuid":
        node.bson_types, node.subtypes = {"binData"}, {4}
    else:
        node.bson_types = {MIXED}
    if "object" in types:
        if "properties" not in schema:
            node.accepts_any, node.foreign = True, copy.deepcopy(schema)  # any object content
            return node
        node.properties = {key: parse(child) for key, child in schema["properties"].items()}
    if "array" in types:
        items = schema.get("items")
        if items:
            node.items = parse(items)
    return node


def merge_into(target: SchemaNode, source: SchemaNode) -> None:
    """Widen `target` by everything `source` declares (new properties keep their order)."""
    if target.accepts_any:
        return
    if source.accepts_any:
        target.accepts_any, target.foreign = True, copy.deepcopy(source.foreign)
        return
    target.any_type = target.any_type or source.any_type
    target.types |= source.types
    target.bson_types |= source.bson_types
    target.subtypes |= source.subtypes
    target.formats |= source.formats
    for key, child in source.properties.items():
        merge_into(target.child(key), child)
    if source.items is not None:
        merge_into(target.item_node(), source.items)
    target.clear_memos()


def add_missing(target: SchemaNode, source: SchemaNode) -> None:
    """Add to `target` the fields (at any depth) that only `source` declares; keep the rest.

    How the stream's declaration from earlier runs takes in a newer catalog: fields it never
    had are added, fields it has keep their declared types, and values of other types are
    then handled by the drift policy as they arrive (never by an altered column).
    """
    if target.accepts_any or target.any_type or source.accepts_any or source.any_type:
        return
    for key, child in source.properties.items():
        existing = target.properties.get(key)
        if existing is None:
            target.properties[key] = child.copy()
        else:
            add_missing(existing, child)
    if source.items is not None and target.items is not None:
        add_missing(target.items, source.items)
    target.clear_memos()
