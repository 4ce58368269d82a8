"""Nested documents to columns (`flattening_enabled`), with nothing lost when a field changes type.

The SDK's settings and naming: `flattening_max_depth` levels of subdocuments become columns
named by their path joined with `flattening_separator`; deeper documents and arrays become
JSON text. Unlike the SDK's own flattening, a field that holds a document in some records and
something else in others keeps both: the document's fields become columns and the other
values stay in the field's own column (the SDK drops them). Key properties (`_id`, the
source key of array rows) are never spread over columns: a document-valued key becomes one
JSON text column, so every record keeps a usable key.
"""

from __future__ import annotations

import typing as t

from singer_sdk.singerlib.json import serialize_json

from mongodb_common.cli_errors import ConnectorError

Path = tuple[str, ...]


class ColumnCollisionError(ConnectorError):
    """Two fields would land in one column; names the stream and the column."""


def _types(schema: t.Mapping[str, t.Any]) -> set[str]:
    declared = schema.get("type", [])
    return {declared} if isinstance(declared, str) else set(declared)


def _json_text_column(schema: t.Mapping[str, t.Any], *, nullable: bool) -> dict[str, t.Any]:
    """A column holding documents and arrays as JSON text, beside any scalar values."""
    types = (_types(schema) - {"object", "array"}) | {"string"}
    types = types | {"null"} if nullable or "null" in _types(schema) else types - {"null"}
    ordered = sorted(types, key=lambda name: (name == "null", name))
    return {"type": ordered[0] if len(ordered) == 1 else ordered}


def _without_documents(schema: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """The column for a field's values that are not documents."""
    kept = {key: value for key, value in schema.items() if key not in {"properties", "type"}}
    remaining = sorted(_types(schema) - {"object"} | {"null"}, key=lambda name: (name == "null", name))
    kept["type"] = remaining
    if "array" in remaining:
        return _json_text_column(kept, nullable=True)
    return kept


class FlatteningPlan:
    """Computed once from a (document-level) schema: the columns, and how records reach them."""

    def __init__(
        self, stream: str, schema: dict[str, t.Any], max_level: int, separator: str, keys: t.Collection[str]
    ) -> None:
        self._stream = stream
        self._max_level = max_level
        self._separator = separator
        self._keys = frozenset(keys)
        self.expanded: set[Path] = set()
        self.columns: dict[str, t.Any] = {}
        self._json_columns: set[str] = set()
        self._visit(schema.get("properties", {}), (), 0)

    def _add(self, column: str, schema: t.Any) -> None:
        if column in self.columns:
            msg = (
                f"stream {self._stream!r}: two fields flatten into the column {column!r} (a field "
                f"named with the separator {self._separator!r}); change flattening_separator"
            )
            raise ColumnCollisionError(msg)
        self.columns[column] = schema

    def _visit(self, properties: t.Mapping[str, t.Any], prefix: Path, level: int) -> None:
        for name, schema in properties.items():
            path = (*prefix, name)
            column = self._separator.join(path)
            if not isinstance(schema, dict) or "type" not in schema:
                self._add(column, schema if isinstance(schema, dict) else {})
                continue
            types = _types(schema)
            is_key = not prefix and name in self._keys
            if "object" in types and "properties" in schema and level < self._max_level and not is_key:
                if types - {"object", "null"}:
                    self._add(column, _without_documents(schema))
                    self._json_columns.add(column)  # arrays among the other values
                self.expanded.add(path)
                self._visit(schema["properties"], path, level + 1)
            elif types & {"object", "array"} and (self._max_level > 0 or is_key):
                self._add(column, _json_text_column(schema, nullable=not is_key))
                self._json_columns.add(column)
            else:
                self._add(column, schema)

    def flatten(self, record: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {}
        self._flatten_into(out, record, ())
        return out

    def _flatten_into(self, out: dict[str, t.Any], document: t.Mapping[str, t.Any], prefix: Path) -> None:
        for name, value in document.items():
            path = (*prefix, name)
            if isinstance(value, dict) and path in self.expanded:
                self._flatten_into(out, value, path)
                continue
            column = self._separator.join(path)
            if isinstance(value, (dict, list)) and column in self._json_columns:
                out[column] = serialize_json(value)
            else:
                out[column] = value
