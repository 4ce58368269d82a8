"""One Singer stream per MongoDB collection or view: reading documents, emitting records.

The read methods are thin: query building lives in queries.py, the BSON conversion in the
shared codec, and bookmark storage in bookmarks.py. Bookmarks are advanced in
``_increment_stream_state``, which the SDK calls only after a record has been written, so a
STATE message never claims a position whose record was not emitted.
"""

from __future__ import annotations

import functools
import time
import typing as t

import pymongo
from singer_sdk import Stream, metrics
from singer_sdk import singerlib as singer
from singer_sdk.helpers._catalog import get_selected_schema
from singer_sdk.helpers._util import utc_now
from singer_sdk.helpers.conform import TypeConformanceLevel

from mongodb_common.bson_codec import get_encoder
from mongodb_common.bson_codec.datetimes import datetime_to_ms, ms_to_iso
from mongodb_common.bson_codec.type_order import TYPE_BRACKETS, bracket_of, compare
from mongodb_common.cli_errors import ConnectorError
from mongodb_common.privileges import explained_privileges
from mongodb_common.retries import RetryPolicy, call_with_retries, iterate_with_retries
from mongodb_common.singer_fields import DELETED_AT
from tap_mongodb import bookmarks, log_positions
from tap_mongodb.batch_conversion import EncodedRecord, batch_converter
from tap_mongodb.catalog_metadata import build_metadata
from tap_mongodb.index_hints import ID_INDEX, refuses_hint
from tap_mongodb.key_extremes import key_brackets
from tap_mongodb.log_changes import Change, ChangeKind, deleted_at
from tap_mongodb.log_metrics import initial_sync_counter
from tap_mongodb.queries import after_filter, before_bracket_filter
from tap_mongodb.read_ahead import DEFAULT_BATCH_DOCUMENTS, read_ahead
from tap_mongodb.record_processes import MAX_POOLS_PER_READ, RecordProcesses, can_fork, default_count
from tap_mongodb.replication_key_schema import is_datetime_key, schema_at_path
from tap_mongodb.schema_sampling import ENVELOPE, sampled_schema, schema_of_head
from tap_mongodb.sync_progress import StreamProgress, Total, estimate_total

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from tap_mongodb.array_streams import ArrayChildStream
    from tap_mongodb.discovery import CollectionInfo
    from tap_mongodb.stream_schema import StreamSchema
    from tap_mongodb.tap import TapMongoDB

FULL_TABLE = "FULL_TABLE"
INCREMENTAL = "INCREMENTAL"
LOG_BASED = "LOG_BASED"

MISMATCH_EMIT = "emit"
MISMATCH_SKIP = "skip"
MISMATCH_FAIL = "fail"


class CatalogValidationError(ConnectorError):
    """The catalog asks a stream for something it cannot do; names the stream."""


class ReplicationKeyMismatchError(ConnectorError):
    """Documents an incremental sync cannot reach, with the policy set to fail."""


def value_at_path(document: t.Mapping[str, t.Any], path: str) -> t.Any:
    """The value at a dotted path, None when any step is missing (as MongoDB sorts it)."""
    value: t.Any = document
    for part in path.split("."):
        if not isinstance(value, t.Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _id_of(document: dict[str, t.Any]) -> t.Any:
    return document["_id"]


def position_in_read(item: t.Any, value_of: t.Callable[[dict[str, t.Any]], t.Any]) -> t.Any:
    """The position of a document read, or of the record a record process made of it in its place."""
    return item.position if type(item) is EncodedRecord else value_of(item)


def discovered_metadata(stream: Stream, info: CollectionInfo, **fields: t.Any) -> singer.MetadataMapping:
    """The input catalog's metadata when the stream is in it; else ours, selected by default.

    (Without an input catalog every stream is selected, as the SDK does.)
    """
    if stream._metadata is None:
        catalog = stream._tap_input_catalog
        if not (catalog and catalog.get_stream(stream.tap_stream_id)):
            metadata = build_metadata(info, stream.schema, **fields)
            metadata.root.selected = catalog is None and stream.selected_by_default
            stream._metadata = metadata
    return Stream.metadata.fget(stream)  # type: ignore[attr-defined]


class CollectionStream(Stream):
    """A collection (or view) read with FULL_TABLE or INCREMENTAL replication."""

    # Records leave the codec as JSON-ready values already; the SDK's per-record
    # conformance walk would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    def __init__(
        self, tap: TapMongoDB, info: CollectionInfo, declared: StreamSchema, *, sampled_at_sync: bool = False
    ) -> None:
        super().__init__(tap, schema=declared.record_schema, name=info.stream_id)
        self.info = info
        self.declared = declared
        self.array_children: dict[str, ArrayChildStream] = {}
        self.primary_keys = ["_id"]
        configured_keys = tap.config.get("replication_keys") or {}
        self._configured_key = configured_keys.get(info.stream_id) or configured_keys.get(info.namespace_stream_id)
        if self._configured_key:
            self.replication_key = self._configured_key
        self._mongo_tap = tap
        self._encode = get_encoder(tap.config.get("bson_encoding", "plain"))
        self._envelope = tap.config.get("schema_mode") == ENVELOPE
        self._pending_position: tuple[str, t.Any] | None = None
        self._record_written = False  # the SDK wrote the record `_records` handed it (see there)
        self._bookmark: t.Any = bookmarks.NO_BOOKMARK
        self._retry_policy = RetryPolicy.from_config(tap.config)
        self._hints_id_index = info.kind == "collection"
        # Given no catalog, the schema is sampled when the sync starts (see schema_sampling.py);
        # documents read for that sample wait here, with the rest of their read.
        self._sampled_at_sync = sampled_at_sync
        self._read_started: tuple[t.Iterator[dict[str, t.Any]], dict[str, t.Any]] | None = None
        # While `_records` runs: how its documents' positions are read, for record processes.
        self._converting: t.Callable[[dict[str, t.Any]], t.Any] | None = None
        self._processes: list[RecordProcesses] = []  # this read's, the newest last
        self._writing_records = False  # the SDK writes the records get_records yields (see _sync_records)
        self._process_count = 0  # record processes for the read `_records` runs (0: none, or refused)
        if tap.config.get("state_interval_records"):
            self.STATE_MSG_FREQUENCY = int(tap.config["state_interval_records"])

    # -- catalog ---------------------------------------------------------------------

    @property
    def metadata(self) -> singer.MetadataMapping:
        return discovered_metadata(
            self,
            self.info,
            replication_method=self.forced_replication_method,
            replication_key=self.replication_key,
            inferred_schema=self.declared.document_schema if self.declared.shape else None,
        )

    @property
    def _singer_catalog_entry(self) -> singer.CatalogEntry:
        entry = super()._singer_catalog_entry
        entry.database = self.info.database
        entry.table = self.info.collection
        entry.is_view = self.info.is_view
        entry.row_count = self.info.row_count
        # Only a method someone chose; a default written here would override the metadata
        # users (and Meltano) edit.
        entry.replication_method = self.forced_replication_method
        return entry

    def apply_catalog(self, catalog: singer.Catalog) -> None:
        """Apply the catalog, reading the replication keys the SDK's parser drops.

        Precedence: ``forced-replication-method``, then ``replication-method`` (Meltano's
        metadata key) in the stream's metadata, then the entry's ``replication_method``;
        the key from the catalog, else the ``replication_keys`` setting.
        """
        super().apply_catalog(catalog)
        raw = self._mongo_tap.raw_stream_metadata(self.tap_stream_id)
        method = raw.get("forced-replication-method") or raw.get("replication-method")
        if method:
            self.forced_replication_method = str(method).upper()
        key = raw.get("replication-key") or self.replication_key or self._configured_key
        self.replication_key = key
        if self.selected:
            self.validate_replication()

    def validate_replication(self) -> None:
        """Refuse, before any data moves, a replication set-up this stream cannot honour."""
        method = self.replication_method
        if method == LOG_BASED:
            if not self.info.supports_change_streams:
                msg = (
                    f"stream {self.name!r} is a {self.info.kind}, which has no change log: "
                    "choose FULL_TABLE or INCREMENTAL replication for it"
                )
                raise CatalogValidationError(msg)
            return
        if method == INCREMENTAL and not self.replication_key:
            msg = (
                f"stream {self.name!r} uses INCREMENTAL replication but has no replication key: "
                "set replication-key in its catalog metadata or in the replication_keys setting"
            )
            raise CatalogValidationError(msg)
        if method not in {FULL_TABLE, INCREMENTAL, LOG_BASED}:
            msg = f"stream {self.name!r}: unknown replication method {method!r}"
            raise CatalogValidationError(msg)

    def get_record_counter(self, **kwargs: t.Any) -> metrics.Counter:
        if self.replication_method == LOG_BASED:
            return initial_sync_counter(self.name)  # changes are counted by the log session
        return super().get_record_counter(**kwargs)

    @property
    def is_sorted(self) -> bool:
        return self.replication_method == INCREMENTAL

    @property
    def is_timestamp_replication_key(self) -> bool:
        """Looked up along the key's dotted path, in the document schema; False when undeclared.

        The SDK's lookup (top-level properties only, raising otherwise) crashed on nested keys,
        envelope records and keys no sampled document had.
        """
        if not self.replication_key:
            return False
        return is_datetime_key(self.declared.document_schema, self.replication_key)

    def _replication_key_is_absent(self) -> bool:
        """INCREMENTAL, and no document of the collection has the key: nothing to order by.

        The schema sample decides only the common case; a key it did not see is looked for on
        the server, so a collection is never skipped while one of its documents has the key.
        """
        key = self.replication_key
        if self.replication_method != INCREMENTAL or not key:
            return False
        if schema_at_path(self.declared.document_schema, key) is not None:
            return False
        found = call_with_retries(
            lambda: self.collection.find_one({key: {"$exists": True}}, {"_id": 1}),
            self._retry_policy,
            f"stream {self.name!r}, looking for a document with replication key {key!r}",
            self.logger,
        )
        return found is None

    @property
    def emit_activate_version_messages(self) -> bool:
        # The SDK would emit ACTIVATE_VERSION before the first record of every run; ours is
        # sent once the whole collection has been read (see _read_full_table).
        return False

    # -- output ----------------------------------------------------------------------

    def _sync_records(
        self, context: Context | None = None, *, write_messages: bool = True
    ) -> t.Generator[dict, t.Any, t.Any]:
        """The SDK's loop; record processes only convert records it writes out as lines."""
        self._writing_records = write_messages
        try:
            yield from super()._sync_records(context, write_messages=write_messages)
        finally:
            self._writing_records = False

    def _write_record_message(self, record: dict[str, t.Any]) -> None:
        if type(record) is EncodedRecord:
            if record.lines:
                self._mongo_tap.message_writer.write_record_lines(self.name, record.lines)
            self.state_manager.is_flushed = False
        else:
            super()._write_record_message(record)
        self._record_written = True

    def _generate_record_messages(self, record: dict[str, t.Any]) -> t.Generator[singer.RecordMessage, None, None]:
        """The SDK's record messages, without its per-record walk when nothing is deselected.

        Deselected top-level fields are not even fetched (projection); the walk that removes
        deselected fields is needed only when a nested field or the replication key is.
        """
        if self._has_deselected_fields:
            yield from super()._generate_record_messages(record)
            return
        extracted_at = utc_now()
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield singer.RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=extracted_at,
                )

    def generate_child_contexts(self, record: dict[str, t.Any], context: Context | None) -> t.Iterable[Context | None]:
        """None: this stream has no SDK child streams (array children get their rows from
        `_to_record`), and the SDK's default hands each record, copied, to the children it has."""
        if self.child_streams:
            yield from super().generate_child_contexts(record, context)

    @functools.cached_property
    def _has_deselected_fields(self) -> bool:
        return not all(self.mask.values())

    # -- reading ---------------------------------------------------------------------

    @property
    def collection(self) -> pymongo.collection.Collection:
        return self._mongo_tap.client[self.info.database][self.info.collection]

    def _projection(self) -> dict[str, int] | None:
        """Exclude deselected top-level fields server-side; `_id` and the key always stay.

        An exclusion (not inclusion) projection keeps fields the schema sample never saw.
        """
        if self._envelope:
            return None
        keep = {"_id"}
        if self.replication_key:
            keep.add(self.replication_key.split(".", 1)[0])
        excluded = {
            name: 0
            for name in self.schema.get("properties", {})
            if name not in keep and not self.mask[("properties", name)]
        }
        return excluded or None

    def _find(
        self, query: dict[str, t.Any], sort: list[tuple[str, int]], hint: list[tuple[str, int]] | None = None
    ) -> t.Iterator[dict[str, t.Any]]:
        namespace = f"{self.info.database}.{self.info.collection}"
        with explained_privileges("find", namespace, f"the `read` role on database {self.info.database!r}"):
            batches = self.collection.find_raw_batches(query, self._projection(), sort=sort)
            if hint is not None:
                batches = batches.hint(hint)
            if batch_size := self.config.get("cursor_batch_size", DEFAULT_BATCH_DOCUMENTS):
                batches = batches.batch_size(batch_size)
            yield from read_ahead(batches, self.collection.codec_options, self._record_processes)

    def _find_by_id(self, query: dict[str, t.Any]) -> t.Iterator[dict[str, t.Any]]:
        """In `_id` order, through the `_id` index (see index_hints.py), or without it where refused."""
        sort = [("_id", pymongo.ASCENDING)]
        if not self._hints_id_index:
            yield from self._find(query, sort)
            return
        documents = self._find(query, sort, ID_INDEX)
        try:
            first = next(documents)
        except StopIteration:
            return
        except pymongo.errors.OperationFailure as error:
            if not refuses_hint(error):
                raise
            self._hints_id_index = False
            self.logger.info(
                "stream %r: the server refused the `_id` index hint (%s); reading without it",
                self.name,
                (error.details or {}).get("errmsg") or error,
            )
            yield from self._find(query, sort)
            return
        yield first
        yield from documents

    def _admit(self, document: dict[str, t.Any]) -> dict[str, t.Any]:
        """The document as it may be emitted under the declared schema, declared first if it widened."""
        admitted, widened = self.declared.admit(document)
        if widened:
            self._declare_widened_schema()
        return admitted

    def _admit_encoded(self, document: dict[str, t.Any]) -> dict[str, t.Any]:
        """As `_admit`, encoded: the conformance check and the codec in one walk of the document."""
        record, widened = self.declared.admit_encoded(document)
        if widened:
            self._declare_widened_schema()
        return record

    def _declare_widened_schema(self) -> None:
        """The new schema reaches the target (and STATE) before any record that needs it.

        Record processes still hold the old schema: they finish the batches they were given
        (whose records fit the old schema, so the new one too) and new ones are forked.
        """
        if self._processes:
            self._processes[-1].retire()
        self._adopt_record_schema()
        self._write_schema_message()
        for child in self._selected_children():
            child.write_schema(again=True)
        bookmarks.write_document_schema(self.stream_state, self.declared.document_schema)
        self.state_manager.is_flushed = False

    def _adopt_record_schema(self) -> None:
        """Make the SDK (its stream maps, pruning and SCHEMA messages) use the declared schema."""
        self._schema = self._input_schema = self.declared.record_schema
        self._tap.mapper.register_raw_stream_schema(
            self.name, get_selected_schema(self.name, self._schema, self.mask), self.primary_keys
        )
        self._stream_maps = None
        shape = self.declared.shape
        for suffix, child in self.array_children.items():
            if shape is not None and suffix in shape.children:
                child.adopt_schema(shape.children[suffix][1].schema)

    def sync(self, context: Context | None = None) -> None:
        """Start from the schema earlier runs declared (kept in STATE), then sync.

        The declaration goes to STATE from the first run on, so the next run continues from
        it whatever a later `--discover` samples. A stream whose documents all lack the
        replication key is skipped with a warning: a `'*'` key in Meltano's metadata applies
        to collections that have no such field.
        """
        if self._sampled_at_sync:
            self._sampled_at_sync = False
            self.declared = self.declared.declared_anew(self._sample_at_sync())
        saved = bookmarks.read_document_schema(self.stream_state)
        if saved is not None:
            self.declared.continue_from(saved)
        if self._replication_key_is_absent():
            self._close_started_read()
            self.logger.warning(
                "Skipping stream %r: none of its documents has the replication key %r; give it a key "
                "it has (catalog metadata replication-key, or the replication_keys setting) or FULL_TABLE",
                self.name,
                self.replication_key,
            )
            return
        if self.replication_method == LOG_BASED:
            self.declared.declare_deletions()
        self._adopt_record_schema()
        bookmarks.write_document_schema(self.stream_state, self.declared.document_schema)
        self.state_manager.is_flushed = False
        summary = self._mongo_tap.run_summary
        names = [self.name, *(child.name for child in self._selected_children())]
        for name in names:
            summary.started(name)
        try:
            super().sync(context)
        finally:
            for name in names:
                summary.ended(name)

    def _sample_at_sync(self) -> dict[str, t.Any]:
        """The schema of the first documents this sync reads, or of a `$sample` when it does not
        read the collection from its start (LOG_BASED, a read resuming from a bookmark)."""
        state = self.stream_state
        start: t.Callable[[], tuple[t.Iterator[dict[str, t.Any]], dict[str, t.Any]]]
        if self.replication_method == FULL_TABLE and not bookmarks.has_bookmark(
            bookmarks.read_full_table_progress(state)[1]
        ):
            start, read = self._start_full_table_read, "full-table"
        elif self.replication_method == INCREMENTAL and not bookmarks.has_bookmark(
            bookmarks.read_replication_key_value(state, t.cast("str", self.replication_key))
        ):
            start, read = self._start_incremental_read, "incremental"
        else:
            return sampled_schema(self.collection, self.info, self.config, self.logger)
        documents, query = start()
        schema, count, documents = schema_of_head(documents, self.config)
        self._read_started = (documents, query)
        self.logger.info("Inferred schema of %s from the first %d documents of its %s read", self.name, count, read)
        return schema

    def _close_started_read(self) -> None:
        if self._read_started is not None:
            t.cast("t.Generator[t.Any, None, None]", self._read_started[0]).close()
            self._read_started = None

    def _to_record(self, document: dict[str, t.Any]) -> dict[str, t.Any]:
        if self._envelope:
            self._admit({"_id": document["_id"]})
            return {"_id": self._encode(document["_id"]), "document": self._encode(document)}
        record = self._admit_encoded(document)
        shape = self.declared.shape
        if shape is None:
            return record
        record, rows = shape.shape(record)
        for suffix, child_rows in rows.items():
            child = self.array_children.get(suffix)
            if child is not None and child.selected:
                child.write_rows(child_rows, self._stream_version)
        return record

    def _selected_children(self) -> list[ArrayChildStream]:
        return [child for child in self.array_children.values() if child.selected]

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:  # noqa: ARG002
        for child in self._selected_children():
            child.write_schema()  # before its first row, which this stream writes
        if self.replication_method == INCREMENTAL:
            yield from self._read_incremental()
        elif self.replication_method == LOG_BASED:
            yield from self._read_log_based()
        else:
            yield from self._read_full_table()

    def _read_full_table(self) -> t.Iterator[dict[str, t.Any]]:
        """All documents in `_id` order, resuming after the last `_id` an earlier run emitted.

        `_id` never changes, so an ordered scan neither misses nor repeats a document that
        existed when the sync began, whatever the mix of `_id` types.
        """
        documents, remainder = self._started_read(self._start_full_table_read)
        yield from self._records(documents, remainder, bookmarks.LAST_ID, _id_of)
        bookmarks.finish_full_table(self.stream_state)
        self.state_manager.is_flushed = False
        if self.config.get("emit_activate_version_messages", True):
            self._write_activate_version_message(self._stream_version)
            for child in self._selected_children():
                child.activate_version(self._stream_version)

    def _start_full_table_read(self) -> tuple[t.Iterator[dict[str, t.Any]], dict[str, t.Any]]:
        """The documents still to read, in `_id` order, and the query for what remains to count.

        The version and start of the read go to STATE now; the documents are read lazily,
        each retried read resuming after the last `_id` read (not emitted: documents held for
        a schema sample were read, and are emitted from where they are held).
        """
        state = self.stream_state
        version, last_id = bookmarks.read_full_table_progress(state)
        if version is None:
            version = int(time.time() * 1000)
            bookmarks.start_full_table(state, version)
        elif bookmarks.has_bookmark(last_id):
            self.logger.info("Resuming full-table sync of %s after _id %r", self.name, last_id)
        self._stream_version = version
        position = {"last_id": last_id}

        def open_cursor() -> t.Iterator[dict[str, t.Any]]:
            resume = position["last_id"]
            query = after_filter("_id", resume, inclusive=False) if bookmarks.has_bookmark(resume) else {}
            return self._find_by_id(query)

        def describe() -> str:
            if not bookmarks.has_bookmark(position["last_id"]):
                return f"stream {self.name!r}, full-table read from the start"
            return f"stream {self.name!r}, full-table read after _id {position['last_id']!r}"

        def documents() -> t.Iterator[dict[str, t.Any]]:
            for document in iterate_with_retries(open_cursor, self._retry_policy, describe, self.logger):
                position["last_id"] = position_in_read(document, _id_of)
                yield document

        remainder = after_filter("_id", last_id, inclusive=False) if bookmarks.has_bookmark(last_id) else {}
        return documents(), remainder

    def _read_log_based(self) -> t.Iterator[dict[str, t.Any]]:
        """Initial sync when needed, then (once, for all LOG_BASED streams) the log.

        The log position is captured *before* the full-table read, so every change made
        while it runs is read from the log afterwards; changes seen twice are harmless since
        records always carry a document's latest state. With `start_date`, a stream that has
        never been synced skips the initial sync and reads the log from that time.
        """
        state = self.stream_state
        source = self._mongo_tap.log_source
        if self.log_position is None:
            start = self._mongo_tap.log_start_time
            resync = bookmarks.resync_requested(state)
            bookmarks.clear_for_resync(state)
            if start is not None and not resync:
                bookmarks.write_log_position(state, source.start_at(start))
                self.logger.info("%s: no initial sync; reading the log from start_date (%s)", self.name, start)
            else:
                position = source.capture()
                bookmarks.write_log_position(state, position)
                self.logger.info("Initial sync of %s: full-table read, then the log", self.name)
                yield from self._read_full_table()
        elif bookmarks.initial_sync_in_progress(state):
            yield from self._read_full_table()
        if self._mongo_tap.is_last_log_based_stream(self):
            self._mongo_tap.follow_log()

    # -- log-based changes (called by the LogSession) ---------------------------------

    @property
    def log_position(self) -> dict[str, t.Any] | None:
        position = bookmarks.read_log_position(self.stream_state)
        if position is not None and log_positions.method_of(position) != self._mongo_tap.log_source.method:
            self.logger.warning("%s: saved log position is of another log_method; re-syncing", self.name)
            return None
        return position

    @log_position.setter
    def log_position(self, position: dict[str, t.Any]) -> None:
        bookmarks.write_log_position(self.stream_state, position)
        self.state_manager.is_flushed = False

    @property
    def needs_resync(self) -> bool:
        return bookmarks.LOG_POSITION not in self.stream_state

    def mark_for_resync(self) -> None:
        bookmarks.request_resync(self.stream_state)
        self.state_manager.is_flushed = False

    def emit_change(self, change: Change) -> None:
        """Write the record for one change: the document's latest state, or its deletion."""
        if change.kind is ChangeKind.DELETE:
            record = self._deletion_record(change)
        elif change.document is not None:
            record = self._to_record(change.document)
        else:
            return
        self._write_record_message(record)
        self._mongo_tap.run_summary.add(self.name)

    def _deletion_record(self, change: Change) -> dict[str, t.Any]:
        """`_id` and `_sdc_deleted_at`, plus the document's last values when the log kept them."""
        when = ms_to_iso(datetime_to_ms(deleted_at(change)))
        before = change.document
        if self._envelope:
            self._admit({"_id": change.document_id})
            record = {"_id": self._encode(change.document_id), DELETED_AT: when}
            if before is not None:
                record["document"] = self._encode(before)
            return record
        record = self._admit_encoded(before if before is not None else {"_id": change.document_id})
        record[DELETED_AT] = when
        shape = self.declared.shape
        if shape is not None:
            record = shape.shape(record)[0]  # child rows of a deleted document are not written
        return record

    def write_state_now(self) -> None:
        self._write_state_message()

    def _read_incremental(self) -> t.Iterator[dict[str, t.Any]]:
        """Documents with key >= the bookmark (ties re-sent, harmlessly), in key order."""
        documents, query = self._started_read(self._start_incremental_read)
        key = t.cast("str", self.replication_key)
        yield from self._records(
            documents, query, bookmarks.REPLICATION_KEY_VALUE, lambda document: value_at_path(document, key)
        )

    def _started_read(
        self, start: t.Callable[[], tuple[t.Iterator[dict[str, t.Any]], dict[str, t.Any]]]
    ) -> tuple[t.Iterator[dict[str, t.Any]], dict[str, t.Any]]:
        """The read a schema sample started (see `_sample_at_sync`), else a new one."""
        started, self._read_started = self._read_started, None
        return started or start()

    def _records(
        self,
        documents: t.Iterator[t.Any],
        query: dict[str, t.Any],
        kind: str,
        value_of: t.Callable[[dict[str, t.Any]], t.Any],
    ) -> t.Iterator[dict[str, t.Any]]:
        """Each document's record, its position (`kind`, the value `value_of` reads) pending until
        the SDK has written it; progress logged. From the read's second batch on, record
        processes may have converted the documents already (see record_processes.py)."""
        progress = self._progress(query)
        # Decided once per read: the settings and the stream's shape do not change within it, and
        # the default reads the CPU affinity and the cgroup's quota files.
        self._converting, self._process_count = value_of, self._record_process_count()
        try:
            for document in documents:
                if type(document) is EncodedRecord:  # converted by a record process
                    record: dict[str, t.Any] = document
                    self._pending_position = (kind, document.position)
                else:
                    self._pending_position = (kind, value_of(document))
                    record = self._to_record(document)
                    if record is not document:
                        # Emptied, not only let go of: the generators that read it hold it while they
                        # wait, and it is not needed beside its record while that is written.
                        document.clear()
                del document
                self._record_written = False
                yield record
                # The SDK's frames hold the record they wrote until the next one arrives, beside
                # the next document and its record: with documents near 16 MB that was 75 MB more
                # at the peak. Once written (not, say, handed to a batch file), nothing reads it.
                if self._record_written:
                    record.clear()
                del record
                progress.advance()
        finally:
            self._converting, self._process_count = None, 0
            for processes in self._processes:
                processes.close()
            self._processes.clear()
        progress.finish()

    def _record_processes(self) -> RecordProcesses | None:
        """The processes converting this read's batches, forked on first need and after a schema change."""
        if self._converting is None or not self._process_count:
            return None
        if self._processes:
            newest = self._processes[-1]
            if not newest.retired:
                return newest
            if newest.outstanding or len(self._processes) >= MAX_POOLS_PER_READ:
                # Not before the old schema's processes are done (at most `count` at once); and a
                # schema that keeps widening is converted here rather than forked for again and again.
                return None
        convert = batch_converter(
            self.collection.codec_options, self.declared.encode_if_fits, self._lines_of, self._converting
        )
        try:
            processes = RecordProcesses(self._process_count, convert, self.name)
        except OSError as error:  # out of processes or memory: slower, not wrong
            self._process_count = 0  # for the rest of this read
            self.logger.warning(
                "stream %r: could not start record processes (%s); converting in the tap's own process",
                self.name,
                error,
            )
            return None
        self._processes.append(processes)
        return processes

    def _record_process_count(self) -> int:
        """How many record processes this read uses: none where a record is more than its line.

        Not for shaped streams (their records also write child rows), envelope mode, stream
        maps (an expression may draw random values, which forked processes would repeat), nor
        where the records go to the caller of `get_records` rather than out as lines.
        """
        configured = self.config.get("record_processes")
        count = default_count() if configured is None else int(configured)
        if not count or not can_fork() or not self._writing_records or self._envelope:
            return 0
        if self.declared.shape is not None or self.config.get("stream_maps") or self._selected_children():
            return 0
        return count

    def _lines_of(self, record: dict[str, t.Any]) -> bytes:
        """What `_write_record_message` would write for the record: its RECORD line."""
        format_message = self._mongo_tap.message_writer.format_message
        return b"".join(format_message(message) for message in self._generate_record_messages(record))

    def _start_incremental_read(self) -> tuple[t.Iterator[dict[str, t.Any]], dict[str, t.Any]]:
        """The documents to read, in key order, and their query; read lazily, as the full-table read's."""
        key = t.cast("str", self.replication_key)
        bookmark = bookmarks.read_replication_key_value(self.stream_state, key)
        query: dict[str, t.Any] = {}
        if bookmarks.has_bookmark(bookmark):
            query = self._incremental_query(key, bookmark)
        self._bookmark = bookmark
        position: dict[str, t.Any] = {"value": bookmarks.NO_BOOKMARK}

        def open_cursor() -> t.Iterator[dict[str, t.Any]]:
            resumed = query
            if bookmarks.has_bookmark(position["value"]):  # after a fault: from the last key read
                resumed = {"$and": [query, after_filter(key, position["value"], inclusive=True)]}
            return self._find(resumed, [(key, pymongo.ASCENDING), ("_id", pymongo.ASCENDING)])

        def describe() -> str:
            shown = position["value"] if bookmarks.has_bookmark(position["value"]) else bookmark
            if not bookmarks.has_bookmark(shown):
                return f"stream {self.name!r}, incremental read from the start"
            return f"stream {self.name!r}, incremental read from {key} = {shown!r}"

        def key_of(document: dict[str, t.Any]) -> t.Any:
            return value_at_path(document, key)

        def documents() -> t.Iterator[dict[str, t.Any]]:
            for document in iterate_with_retries(open_cursor, self._retry_policy, describe, self.logger):
                position["value"] = position_in_read(document, key_of)
                yield document

        return documents(), query

    def _progress(self, query: dict[str, t.Any]) -> StreamProgress:
        def total() -> Total | None:
            return estimate_total(self.collection, query, is_view=self.info.is_view, logger=self.logger)

        return StreamProgress(self.name, total, self.logger, self._mongo_tap.run_summary)

    def _incremental_query(self, key: str, bookmark: t.Any) -> dict[str, t.Any]:
        """`>= bookmark`, plus what the mismatch policy says about keys it cannot reach."""
        lowest, highest = call_with_retries(
            lambda: key_brackets(self.collection, key),
            self._retry_policy,
            f"stream {self.name!r}, reading the lowest and highest {key!r}",
            self.logger,
        )
        query = after_filter(key, bookmark, inclusive=True, highest_bracket=highest)
        if lowest is not None and lowest >= bracket_of(bookmark):
            return query  # nothing sorts before the bookmark's type: nothing to count
        unreachable = before_bracket_filter(key, bookmark)
        count = call_with_retries(
            lambda: self.collection.count_documents(unreachable),
            self._retry_policy,
            f"stream {self.name!r}, counting documents the bookmark cannot reach",
            self.logger,
        )
        if not count:
            return query
        policy = self.config.get("incremental_key_type_mismatch", MISMATCH_EMIT)
        bookmark_type = TYPE_BRACKETS[bracket_of(bookmark)][0]
        message = (
            f"stream {self.name!r}: {count} documents have replication key {key!r} missing, null "
            f"or of a type that sorts before the bookmark's type ({bookmark_type}), so "
            f"'{key} >= bookmark' cannot find them"
        )
        if policy == MISMATCH_FAIL:
            msg = f"{message}; set incremental_key_type_mismatch to 'emit' or 'skip' to go on"
            raise ReplicationKeyMismatchError(msg)
        if policy == MISMATCH_SKIP:
            self.logger.warning("%s; skipping them (incremental_key_type_mismatch=skip)", message)
            return query
        self.logger.warning("%s; emitting them again on every run (incremental_key_type_mismatch=emit)", message)
        return {"$or": [unreachable, query]}

    # -- bookmarks -------------------------------------------------------------------

    def _increment_stream_state(self, latest_record: dict[str, t.Any], *, context: Context | None = None) -> None:  # noqa: ARG002
        """Advance the bookmark to the record just written (called by the SDK after writing)."""
        if self._pending_position is None:
            return
        kind, value = self._pending_position
        self._pending_position = None
        state = self.stream_state
        if kind == bookmarks.LAST_ID:
            bookmarks.write_full_table_progress(state, t.cast("int", self._stream_version), value)
        elif not bookmarks.has_bookmark(self._bookmark) or compare(value, self._bookmark) > 0:
            self._bookmark = value
            bookmarks.write_replication_key_value(state, t.cast("str", self.replication_key), value)
