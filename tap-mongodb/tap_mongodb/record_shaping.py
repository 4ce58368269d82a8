"""A stream's full shape for column-oriented destinations: de-nesting, then columns.

Built from the schema the sample inferred (kept in the catalog's `mongodb-schema` metadata
when shaping is on, so a run with a catalog shapes records exactly as discovery shaped the
schema).
"""

from __future__ import annotations

import typing as t

from tap_mongodb.array_denesting import ChildStreamSpec, DenestPlan
from tap_mongodb.column_shaping import ColumnPlan

SHAPING_SETTINGS = ("denest_arrays", "flattening_enabled", "safe_column_names", "max_columns")


def shaping_requested(config: t.Mapping[str, t.Any]) -> bool:
    return any(config.get(name) for name in SHAPING_SETTINGS)


class StreamShape:
    """How a stream's documents become its records and its child streams' rows.

    Rebuilt when the stream's schema widens, from the wider schema and the `previous` shape,
    so child streams stay the same set and columns are only ever added.
    """

    def __init__(
        self,
        stream_id: str,
        inferred_schema: dict[str, t.Any],
        config: t.Mapping[str, t.Any],
        previous: StreamShape | None = None,
    ) -> None:
        self.denest = (
            DenestPlan(inferred_schema, child_streams=list(previous.children) if previous else None)
            if config.get("denest_arrays")
            else None
        )
        parent_schema = self.denest.parent_schema if self.denest else inferred_schema
        self.parent = ColumnPlan(stream_id, parent_schema, ["_id"], config, previous.parent if previous else None)
        specs = self.denest.children if self.denest else []
        self.children: dict[str, tuple[ChildStreamSpec, ColumnPlan]] = {
            spec.suffix: (
                spec,
                ColumnPlan(
                    f"{stream_id}__{spec.suffix}",
                    spec.schema,
                    spec.key_properties,
                    config,
                    previous.children[spec.suffix][1] if previous and spec.suffix in previous.children else None,
                ),
            )
            for spec in specs
        }

    def shape(self, record: dict[str, t.Any]) -> tuple[dict[str, t.Any], dict[str, list[dict[str, t.Any]]]]:
        """The parent record and every child stream's rows, all in their column shape."""
        rows: dict[str, list[dict[str, t.Any]]] = {}
        if self.denest is not None:
            record, rows = self.denest.split(record)
        shaped_rows = {suffix: [self.children[suffix][1].shape(row) for row in items] for suffix, items in rows.items()}
        return self.parent.shape(record), shaped_rows
