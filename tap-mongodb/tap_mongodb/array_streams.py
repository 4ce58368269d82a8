"""Array child streams (`denest_arrays`): one per array of a collection's documents."""

from __future__ import annotations

import typing as t

from singer_sdk import Stream, metrics
from singer_sdk import singerlib as singer
from singer_sdk.helpers._catalog import get_selected_schema
from singer_sdk.helpers.conform import TypeConformanceLevel

from tap_mongodb.log_metrics import initial_sync_counter
from tap_mongodb.streams import discovered_metadata

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_mongodb.streams import CollectionStream
    from tap_mongodb.tap import TapMongoDB


class ArrayChildStream(Stream):
    """Rows of one array of a parent stream's documents (`denest_arrays`).

    Its rows are written by the parent while the parent reads its documents, so it follows
    the parent's replication method and needs no position of its own.
    """

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self, tap: TapMongoDB, parent: CollectionStream, suffix: str, schema: dict[str, t.Any], keys: list[str]
    ) -> None:
        super().__init__(tap, schema=schema, name=parent.info.child_stream_id(suffix))
        self.parent = parent
        self.suffix = suffix
        self.primary_keys = keys
        self._schema_written = False
        self._row_counter: metrics.Counter | None = None

    @property
    def replication_method(self) -> str:
        return self.parent.replication_method

    @property
    def replication_key(self) -> str | None:
        return None  # the parent's key orders the rows; a `*` metadata rule must not apply here

    @replication_key.setter
    def replication_key(self, _value: str | None) -> None:
        return

    @property
    def metadata(self) -> singer.MetadataMapping:
        return discovered_metadata(
            self,
            self.parent.info,
            replication_method=None,
            replication_key=None,
            parent_tap_stream_id=self.parent.name,
            key_properties=list(self.primary_keys),
        )

    @property
    def _singer_catalog_entry(self) -> singer.CatalogEntry:
        entry = super()._singer_catalog_entry
        entry.database = self.parent.info.database
        entry.table = self.parent.info.collection
        entry.replication_method = None
        return entry

    @property
    def emit_activate_version_messages(self) -> bool:
        return False  # sent by the parent, after its last document

    def write_schema(self, *, again: bool = False) -> None:
        """Before the parent writes the first row; `again` after the schema widened."""
        if again:
            self._schema_written = False
        self._write_schema_message()

    def adopt_schema(self, schema: dict[str, t.Any]) -> None:
        """The schema the parent's shape now gives these rows (it only ever widens)."""
        self._schema = self._input_schema = schema
        self._tap.mapper.register_raw_stream_schema(
            self.name, get_selected_schema(self.name, schema, self.mask), self.primary_keys
        )
        self._stream_maps = None

    def write_rows(self, rows: list[dict[str, t.Any]], version: int | None) -> None:
        self._stream_version = version
        for row in rows:
            self._write_record_message(row)
        self.parent._mongo_tap.run_summary.add(self.name, len(rows))
        if self._row_counter is None:
            self._row_counter = metrics.record_counter(self.name).__enter__()
        self._row_counter.increment(len(rows))

    def get_record_counter(self, **_kwargs: t.Any) -> metrics.Counter:
        """The SDK's loop sees no rows (the parent writes them): silent unless it counted some."""
        return initial_sync_counter(self.name)

    def close_row_counter(self) -> None:
        """Log the rows written since the last `record_count` point (at the end of the run)."""
        if self._row_counter is not None:
            self._row_counter.exit()
            self._row_counter = None

    def activate_version(self, version: int) -> None:
        self._write_activate_version_message(version)

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:  # noqa: ARG002
        return iter(())

    def _write_schema_message(self) -> None:
        """Once per run: the parent writes it before the first row, the SDK again at sync."""
        if not self._schema_written:
            super()._write_schema_message()
            self._schema_written = True

    def _increment_stream_state(self, latest_record: dict[str, t.Any], *, context: Context | None = None) -> None:
        """No position of its own: the parent's bookmark covers its rows."""
