"""Arrays to child streams (Stitch-style de-nesting), for destinations without nested types.

With `denest_arrays`, every array a stream's schema describes becomes a child stream named
`<parent>__<path>` (path parts joined by `__`): one row per element, carrying the parent
document's `_id` as `_sdc_source_key__id` and the element's position at every array level as
`_sdc_level_0_id`, `_sdc_level_1_id`, ... so a destination can join rows back to their parent
and rebuild the order. An element that is an object contributes its fields; any other
element is in `value`. Arrays inside elements (or an element that is itself an array, in
`value`) become the next level's child stream. The parent record no longer holds its arrays.

Every parent record and its child rows carry the same `_sdc_denest_version`, increasing with
each emission of that parent: child rows of the parent with an older version are elements
that no longer exist (see docs/nested-data.md). target-mongodb deletes them.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
import typing as t

from mongodb_common.singer_fields import DENEST_VERSION, SOURCE_KEY, level_key
from tap_mongodb.schema_tree import ANY_JSON_TYPES

VALUE = "value"
SEPARATOR = "__"


@dataclasses.dataclass
class ChildStreamSpec:
    """A child stream: the name suffix after `<parent>__`, its schema and key."""

    suffix: str
    schema: dict[str, t.Any]
    key_properties: list[str]


@dataclasses.dataclass
class _ArrayNode:
    suffix: str
    level: int
    element: _ObjectNode


@dataclasses.dataclass
class _ObjectNode:
    """Where arrays hide inside an object: a field holding an array, or an object holding some."""

    arrays: dict[str, _ArrayNode] = dataclasses.field(default_factory=dict)
    objects: dict[str, _ObjectNode] = dataclasses.field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not self.arrays and not self.objects


def _types(schema: t.Mapping[str, t.Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _without_array_type(schema: dict[str, t.Any]) -> dict[str, t.Any] | None:
    """The schema of the values that stay in the parent when a field is sometimes an array."""
    remaining = [name for name in sorted(_types(schema)) if name not in {"array", "null"}]
    if not remaining:
        return None
    kept = {key: value for key, value in schema.items() if key != "items"}
    kept["type"] = [*remaining, "null"]
    return kept


class DenestPlan:
    """Built once from a stream's schema: the parent's schema, the child streams, and the splitter."""

    def __init__(
        self, schema: dict[str, t.Any], *, max_levels: int = 20, child_streams: t.Collection[str] | None = None
    ) -> None:
        """`child_streams`: when given, only these arrays (by suffix) become child streams.

        A stream's child streams are fixed when it is discovered (they are catalog entries);
        an array that only appears later, when a field drifts to an array, stays in the
        parent record (as JSON text once flattened) until the next discovery.
        """
        self._max_levels = max_levels
        self._allowed = None if child_streams is None else frozenset(child_streams)
        self.children: list[ChildStreamSpec] = []
        id_schema = schema.get("properties", {}).get("_id", {"type": "string"})
        self._id_schema = {key: value for key, value in id_schema.items() if key != "required"}
        self.parent_schema, self._root = self._object(schema, path=[], level=0)
        if self.children:
            self.parent_schema["properties"][DENEST_VERSION] = {"type": ["integer", "null"]}
        self._versions = itertools.count(time.time_ns())

    # -- schema ---------------------------------------------------------------------

    def _object(self, schema: dict[str, t.Any], path: list[str], level: int) -> tuple[dict[str, t.Any], _ObjectNode]:
        node = _ObjectNode()
        shaped = {key: value for key, value in schema.items() if key != "properties"}
        properties: dict[str, t.Any] = {}
        for name, sub in schema.get("properties", {}).items():
            types = _types(sub)
            if "array" in types and level < self._max_levels and self._may_denest([*path, name]):
                node.arrays[name] = self._array(sub.get("items") or {}, [*path, name], level)
                remaining = _without_array_type(sub)
                if remaining is not None:
                    properties[name] = remaining
            elif "object" in types and sub.get("properties"):
                properties[name], inner = self._object(sub, [*path, name], level)
                if not inner.empty:
                    node.objects[name] = inner
            else:
                properties[name] = sub
        shaped["properties"] = properties
        return shaped, node

    def _may_denest(self, path: list[str]) -> bool:
        return self._allowed is None or SEPARATOR.join(path) in self._allowed

    def _array(self, items: dict[str, t.Any], path: list[str], level: int) -> _ArrayNode:
        suffix = SEPARATOR.join(path)
        keys = [SOURCE_KEY] + [level_key(n) for n in range(level + 1)]
        properties: dict[str, t.Any] = {SOURCE_KEY: self._id_schema}
        properties.update({key: {"type": "integer"} for key in keys[1:]})
        properties[DENEST_VERSION] = {"type": ["integer", "null"]}
        item_types = _types(items)
        element = _ObjectNode()
        if "object" in item_types:
            shaped, element = self._object(items, path, level + 1)
            properties.update(shaped["properties"])
        scalar_types = item_types - {"object", "null"}
        if scalar_types or not item_types:
            value_schema = {key: value for key, value in items.items() if key not in {"properties"}}
            if "object" in item_types:
                value_schema["type"] = sorted(scalar_types | {"null"})
            if not value_schema.get("type"):  # only empty arrays in the sample: any scalar
                value_schema["type"] = [name for name in ANY_JSON_TYPES if name not in {"array", "object"}]
            value_node = _ObjectNode()
            wrapped, value_node = self._object({"properties": {VALUE: value_schema or {}}}, path, level + 1)
            properties.update(wrapped["properties"])
            element.arrays.update(value_node.arrays)
        spec = ChildStreamSpec(suffix, {"type": "object", "properties": properties, "required": keys}, keys)
        self.children.append(spec)
        return _ArrayNode(suffix, level, element)

    # -- records --------------------------------------------------------------------

    def split(self, record: dict[str, t.Any]) -> tuple[dict[str, t.Any], dict[str, list[dict[str, t.Any]]]]:
        """The parent record without its arrays, and the rows of every child stream."""
        rows: dict[str, list[dict[str, t.Any]]] = {}
        if not self.children:
            return record, rows
        version = next(self._versions)
        keys = {SOURCE_KEY: record.get("_id"), DENEST_VERSION: version}
        parent = self._split_object(record, self._root, keys, [], rows)
        parent[DENEST_VERSION] = version
        return parent, rows

    def _split_object(
        self,
        document: dict[str, t.Any],
        node: _ObjectNode,
        keys: dict[str, t.Any],
        positions: list[int],
        rows: dict[str, list[dict[str, t.Any]]],
    ) -> dict[str, t.Any]:
        if node.empty:
            return document
        out: dict[str, t.Any] = {}
        for name, value in document.items():
            array = node.arrays.get(name)
            if array is not None and isinstance(value, list):
                self._explode(value, array, keys, positions, rows)
                continue
            inner = node.objects.get(name)
            if inner is not None and isinstance(value, dict):
                out[name] = self._split_object(value, inner, keys, positions, rows)
            else:
                out[name] = value
        return out

    def _explode(
        self,
        values: list[t.Any],
        array: _ArrayNode,
        keys: dict[str, t.Any],
        positions: list[int],
        rows: dict[str, list[dict[str, t.Any]]],
    ) -> None:
        target = rows.setdefault(array.suffix, [])
        for index, element in enumerate(values):
            at = [*positions, index]
            row: dict[str, t.Any] = {SOURCE_KEY: keys[SOURCE_KEY]}
            row.update({level_key(level): position for level, position in enumerate(at)})
            row[DENEST_VERSION] = keys[DENEST_VERSION]
            content = element if isinstance(element, dict) else {VALUE: element}
            row.update(self._split_object(content, array.element, keys, at, rows))
            target.append(row)
