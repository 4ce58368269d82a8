"""target-mongodb: settings, the shared client, and the sink for each stream."""

from __future__ import annotations

import functools
import threading
import typing as t

from pymongo.write_concern import WriteConcern
from singer_sdk import Sink, Target
from singer_sdk import typing as th

from mongodb_common.client_factory import close_cached_client, connect
from mongodb_common.connection_settings import connection_properties
from mongodb_common.settings_errors import ValidatesSettingsInOneLine
from target_mongodb import journal_points
from target_mongodb.array_rows import is_child_of
from target_mongodb.dead_letter import DEFAULT_COLLECTION
from target_mongodb.input_reader import LineNumberingReader
from target_mongodb.naming import KEEP_STREAM_NAME, NAMING_MODES, destination_namespace
from target_mongodb.sinks import DEAD_LETTER, DEFAULT_BATCH_SIZE_BYTES, LOAD_METHODS, UPSERT, MongoSink

if t.TYPE_CHECKING:
    import pymongo

FAIL = "fail"


class TargetMongoDB(ValidatesSettingsInOneLine, Target):
    """Loads Singer streams into MongoDB collections with idempotent upserts."""

    name = "target-mongodb"
    default_sink_class = MongoSink
    message_reader_class = LineNumberingReader

    config_jsonschema = th.PropertiesList(
        *connection_properties(default_app_name="target-mongodb"),
        th.Property("database", th.StringType, required=True, description="Destination database."),
        th.Property(
            "collection_naming",
            th.StringType,
            default=KEEP_STREAM_NAME,
            allowed_values=list(NAMING_MODES),
            description=(
                "Collection per stream `db-coll`: `stream_name` keeps `db-coll`; "
                "`strip_database_prefix` writes `coll`; `database_from_prefix` writes `coll` into database `db`."
            ),
        ),
        th.Property(
            "stream_collections",
            th.ObjectType(additional_properties=th.StringType),
            description="Explicit destination per stream: `collection` or `database.collection`.",
        ),
        th.Property(
            "write_concern",
            th.StringType,
            default="majority",
            description="Write concern `w` of every write: `majority`, or a number of members such as `1`.",
        ),
        th.Property(
            "write_concern_journal",
            th.BooleanType,
            default=True,
            description="Wait for the journal before a write counts as durable.",
        ),
        th.Property(
            "load_method",
            th.StringType,
            default=UPSERT,
            allowed_values=list(LOAD_METHODS),
            description=(
                "`upsert`: replace documents by key (insert when a stream has no key). "
                "`append-only`: always insert. `overwrite`: empty each collection at its first "
                "batch of the run, then upsert."
            ),
        ),
        th.Property(
            "hard_delete",
            th.BooleanType,
            default=True,
            description=(
                "Delete documents for records with `_sdc_deleted_at` and on ACTIVATE_VERSION; "
                "when false, set `_sdc_deleted_at` on them instead."
            ),
        ),
        th.Property(
            "on_invalid_record",
            th.StringType,
            default=FAIL,
            allowed_values=[FAIL, DEAD_LETTER],
            description="A record that cannot be stored: `fail` the run, or keep it in the dead-letter collection.",
        ),
        th.Property(
            "dead_letter_collection",
            th.StringType,
            default=DEFAULT_COLLECTION,
            description="Collection (in the stream's destination database) for rejected records.",
        ),
        th.Property(
            "batch_size_bytes",
            th.IntegerType(minimum=1),
            default=DEFAULT_BATCH_SIZE_BYTES,
            description=(
                "A batch is written once its documents reach this many bytes of BSON (4 MiB by "
                "default), or `batch_size_rows` documents, whichever comes first. Bounds the "
                "target's memory for large documents; MongoDB itself sends at most 48 MB a message."
            ),
        ),
        th.Property(
            "max_state_age_seconds",
            th.IntegerType,
            default=60,
            description=(
                "Longest time records wait before all sinks are flushed and the latest STATE "
                "is confirmed; lower it to confirm progress more often (more, smaller writes)."
            ),
        ),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._MAX_RECORD_AGE_IN_MINUTES = float(self.config.get("max_state_age_seconds", 60)) / 60
        self._overwritten: set[tuple[str, str]] = set()
        self._drain_locks: dict[int, threading.RLock] = {}
        if isinstance(self.message_reader, LineNumberingReader):
            self.message_reader.after_message = self._drain_full_sinks

    # The SDK has no teardown hook for a target, and a client left for the garbage collector
    # ends the run with a `ResourceWarning: Unclosed MongoClient` traceback. `listen` (the CLI)
    # is `process_lines` then `process_endofpipe`; the SDK's test runner calls them itself.
    def process_lines(self, file_input: t.IO[str] | None) -> t.Counter[str]:  # type: ignore[misc]
        """Read and write the input; a failure (bad input, a write, SIGTERM) ends the run: close the client."""
        try:
            return super().process_lines(file_input)
        except BaseException:
            close_cached_client(self)
            raise

    def process_endofpipe(self) -> None:
        """Write what is left, then close the client: nothing follows the end of the input."""
        try:
            super().process_endofpipe()
        finally:
            close_cached_client(self)

    def _drain_full_sinks(self) -> None:
        """Write the batches that are full, between messages.

        The SDK would write a full batch while the record that filled it is still held (its
        parsed message, its converted document); with documents of several megabytes that
        doubles the memory a write needs. Here the record is released first.
        """
        for sink in list(self._sinks_active.values()):
            if isinstance(sink, MongoSink) and sink.batch_full:
                self.logger.info("Batch of %s is full (%d records); writing it", sink.stream_name, sink.current_size)
                self.drain_one(sink)

    def _process_state_message(self, message_dict: dict) -> None:
        """Remember the state; flush everything (confirming it) once records have waited too long."""
        super()._process_state_message(message_dict)
        self._handle_max_record_age()

    @functools.cached_property
    def client(self) -> pymongo.MongoClient:
        """One thread-safe client shared by every sink and drain thread."""
        return connect(self.config, read_preference="primary")

    @functools.cached_property
    def write_concern(self) -> WriteConcern:
        level = str(self.config.get("write_concern", "majority"))
        w: int | str = int(level) if level.isdigit() else level
        return WriteConcern(w=w, j=bool(self.config.get("write_concern_journal", True)))

    @functools.cached_property
    def unjournaled_write_concern(self) -> WriteConcern | None:
        """`w` alone, for a batch whose journaled last write makes it durable (journal_points.py).

        None where every write must wait for the journal itself, or need not: without
        `write_concern_journal`, and on a sharded cluster, where one shard's journal does not
        cover another's writes.
        """
        return journal_points.unjournaled(self.write_concern, self.client.topology_description.topology_type)

    def array_child_sinks(self, parent_stream: str) -> list[MongoSink]:
        """Sinks of the array child streams (tap-mongodb `denest_arrays`) of a stream."""
        return [
            sink
            for name, sink in self._sinks_active.items()
            if isinstance(sink, MongoSink) and is_child_of(name, sink.schema, parent_stream)
        ]

    def drain_one(self, sink: Sink) -> None:
        """One drain at a time per sink: a parent's drain also drains its array child sinks.

        A SCHEMA message that changes a stream's schema retires its sink (the SDK keeps it
        until the next full drain) and starts a new one. Records the retired sink still holds
        came first, so they are written first: otherwise a full new batch (or an
        ACTIVATE_VERSION) would be written before them, and an older version of a document
        would replace a newer one.
        """
        for retired in self._sinks_to_clear:
            if retired is sink:
                break  # only those retired before this one (the list is in order of retirement)
            if retired.stream_name == sink.stream_name:
                with self._drain_locks.setdefault(id(retired), threading.RLock()):
                    super().drain_one(retired)
        with self._drain_locks.setdefault(id(sink), threading.RLock()):
            super().drain_one(sink)

    def claim_overwrite(self, namespace: tuple[str, str]) -> bool:
        """True the first time a collection is set up in this run (a schema change makes a new sink)."""
        if namespace in self._overwritten:
            return False
        self._overwritten.add(namespace)
        return True

    def namespace_for(self, stream_name: str) -> tuple[str, str]:
        return destination_namespace(stream_name, self.config)


if __name__ == "__main__":
    TargetMongoDB.cli()
