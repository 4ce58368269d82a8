"""tap-mongodb: settings, connection, and the streams discovered or catalogued."""

from __future__ import annotations

import contextlib
import contextvars
import copy
import functools
import json
import typing as t
from pathlib import Path

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import CapabilitiesEnum, PluginCapabilities, TapCapabilities

from mongodb_common.bson_codec import ENCODINGS, PLAIN
from mongodb_common.client_factory import close_cached_client, connect
from mongodb_common.connection_settings import connection_properties, read_preference_property
from mongodb_common.settings_errors import ValidatesSettingsInOneLine
from mongodb_common.singer_fields import DELETED_AT
from tap_mongodb.array_streams import ArrayChildStream
from tap_mongodb.discovery import CollectionInfo, discover_collections
from tap_mongodb.input_files import checked_json_file
from tap_mongodb.log_changes import OPERATION_TYPES
from tap_mongodb.log_session import FAIL, RESYNC, LogSession, LogSource
from tap_mongodb.log_sources import ChangeStreamSource, OplogSource
from tap_mongodb.log_start import parse_start_time
from tap_mongodb.read_ahead import DEFAULT_BATCH_DOCUMENTS
from tap_mongodb.record_processes import MAX_PROCESSES
from tap_mongodb.record_shaping import shaping_requested
from tap_mongodb.run_summary import RunSummary
from tap_mongodb.schema_drift import AUTO, POLICIES
from tap_mongodb.schema_sampling import (
    DEFAULT_SAMPLE_SIZE,
    SAMPLED_LATER,
    can_sample_at_sync,
    sampled_schema,
)
from tap_mongodb.singer_writer import DownstreamClosedError, OrjsonSingerWriter
from tap_mongodb.stream_naming import check_unique
from tap_mongodb.stream_schema import StreamSchema
from tap_mongodb.streams import (
    ENVELOPE,
    LOG_BASED,
    MISMATCH_EMIT,
    MISMATCH_FAIL,
    MISMATCH_SKIP,
    CatalogValidationError,
    CollectionStream,
)

if t.TYPE_CHECKING:
    from types import FrameType

    import pymongo
    from bson import Timestamp
    from singer_sdk import singerlib as singer

SCHEMA_INFERRED = "inferred"
CHANGE_STREAMS = "change_streams"
OPLOG = "oplog"

# True while the CLI runs a sync given no catalog: the one run whose streams may sample their
# schema from their own sync's first documents (see schema_sampling.py).
SYNC_WITHOUT_CATALOG: contextvars.ContextVar[bool] = contextvars.ContextVar("sync_without_catalog", default=False)


def _raw_catalog(catalog: t.Any) -> dict[str, t.Any]:
    """The catalog as plain JSON data, whichever form the SDK was handed."""
    if catalog is None:
        return {}
    if isinstance(catalog, dict):
        return copy.deepcopy(catalog)
    if hasattr(catalog, "to_dict"):
        return t.cast("dict[str, t.Any]", catalog.to_dict())
    return t.cast("dict[str, t.Any]", json.loads(Path(catalog).read_text(encoding="utf-8")))


def _with_delete_markers(catalog: dict[str, t.Any]) -> dict[str, t.Any]:
    """LOG_BASED streams also emit deletions: their schema gets `_sdc_deleted_at`."""
    for stream in catalog.get("streams", []):
        root = next((m.get("metadata", {}) for m in stream.get("metadata", []) if m.get("breadcrumb") == []), {})
        method = (
            root.get("forced-replication-method") or root.get("replication-method") or stream.get("replication_method")
        )
        if str(method).upper() == LOG_BASED:
            properties = stream.setdefault("schema", {}).setdefault("properties", {})
            properties.setdefault(DELETED_AT, {"type": ["string", "null"], "format": "date-time"})
    return catalog


def _source_of(stream: Stream) -> str:
    """The namespace (and array) a stream reads, for a message about clashing names."""
    if isinstance(stream, ArrayChildStream):
        return f"array {stream.suffix!r} of {stream.parent.info.database}.{stream.parent.info.collection}"
    info = t.cast("CollectionStream", stream).info
    return f"collection {info.database}.{info.collection}"


class TapMongoDB(ValidatesSettingsInOneLine, Tap):
    """Extracts MongoDB collections and views with faithful BSON types."""

    name = "tap-mongodb"
    dynamic_catalog = True
    message_writer_class = OrjsonSingerWriter
    # Not BATCH: batch files bypass the per-record bookmarks that make syncs resumable.
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        TapCapabilities.ACTIVATE_VERSION,
        TapCapabilities.LOG_BASED,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    config_jsonschema = th.PropertiesList(
        *connection_properties(default_app_name="tap-mongodb"),
        read_preference_property(),
        th.Property(
            "database_includes",
            th.ArrayType(th.StringType),
            description="Databases to discover (shell patterns such as `shop*`); all readable ones if empty.",
        ),
        th.Property("database_excludes", th.ArrayType(th.StringType), description="Databases never to discover."),
        th.Property(
            "collection_includes",
            th.ArrayType(th.StringType),
            description="Collections to discover, as `name` or `database.name` patterns; all if empty.",
        ),
        th.Property(
            "collection_excludes",
            th.ArrayType(th.StringType),
            description="Collections never to discover, as `name` or `database.name` patterns.",
        ),
        th.Property(
            "schema_mode",
            th.StringType,
            default=SCHEMA_INFERRED,
            allowed_values=[SCHEMA_INFERRED, ENVELOPE],
            description=(
                "`inferred`: a schema per collection from sampled documents. `envelope`: records "
                "are `_id` plus the whole `document`, for destinations that want no schema."
            ),
        ),
        th.Property(
            "schema_sample_size",
            th.IntegerType,
            default=DEFAULT_SAMPLE_SIZE,
            description=(
                "Documents sampled per collection to infer its schema: random ones ($sample), "
                "or, in a sync run given no catalog, the first ones its own read returns."
            ),
        ),
        th.Property(
            "bson_encoding",
            th.StringType,
            default=PLAIN,
            allowed_values=list(ENCODINGS),
            description=(
                "`plain`: ordinary JSON for any target. `extended_json`: MongoDB Extended JSON "
                "that restores exact BSON types (use it to load into target-mongodb)."
            ),
        ),
        th.Property(
            "schema_drift",
            th.StringType,
            default=AUTO,
            allowed_values=list(POLICIES),
            description=(
                "What a stream does when a document does not fit its declared schema (per stream: catalog "
                "metadata `schema-drift`). `widen`: the property's type becomes the union of what was seen. "
                "`split`: the value goes to a sibling property named after its type (`price__string`), as "
                "Stitch does; columns are only added. `fail`: stop, naming stream, field, `_id` and types. "
                "`auto`: `split` with the plain encoding, `widen` with extended_json. See docs/schema-evolution.md."
            ),
        ),
        th.Property(
            "replication_keys",
            th.ObjectType(additional_properties=th.StringType),
            description="Replication key per stream id (`database-collection`), making it INCREMENTAL.",
        ),
        th.Property(
            "incremental_key_type_mismatch",
            th.StringType,
            default=MISMATCH_EMIT,
            allowed_values=[MISMATCH_EMIT, MISMATCH_SKIP, MISMATCH_FAIL],
            description=(
                "Documents whose replication key is missing or of a type sorting before the "
                "bookmark's: `emit` them on every run, `skip` them (logged), or `fail`."
            ),
        ),
        th.Property(
            "emit_activate_version_messages",
            th.BooleanType,
            default=True,
            description="Send ACTIVATE_VERSION after each complete FULL_TABLE sync so targets drop deleted documents.",
        ),
        th.Property(
            "denest_arrays",
            th.BooleanType,
            default=False,
            description=(
                "Turn every array into a child stream `<stream>__<path>` with one row per element, "
                "keyed by the parent `_id` and the element's position at each level."
            ),
        ),
        th.Property(
            "safe_column_names",
            th.BooleanType,
            default=False,
            description="Map column names to lower-case `[a-z0-9_]`, collision-free and length-limited.",
        ),
        th.Property(
            "max_column_name_length",
            th.IntegerType,
            default=63,
            description="Longest column name with `safe_column_names` (63: PostgreSQL's limit).",
        ),
        th.Property(
            "safe_stream_names",
            th.BooleanType,
            default=False,
            description=(
                "Make stream (table) names safe for SQL destinations: `<database>-<collection>` with each part "
                "lower-case `[a-z0-9_]`, at most 63 characters, a name that had to change ending in `_` and 8 "
                "characters of a hash of the original; array child streams too. Collision-free and the same in "
                "every run. See docs/nested-data.md."
            ),
        ),
        th.Property(
            "max_columns",
            th.IntegerType,
            default=0,
            description=(
                "Columns per stream at most (0: no limit); the remaining fields travel as JSON in `_sdc_extra_columns`."
            ),
        ),
        th.Property(
            "log_method",
            th.StringType,
            default=CHANGE_STREAMS,
            allowed_values=[CHANGE_STREAMS, OPLOG],
            description=(
                "How LOG_BASED streams read changes: `change_streams` (MongoDB 4.0+, Atlas, "
                "sharded clusters through mongos) or `oplog` (tailing local.oplog.rs of a replica set)."
            ),
        ),
        th.Property(
            "continuous",
            th.BooleanType,
            default=False,
            description="Keep following the log after catching up (live replication) instead of ending the run.",
        ),
        th.Property(
            "max_run_seconds",
            th.IntegerType,
            default=0,
            description=(
                "Stop reading the log after this long (0: no limit). A run that has not yet read the log up to "
                "the time it started saves its progress and fails (exit status 1) with the lag; with "
                "`continuous`, the run simply ends."
            ),
        ),
        th.Property(
            "max_await_time_ms",
            th.IntegerType,
            default=1000,
            description=(
                "How long one read of the log waits on the server for new changes. A run ends once the log is "
                "read up to the cluster time it started at, never because one read came back empty."
            ),
        ),
        th.Property(
            "state_interval_seconds",
            th.IntegerType,
            default=30,
            description="How often STATE (and the replication lag) is written while following the log.",
        ),
        th.Property(
            "operation_types",
            th.ArrayType(th.StringType(allowed_values=list(OPERATION_TYPES))),
            default=list(OPERATION_TYPES),
            description=(
                "Which changes LOG_BASED streams emit: any of `insert`, `update`, `replace`, `delete` "
                "(filtered on the server with change streams)."
            ),
        ),
        th.Property(
            "start_date",
            th.StringType,
            description=(
                "LOG_BASED streams without state skip the initial sync and read the log from this time: an "
                "ISO 8601 date-time (`2024-05-01T00:00:00Z`) or a cluster time `<seconds>:<increment>`. "
                "It must still be in the oplog."
            ),
        ),
        th.Property(
            "lost_log_position",
            th.StringType,
            default=RESYNC,
            allowed_values=[RESYNC, FAIL],
            description=(
                "When the saved log position has left the oplog: `resync` the affected streams with a new "
                "initial sync on the next run (logged as an error), or `fail` naming the streams and the gap."
            ),
        ),
        th.Property(
            "log_invalidation",
            th.StringType,
            default=RESYNC,
            allowed_values=[RESYNC, FAIL],
            description=(
                "When a followed collection is dropped or renamed (or its database dropped): `resync` it on "
                "the next run, or `fail`."
            ),
        ),
        th.Property(
            "state_interval_records",
            th.IntegerType,
            default=10_000,
            description="Write STATE after every this many records of a stream (and at its end).",
        ),
        th.Property(
            "cursor_batch_size",
            th.IntegerType(minimum=0),
            default=DEFAULT_BATCH_DOCUMENTS,
            description=(
                "Documents per cursor batch; bounds the tap's memory, which holds up to three batches "
                "(and each record process two more). 0: the server's own batches, up to 16 MB each."
            ),
        ),
        th.Property(
            "record_processes",
            th.IntegerType(minimum=0),
            description=(
                "Processes forked beside the tap's own that convert the batches of FULL_TABLE and INCREMENTAL "
                "reads (and LOG_BASED initial syncs) into RECORD lines, in order. Default: the CPUs the tap may "
                f"use (its CPU affinity and container CPU quota), at most {MAX_PROCESSES} (none with one CPU, or "
                "outside Linux). 0: convert in the tap's process. Streams shaped into columns (flattening, "
                "de-nesting, safe column names, max_columns), with stream maps, or in envelope mode always are."
            ),
        ),
    ).to_dict()

    def __init__(self, *, catalog: t.Any = None, **kwargs: t.Any) -> None:
        self._raw_catalog = _with_delete_markers(_raw_catalog(catalog))
        try:
            # Without an input catalog the SDK discovers the streams here, through the client.
            super().__init__(catalog=self._raw_catalog if catalog is not None else None, **kwargs)
        finally:
            # A tap object may be made only to be looked at (`--about`, the SDK's test suites)
            # and then dropped: it must not hold a client, whose monitor threads and sockets
            # would live on until the garbage collector found it. What runs later connects anew.
            close_cached_client(self)

    # Each way the SDK's CLI runs a tap ends in one of these (`sync_all` below); the client is
    # closed when it does, failed or not (singer-sdk has no teardown hook for a tap).
    def run_sync_dry_run(self, dry_run_record_limit: int | None = 1, streams: t.Iterable[Stream] | None = None) -> bool:
        try:
            return super().run_sync_dry_run(dry_run_record_limit=dry_run_record_limit, streams=streams)
        finally:
            self._flush_output()
            close_cached_client(self)

    @property
    def _writer(self) -> OrjsonSingerWriter:
        return t.cast("OrjsonSingerWriter", self.message_writer)

    def _flush_output(self) -> None:
        """The records after the last STATE: a failed run's too, so its output ends at the
        position its error names. A dead pipe is not the error to report then."""
        with contextlib.suppress(DownstreamClosedError):
            self._writer.flush()

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """The SDK's handler (a final STATE, then exit 0), never from inside a write (see singer_writer.py)."""
        self._writer.run_when_idle(functools.partial(super()._handle_termination, signum, frame))

    def run_discovery(self) -> str:
        try:
            return super().run_discovery()
        finally:
            close_cached_client(self)

    def run_connection_test(self) -> bool:
        try:
            return super().run_connection_test()
        finally:
            close_cached_client(self)

    def write_schemas(self) -> None:
        try:
            super().write_schemas()
        finally:
            close_cached_client(self)

    @classmethod
    def invoke(  # type: ignore[override]
        cls, *, catalog: t.IO[str] | None = None, state: t.IO[str] | None = None, **kwargs: t.Any
    ) -> None:
        """The SDK's run, with a catalog or state file that is not JSON named as such in one line.

        (`--discover` and `--test` do not come here: the SDK runs them from option callbacks.)
        """
        token = SYNC_WITHOUT_CATALOG.set(catalog is None)
        try:
            super().invoke(
                catalog=checked_json_file(catalog, "catalog"), state=checked_json_file(state, "state"), **kwargs
            )
        finally:
            SYNC_WITHOUT_CATALOG.reset(token)

    def raw_stream_metadata(self, tap_stream_id: str) -> dict[str, t.Any]:
        """The stream's root metadata exactly as given, unknown keys included."""
        for stream in self._raw_catalog.get("streams", []):
            if stream.get("tap_stream_id") == tap_stream_id:
                for entry in stream.get("metadata", []):
                    if entry.get("breadcrumb") == []:
                        return dict(entry.get("metadata", {}))
        return {}

    @functools.cached_property
    def client(self) -> pymongo.MongoClient:
        """One client for the whole run, checked once so a bad server fails fast and clearly."""
        return connect(self.config, read_preference=self.config.get("read_preference"))

    @functools.cached_property
    def log_source(self) -> LogSource:
        """One log reader for every selected LOG_BASED stream (one cursor, filtered server-side)."""
        namespaces = [(s.info.database, s.info.collection) for s in self._log_based_streams()]
        source_class = OplogSource if self.config.get("log_method") == OPLOG else ChangeStreamSource
        return source_class(
            self.client,
            namespaces,
            max_await_ms=int(self.config.get("max_await_time_ms", 1000)),
            operation_types=self.config.get("operation_types") or OPERATION_TYPES,
        )

    @functools.cached_property
    def log_start_time(self) -> Timestamp | None:
        """`start_date` as a cluster time, for LOG_BASED streams that have no state yet."""
        return parse_start_time(self.config.get("start_date"))

    def _log_based_streams(self) -> list[CollectionStream]:
        return [
            stream
            for stream in self.streams.values()
            if isinstance(stream, CollectionStream) and stream.selected and stream.replication_method == LOG_BASED
        ]

    def is_last_log_based_stream(self, stream: CollectionStream) -> bool:
        """The log is read once, during the sync of the last LOG_BASED stream (the SDK syncs in order)."""
        streams = self._log_based_streams()
        return bool(streams) and streams[-1] is stream

    def follow_log(self) -> None:
        streams = self._log_based_streams()
        try:
            LogSession(streams, self.log_source, self.config).run()
        finally:
            for stream in streams:
                self.run_summary.ended(stream.name)
                for child in stream.array_children.values():
                    self.run_summary.ended(child.name)

    @functools.cached_property
    def run_summary(self) -> RunSummary:
        return RunSummary()

    def sync_all(self) -> None:
        """Sync, then one summary line per stream (records, time, rate, bookmark), even after a failure."""
        try:
            super().sync_all()
        finally:
            self._flush_output()
            states = {}
            for name, stream in self.streams.items():
                owner = stream
                if isinstance(stream, ArrayChildStream):
                    stream.close_row_counter()
                    owner = stream.parent  # child rows follow the parent's bookmark
                states[name] = owner.stream_state
            for line in self.run_summary.lines(states):
                self.logger.info("Run summary: %s", line)
            close_cached_client(self)

    def discover_streams(self) -> list[Stream]:
        """Streams from the input catalog when given (no sampling), else from discovery.

        A sync without a catalog leaves sampling to each stream's sync where it can: a stream
        reading its collection from the start infers its schema from the first documents of
        that read (schema_sampling.py), so the collection is not read twice.
        """
        if self.input_catalog is not None:
            return self._streams_from_catalog()
        later = SYNC_WITHOUT_CATALOG.get() and can_sample_at_sync(self.config)
        streams: list[Stream] = []
        # A sync needs no row counts (catalog metadata): its progress counts when it must.
        for info in discover_collections(self.client, self.config, count_rows=not later):
            if later:
                streams.extend(self._collection_streams(info, SAMPLED_LATER, sampled_at_sync=True))
            else:
                streams.extend(self._collection_streams(info, self._infer_schema(info)))
        check_unique((stream.name, _source_of(stream)) for stream in streams)
        return streams

    def _collection_streams(
        self, info: CollectionInfo, document_schema: dict[str, t.Any], *, sampled_at_sync: bool = False
    ) -> list[Stream]:
        """A collection's stream, plus its array child streams when `denest_arrays` is on."""
        declared = StreamSchema(
            info.stream_id,
            document_schema,
            self.config,
            shaped=shaping_requested(self.config),
            policy=self.raw_stream_metadata(info.stream_id).get("schema-drift"),
        )
        parent = CollectionStream(self, info, declared, sampled_at_sync=sampled_at_sync)
        for suffix, (_spec, plan) in (declared.shape.children if declared.shape else {}).items():
            keys = list(plan.schema.get("required", []))
            parent.array_children[suffix] = ArrayChildStream(self, parent, suffix, plan.schema, keys)
        return [parent, *parent.array_children.values()]

    def _streams_from_catalog(self) -> list[Stream]:
        assert self.input_catalog is not None
        entries = self.input_catalog.streams
        parents = [e for e in entries if not self.raw_stream_metadata(e.tap_stream_id).get("parent-tap-stream-id")]
        streams: list[Stream] = []
        for entry in parents:
            # With shaping on, the catalog's schema is the shaped one; the document schema it
            # was shaped from travels in the `mongodb-schema` metadata.
            inferred = self.raw_stream_metadata(entry.tap_stream_id).get("mongodb-schema")
            streams.extend(self._collection_streams(self._info_from_catalog(entry), inferred or entry.schema.to_dict()))
        known = {stream.name for stream in streams}
        for entry in entries:
            if entry.tap_stream_id not in known:
                msg = (
                    f"catalog stream {entry.tap_stream_id!r} is an array child stream the current settings "
                    "do not produce (is denest_arrays on, with the settings used for discovery?)"
                )
                raise CatalogValidationError(msg)
        return streams

    def _info_from_catalog(self, entry: singer.CatalogEntry) -> CollectionInfo:
        metadata = self.raw_stream_metadata(entry.tap_stream_id)
        database = entry.database or metadata.get("database-name")
        collection = entry.table or metadata.get("collection-name")
        if not database or not collection:
            database, _, collection = entry.tap_stream_id.partition("-")
        info = CollectionInfo(
            database=database,
            collection=collection,
            kind="view" if entry.is_view else (metadata.get("collection-type") or "collection"),
            row_count=entry.row_count,
            safe_name=bool(self.config.get("safe_stream_names")),
        )
        if info.stream_id != entry.tap_stream_id:
            msg = (
                f"catalog stream {entry.tap_stream_id!r} names database {database!r} and "
                f"collection {collection!r}, whose stream id is {info.stream_id!r} (is safe_stream_names "
                "set as it was for discovery?)"
            )
            raise CatalogValidationError(msg)
        return info

    def _infer_schema(self, info: CollectionInfo) -> dict[str, t.Any]:
        return sampled_schema(self.client[info.database][info.collection], info, self.config, self.logger)


__all__ = ["TapMongoDB"]

if __name__ == "__main__":
    TapMongoDB.cli()
