"""Where a replication key (a dotted path such as `meta.updated_at`) sits in a stream's schema.

The SDK looks a replication key up as a top-level property only and raises when it is not
one, which made nested keys, envelope records and collections without the key crash the
tap. This lookup follows the path through nested objects and union branches instead.
"""

from __future__ import annotations

import typing as t


def _branches(node: t.Mapping[str, t.Any]) -> t.Iterator[t.Mapping[str, t.Any]]:
    yield node
    for union in ("anyOf", "oneOf"):
        for branch in node.get(union) or ():
            yield from _branches(branch)


def schema_at_path(schema: t.Mapping[str, t.Any], path: str) -> dict[str, t.Any] | None:
    """The schema of the field at `path`, or None when no branch of the schema declares it."""
    nodes: list[t.Mapping[str, t.Any]] = [schema]
    for part in path.split("."):
        nodes = [
            branch["properties"][part]
            for node in nodes
            for branch in _branches(node)
            if isinstance(branch.get("properties"), dict) and part in branch["properties"]
        ]
        if not nodes:
            return None
    return dict(nodes[0])


def is_datetime_key(schema: t.Mapping[str, t.Any], path: str) -> bool:
    """Whether the key at `path` is declared a date-time (False when it is not declared)."""
    found = schema_at_path(schema, path)
    return found is not None and any(branch.get("format") == "date-time" for branch in _branches(found))
