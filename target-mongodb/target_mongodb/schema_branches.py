"""Any JSON Schema as the list of alternatives ("branches") a value may take.

Type restoration (record_restoration.py) needs to know, for a value, which parts of the
schema describe it: a union (`"type": [...]`, `anyOf`, `oneOf`) offers several, `allOf` and
`$ref` combine several into one. This module flattens all of that into branches: each a set
of JSON types with what the schema says about values of those types (`format`,
`properties`, `items` ...). Keywords that only constrain (`minimum`, `enum`, `not`,
`if`/`then`/`else` ...) are left to the validator; they never change what a value becomes.

- `true`, `{}`, or a schema without `type`: one branch admitting every JSON type.
- `false`: no branch (nothing is valid).
- `anyOf`/`oneOf`: the branches of each option, each narrowed by the schema's own keywords.
- `allOf`, and `$ref` with sibling keywords: every combination of the parts' branches,
  narrowed to what all of them admit.
- `$ref`: local references (`#`, `#/definitions/x`, `#/$defs/x`, any JSON pointer into the
  stream's schema) are followed; others are treated as open (`true`).
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

JSON_TYPES = frozenset({"null", "boolean", "integer", "number", "string", "object", "array"})
# Beyond this many alternatives (a product of large unions), restoration gives up on
# precision and treats the value as described by an open schema.
MAX_BRANCHES = 64
_MAX_REF_DEPTH = 32

Schema = t.Any  # a JSON Schema: a dict, or a boolean


@dataclasses.dataclass(frozen=True)
class Branch:
    """One alternative of a schema: the JSON types it admits and what it says about them.

    `None` for a keyword means the schema does not use it. Sub-schemas are kept as given
    (compiled lazily by the caller), combined with `{"allOf": [...]}` where parts overlap.
    """

    types: frozenset[str]
    format: str | None = None
    properties: tuple[tuple[str, Schema], ...] | None = None
    pattern_properties: tuple[tuple[str, Schema], ...] = ()
    additional_properties: Schema | None = None
    items: Schema | None = None
    prefix_items: tuple[Schema, ...] | None = None

    @property
    def open(self) -> bool:
        """Admits any value and says nothing about it."""
        return self == OPEN


OPEN = Branch(types=JSON_TYPES)


class SchemaResolver:
    """Follows local `$ref` pointers within one stream schema."""

    def __init__(self, root: Schema) -> None:
        self.root = root

    def resolve(self, reference: str) -> Schema:
        """The schema a local reference points to; `True` (open) for any other reference."""
        if reference == "#":
            return self.root
        if not reference.startswith("#/"):
            return True
        node = self.root
        for raw in reference[2:].split("/"):
            part = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return True
        return node


def branches(schema: Schema, resolver: SchemaResolver, depth: int = 0) -> list[Branch]:
    """The alternatives `schema` allows, each with the JSON types it admits."""
    if schema is False:
        return []
    if not isinstance(schema, dict) or depth > _MAX_REF_DEPTH:
        return [OPEN]
    narrowing: list[list[Branch]] = []
    reference = schema.get("$ref")
    if isinstance(reference, str):
        narrowing.append(branches(resolver.resolve(reference), resolver, depth + 1))
    for keyword in ("anyOf", "oneOf"):
        options = schema.get(keyword)
        if isinstance(options, list):
            narrowing.append([branch for option in options for branch in branches(option, resolver, depth + 1)])
    parts = schema.get("allOf")
    if isinstance(parts, list):
        narrowing.extend(branches(part, resolver, depth + 1) for part in parts)
    result = [_own_branch(schema)]
    for alternatives in narrowing:
        if len(result) * len(alternatives) > MAX_BRANCHES:
            return [OPEN]  # too many combinations: give up on precision, never on the value
        result = _combine(result, alternatives)
    return result


def _own_branch(schema: dict[str, t.Any]) -> Branch:
    """What the schema's own keywords (not its combinators) say."""
    declared = schema.get("type")
    if isinstance(declared, str):
        types = frozenset({declared}) & JSON_TYPES
    elif isinstance(declared, list):
        types = frozenset(name for name in declared if isinstance(name, str)) & JSON_TYPES
    else:
        types = JSON_TYPES
    schema_format = schema.get("format")
    properties = schema.get("properties")
    patterns = schema.get("patternProperties")
    items = schema.get("items")
    prefix = schema.get("prefixItems")
    if isinstance(items, list):  # draft 4-7 tuple form: positions, then additionalItems
        prefix, items = items, schema.get("additionalItems")
    return Branch(
        types=types,
        format=schema_format if isinstance(schema_format, str) else None,
        properties=tuple(properties.items()) if isinstance(properties, dict) else None,
        pattern_properties=tuple(patterns.items()) if isinstance(patterns, dict) else (),
        additional_properties=schema.get("additionalProperties"),
        items=items,
        prefix_items=tuple(prefix) if isinstance(prefix, list) else None,
    )


def _combine(left: list[Branch], right: list[Branch]) -> list[Branch]:
    """Every pairing of a left and a right branch that admits some type."""
    combined = []
    for one in left:
        for other in right:
            both = _intersect(one, other)
            if both.types:
                combined.append(both)
    return combined


def _both(one: Schema | None, other: Schema | None) -> Schema | None:
    if one is None:
        return other
    if other is None:
        return one
    return {"allOf": [one, other]}


def _intersect(one: Branch, other: Branch) -> Branch:
    if one.open:
        return other
    if other.open:
        return one
    properties: dict[str, Schema] | None = None
    if one.properties is not None or other.properties is not None:
        properties = dict(one.properties or ())
        for name, schema in other.properties or ():
            properties[name] = _both(properties.get(name), schema)
    prefix: tuple[Schema, ...] | None = None
    if one.prefix_items is not None or other.prefix_items is not None:
        a, b = one.prefix_items or (), other.prefix_items or ()
        prefix = tuple(_both(*pair) for pair in _zip_longest(a, b))
    return Branch(
        types=one.types & other.types,
        format=one.format or other.format,
        properties=tuple(properties.items()) if properties is not None else None,
        pattern_properties=one.pattern_properties + other.pattern_properties,
        additional_properties=_both(one.additional_properties, other.additional_properties),
        items=_both(one.items, other.items),
        prefix_items=prefix,
    )


def _zip_longest(a: tuple[Schema, ...], b: tuple[Schema, ...]) -> list[tuple[Schema | None, Schema | None]]:
    length = max(len(a), len(b))
    return [(a[i] if i < len(a) else None, b[i] if i < len(b) else None) for i in range(length)]


def property_schemas(branch: Branch, name: str) -> list[Schema]:
    """The schemas that apply to property `name` of an object described by `branch`.

    As JSON Schema says: its `properties` entry and every matching `patternProperties`
    entry; `additionalProperties` only when neither applies. Empty when nothing is said.
    """
    found = [schema for key, schema in branch.properties or () if key == name]
    for pattern, schema in branch.pattern_properties:
        if _matches(pattern, name):
            found.append(schema)
    if not found and branch.additional_properties is not None:
        found.append(branch.additional_properties)
    return found


def _matches(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None
    except re.error:
        return False  # a pattern Python cannot read (ECMA-only syntax) says nothing here
