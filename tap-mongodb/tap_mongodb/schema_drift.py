"""What a stream does when a document does not fit the schema it declared (docs/schema-evolution.md).

Policies, per stream (catalog metadata `schema-drift`) or for all (`schema_drift` setting):

- `widen`: the property's schema grows to admit the new type (a union of what was seen).
- `split`: the value moves to a sibling property named after its type (`price__string`); the
  original property keeps its type, so column-oriented destinations only ever add columns.
- `fail`: stop at once, naming the stream, the field path, the document's `_id`, the type
  declared and the type seen.
- `auto` (default): `split` with the `plain` encoding (destinations that map properties to
  typed columns), `widen` with `extended_json` (the values carry their BSON types, so a
  MongoDB copy stays exact).

Under every policy, a field the schema did not declare is added to it (an object schema
admits unknown properties, but most targets would drop their values), `_id` is never split
(it is the key), and elements of arrays widen the array's item schema.
"""

from __future__ import annotations

import typing as t

from mongodb_common.bson_codec import EXTENDED_JSON
from mongodb_common.bson_codec.singer_encoding import is_lookalike
from mongodb_common.cli_errors import ConnectorError
from mongodb_common.singer_fields import DELETED_AT
from tap_mongodb.schema_conformance import ConformanceChecker, holds_object_like_scalars
from tap_mongodb.schema_tree import STRING_FORMATS, SchemaNode, render, render_document

if t.TYPE_CHECKING:
    from tap_mongodb.schema_inference import ValueObserver

AUTO, WIDEN, SPLIT, FAIL = "auto", "widen", "split", "fail"
POLICIES = (AUTO, WIDEN, SPLIT, FAIL)
SEPARATOR = "__"
_FORMAT_SUFFIXES = {"date-time": "datetime", "uuid": "uuid"}


class SchemaDriftError(ConnectorError):
    """A value does not fit its declared type and the stream's policy is `fail`."""


def effective_policy(policy: str, encoding: str) -> str:
    if policy == AUTO:
        return WIDEN if encoding == EXTENDED_JSON else SPLIT
    return policy


def type_label(schema: t.Any) -> str:
    """A schema's type as a person reads it: `integer`, `string (date-time)`, `object`..."""
    if not isinstance(schema, dict) or "type" not in schema:
        return "any"
    declared = schema["type"]
    names = [declared] if isinstance(declared, str) else [name for name in declared if name != "null"]
    label = " or ".join(names) or "null"
    return f"{label} ({schema['format']})" if schema.get("format") else label


class DriftGuard:
    """Keeps one stream's declared schema (the node tree) and admits documents into it.

    `admit` returns the document to emit (rewritten under `split`) and whether the declared
    schema changed, in which case the caller declares the new schema before the record;
    `admit_encoded` returns the record instead (the document encoded).
    """

    def __init__(
        self, stream: str, root: SchemaNode, observer: ValueObserver, policy: str, *, decimals_as_text: bool = False
    ) -> None:
        self.stream = stream
        self.root = root
        self._observer = observer
        self._checker = ConformanceChecker(observer, decimals_as_text=decimals_as_text)
        self._policy = policy
        self._document_id: t.Any = None
        self._changes: list[str] = []

    def take_changes(self) -> list[str]:
        """What the last admissions changed, as log lines (then forgotten)."""
        changes, self._changes = self._changes, []
        return changes

    @property
    def schema(self) -> dict[str, t.Any]:
        return render_document(self.root, self._observer.extended)

    def admit(self, document: dict[str, t.Any]) -> tuple[dict[str, t.Any], bool]:
        if self._checker.document_fits(document, self.root):
            return document, False
        return self._admit_drifted(document)

    def encode_if_fits(self, document: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """The document's record if it fits the declared schema as it stands, else None (nothing changes)."""
        return self._checker.encode_if_fits(document, self.root)

    def admit_encoded(self, document: dict[str, t.Any]) -> tuple[dict[str, t.Any], bool]:
        """As `admit`, but the document's record, encoded: what the tap emits.

        A document that fits is encoded by the same walk that checks it (each value visited
        once); one that does not is admitted as by `admit`, then encoded.
        """
        record = self.encode_if_fits(document)
        if record is not None:
            return record, False
        admitted, changed = self._admit_drifted(document)
        return self._checker.encode(admitted), changed

    def _admit_drifted(self, document: dict[str, t.Any]) -> tuple[dict[str, t.Any], bool]:
        before = render(self.root, nullable=False)
        self._document_id = document.get("_id")
        admitted = self._admit_object(document, self.root, [])
        self.root.settle()
        self.root.clear_memos()
        changed = render(self.root, nullable=False) != before
        if not changed:
            self._changes.clear()
        return admitted, changed

    def _admit_object(self, document: dict[str, t.Any], node: SchemaNode, path: list[str]) -> dict[str, t.Any]:
        if node.accepts_any or node.any_type:
            return document
        if path:
            self._observer.note_document(node)
        out: dict[str, t.Any] = {}
        for key, value in document.items():
            child = node.properties.get(key)
            if child is None:
                child = node.child(key)
                self._observer.observe(child, value)  # a new field: declared as it is
                self._changes.append(f"new field {'.'.join([*path, key])!r} ({type_label(render(child))})")
                out[key] = value
            elif self._checker.value_fits(value, child):
                out[key] = value
            else:
                new_key, admitted = self._admit_value(key, value, child, node, path)
                out[new_key] = admitted
        return out

    def _admit_value(
        self, key: str, value: t.Any, child: SchemaNode, parent: SchemaNode, path: list[str]
    ) -> tuple[str, t.Any]:
        """One value that does not fit its property: the key it goes under, and the value."""
        at = [*path, key]
        if _is_document(value) and "object" in child.types and not holds_object_like_scalars(child):
            return key, self._admit_object(value, child, at)  # the difference is inside: field by field
        if self._policy == FAIL:
            self._fail(at, value, child)
        is_key = not path and key in {"_id", DELETED_AT}  # never split: they identify the record
        seen = type_label(self._value_schema(value))
        if self._policy == SPLIT and not is_key and not self._same_column_type(value, child):
            sibling = f"{key}{SEPARATOR}{self._suffix(value)}"
            if sibling not in parent.properties:
                self._changes.append(f"field {'.'.join(at)!r} holds {seen}: split into {sibling!r}")
            key, at, child = sibling, [*path, sibling], parent.child(sibling)
        elif not _is_document(value):
            self._changes.append(f"field {'.'.join(at)!r} widened for {seen} ({type_label(render(child))} before)")
        if _is_document(value) and ("object" in child.types or not child.types):
            return key, self._admit_object(value, child, at)
        if isinstance(value, list):
            return key, self._admit_array(value, child, at)
        self._observer.observe(child, value)
        return key, value

    def _admit_array(self, values: list[t.Any], node: SchemaNode, path: list[str]) -> list[t.Any]:
        """Elements widen the item schema; fields of document elements follow the policy (rows
        of a de-nested array are columns too)."""
        if node.accepts_any or node.any_type:
            return values
        node.types.add("array")
        if not self._observer.extended:
            node.bson_types.add("array")
        items = node.item_node()
        admitted = []
        for value in values:
            if self._checker.value_fits(value, items):
                admitted.append(value)
            elif _is_document(value) and ("object" in items.types or not items.types):
                admitted.append(self._admit_object(value, items, [*path, "[]"]))
            elif isinstance(value, list):
                admitted.append(self._admit_array(value, items, [*path, "[]"]))
            else:
                self._changes.append(f"items of {'.'.join(path)!r} widened for {type_label(self._value_schema(value))}")
                self._observer.observe(items, value)
                admitted.append(value)
        return admitted

    def _same_column_type(self, value: t.Any, child: SchemaNode) -> bool:
        """The value differs only where destinations' column types do not (`x-bson-*` formats,
        content of documents and arrays): widened in place, never split."""
        own = self._value_schema(value)
        declared = render(child)
        own_types, declared_types = _types(own), _types(declared)
        if "integer" in own_types and "number" in declared_types:
            own_types = (own_types - {"integer"}) | {"number"}
        if not own_types - {"null"} <= declared_types:
            return False
        declared_format = declared.get("format") if isinstance(declared, dict) else None
        own_format = own.get("format") if isinstance(own, dict) else None
        if declared_format in STRING_FORMATS and "string" in own_types:
            return own_format == declared_format
        return True

    def _value_schema(self, value: t.Any) -> t.Any:
        node = SchemaNode()
        self._observer.observe(node, value)
        return render(node)

    def _suffix(self, value: t.Any) -> str:
        """The type a split-off value's property is named after: `string`, `datetime`, `oid`..."""
        schema = self._value_schema(value)
        names = sorted(_types(schema) - {"null"})
        name = names[0] if names else "null"
        if name == "string" and schema.get("format") in _FORMAT_SUFFIXES:
            return _FORMAT_SUFFIXES[schema["format"]]
        if name == "object" and not isinstance(value, dict) and self._observer.extended:
            wrapper = next(iter(schema.get("properties", {})), "")
            return wrapper.lstrip("$") or name
        return name

    def _fail(self, at: list[str], value: t.Any, child: SchemaNode) -> t.NoReturn:
        msg = (
            f"stream {self.stream!r}: field {'.'.join(at)!r} of the document with _id "
            f"{self._document_id!r} is {type_label(self._value_schema(value))}, but the stream declares "
            f"{type_label(render(child))} (schema_drift is 'fail'; set it to 'widen' or 'split' to go on)"
        )
        raise SchemaDriftError(msg)


def _is_document(value: t.Any) -> bool:
    return isinstance(value, dict) and not is_lookalike(value)


def _types(schema: t.Any) -> set[str]:
    if not isinstance(schema, dict) or "type" not in schema:
        return {"array", "boolean", "integer", "number", "object", "string", "null"}
    declared = schema["type"]
    return {declared} if isinstance(declared, str) else set(declared)
