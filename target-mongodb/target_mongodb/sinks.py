"""One sink per stream: records in, bounded idempotent bulk writes out.

Per record (in input order): validate, restore BSON types, check, and turn into one write
operation keyed by the document's identity; a later record for the same document replaces
the earlier operation. Per batch: one unordered ``bulk_write`` with the configured write
concern (or with `w` alone, then its last write again journaled: journal_points.py), then the
version ledger, then rejected records. The SDK emits STATE only after every
sink has drained, so a STATE message always follows the durable write of what preceded it.
"""

from __future__ import annotations

import datetime
import typing as t

import pymongo
import pymongo.errors
from bson import ObjectId
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks import BatchSink

from mongodb_common.bson_codec import ExtendedJsonError
from mongodb_common.privileges import explained_privileges
from mongodb_common.retries import RetryPolicy, call_with_retries
from mongodb_common.singer_fields import DELETED_AT, DENEST_VERSION, SOURCE_KEY
from target_mongodb import array_rows, journal_points, version_ledger, write_operations
from target_mongodb.dead_letter import RejectedRecord
from target_mongodb.document_checks import DocumentRejectedError, encode_checked
from target_mongodb.errors import (
    KeyPropertyNameError,
    MissingKeyPropertiesRejectedError,
    RecordRejectedError,
    WriteFailedError,
)
from target_mongodb.record_restoration import ValueRestorationError, compile_record_converter
from target_mongodb.record_validation import FastRecordValidator, unreadable_patterns

if t.TYPE_CHECKING:
    from singer_sdk.sinks.core import BaseJSONSchemaValidator

    from target_mongodb.target import TargetMongoDB

DEAD_LETTER = "dead_letter"
# Peak memory is about three times a batch (the batch, pymongo's message, the record being
# converted) plus the largest record's own conversion: a batch of this size keeps the target's
# memory the same for any input size (16 MiB batches made 20,000 records of 1.6 KB peak 90%
# higher than 2,000). A 16 MiB document is a batch of its own; the target then peaked at
# 248 MB (benchmarks/target_memory.py), the record's own conversion being most of it.
DEFAULT_BATCH_SIZE_BYTES = 4 * 1024 * 1024
UPSERT, APPEND_ONLY, OVERWRITE = "upsert", "append-only", "overwrite"
LOAD_METHODS = (UPSERT, APPEND_ONLY, OVERWRITE)
_MISSING_KEYS = "record lacks key properties"
_VERSION = "_sdc_table_version"
# A staged write: (operation, input line, key filter, table version, key identity); inserts
# without a key carry None for the last three.
_Staged = tuple[t.Any, int, "dict | None", "int | None", "bytes | None"]
_SDC_FIELDS = (
    "_sdc_extracted_at",
    "_sdc_received_at",
    "_sdc_batched_at",
    "_sdc_sequence",
    "_sdc_sync_started_at",
)


class MongoSink(BatchSink):
    """Writes one stream into one collection."""

    def __init__(
        self, target: TargetMongoDB, stream_name: str, schema: dict, key_properties: t.Sequence[str] | None
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self._mongo_target = target
        self.database_name, self.collection_name = target.namespace_for(stream_name)
        self._convert = compile_record_converter(schema)
        self._rejection: str | None = None
        self._hard_delete = self.config.get("hard_delete", True)
        self._load_method = str(self.config.get("load_method") or UPSERT)
        self._retry_policy = RetryPolicy.from_config(self.config)
        self._keep_metadata = self.config.get("add_record_metadata", False)
        self._max_batch_bytes = int(self.config.get("batch_size_bytes") or DEFAULT_BATCH_SIZE_BYTES)
        self._pending_bytes = 0

    # -- destination -----------------------------------------------------------------

    @property
    def database(self) -> pymongo.database.Database:
        return self._mongo_target.client[self.database_name]

    @property
    def collection(self) -> pymongo.collection.Collection:
        return self.database.get_collection(self.collection_name, write_concern=self._mongo_target.write_concern)

    def setup(self) -> None:
        """A unique index on a composite (or non-`_id`) key, so upserts stay idempotent.

        Not for append-only loads, which keep every copy of a key on purpose.
        """
        super().setup()
        namespace = (self.database_name, self.collection_name)
        role = f"the `readWrite` role on database {self.database_name!r}"
        with explained_privileges("write", ".".join(namespace), role):
            if self._load_method == OVERWRITE and self._mongo_target.claim_overwrite(namespace):
                removed = self.collection.delete_many({}).deleted_count
                self.logger.info("load_method=overwrite: emptied %s.%s (%d documents)", *namespace, removed)
            keys = list(self.key_properties)
            for key in keys:
                if key[:1] == "$" or "." in key:
                    msg = (
                        f"stream {self.stream_name!r}: key property {key!r} cannot identify documents: MongoDB "
                        "reads a name with '.' as a path into a sub-document and one starting with '$' as an "
                        "operator (such fields are stored, but cannot be keys)"
                    )
                    raise KeyPropertyNameError(msg)
            if keys and keys != ["_id"] and self._load_method != APPEND_ONLY:
                self.collection.create_index([(key, pymongo.ASCENDING) for key in keys], unique=True)

    # -- batch bounds ----------------------------------------------------------------

    @property
    def batch_full(self) -> bool:
        """Full at `batch_size_rows` records or at `batch_size_bytes` bytes of documents."""
        return self.current_size >= self.max_size or self._pending_bytes >= self._max_batch_bytes

    @property
    def is_full(self) -> bool:
        """Never, to the SDK: the target writes full batches between messages (`batch_full`)."""
        return False

    def start_drain(self) -> dict:
        self._pending_bytes = 0
        return super().start_drain()

    # -- per record ------------------------------------------------------------------

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        if not self.validate_schema:
            return None
        for pattern in unreadable_patterns(self.schema):
            self.logger.warning(
                "Stream %r: the schema's pattern %r is not a regular expression Python can read; it is not enforced",
                self.stream_name,
                pattern,
            )
        return FastRecordValidator(self.schema)

    @property
    def include_sdc_metadata_properties(self) -> bool:
        # Always True so the SDK hands each record its message's table version; the
        # metadata fields themselves are stored only with add_record_metadata.
        return True

    def _add_sdc_metadata_to_record(self, record: dict, message: dict, context: dict) -> None:
        if self._keep_metadata:
            super()._add_sdc_metadata_to_record(record, message, context)
        else:
            record[_VERSION] = message.get("version")

    def _validate_and_parse(self, record: dict) -> dict:
        """Schema validation; dates are restored later, at every depth, with the other types."""
        self._rejection = None
        if self._validator is not None:
            try:
                self._validator.validate(record)
            except InvalidRecord as exc:
                self._rejection = f"record does not match the stream's schema: {exc.error_message}"
        return record

    def _singer_validate_message(self, record: dict) -> None:
        if self._rejection is None:
            missing = [key for key in self.key_properties if key not in record]
            if missing:
                self._rejection = f"{_MISSING_KEYS} {missing}"

    @property
    def _line_number(self) -> int:
        return self._mongo_target.message_reader.line_number

    def _reject(self, context: dict, record: dict, reason: str) -> None:
        key = {name: record.get(name) for name in self.key_properties}
        description = f"stream {self.stream_name!r}, input line {self._line_number}, key {key}: {reason}"
        if self.config.get("on_invalid_record") != DEAD_LETTER:
            error = MissingKeyPropertiesRejectedError if reason.startswith(_MISSING_KEYS) else RecordRejectedError
            raise error(description)
        self.logger.warning("Rejected to the dead-letter collection: %s", description)
        context.setdefault("rejected", []).append(RejectedRecord(self.stream_name, self._line_number, reason, record))

    def process_record(self, record: dict, context: dict) -> None:
        if self._rejection is not None:
            self._reject(context, record, self._rejection)
            return
        version = record.get(_VERSION)
        if not self._keep_metadata:
            for name in (_VERSION, *_SDC_FIELDS):
                record.pop(name, None)
        deleted_at = record.get(DELETED_AT)
        if deleted_at is None and not self._keep_metadata:
            record.pop(DELETED_AT, None)
        try:
            document = self._convert(record)
            keys = list(self.key_properties)
            if (not keys or self._load_method == APPEND_ONLY) and "_id" not in document:
                # An _id chosen here makes a retried insert recognisable instead of a duplicate.
                document["_id"] = ObjectId()
            if deleted_at is not None and keys:
                self._stage_delete(context, write_operations.key_filter(document, keys), document[DELETED_AT])
                return
            raw = encode_checked(document)
        except (ValueRestorationError, DocumentRejectedError, ExtendedJsonError) as exc:
            self._reject(context, record, str(exc))
            return
        self._pending_bytes += len(raw.raw)
        if not keys or self._load_method == APPEND_ONLY:
            context.setdefault("inserts", []).append((write_operations.insert(raw), self._line_number))
            return
        filter_ = write_operations.key_filter(document, keys)
        dollar_names = write_operations.has_dollar_field_names(document)
        self._stage(context, filter_, write_operations.upsert(filter_, raw, dollar_names=dollar_names), version)

    def _stage(self, context: dict, filter_: dict, operation: t.Any, version: int | None) -> None:
        operations: dict[bytes, _Staged] = context.setdefault("operations", {})
        identity = write_operations.identity(filter_)
        if identity in operations:
            self.tally_duplicate_merged()
            del operations[identity]  # re-insert so the dict keeps last-write order
        operations[identity] = (operation, self._line_number, filter_, version, identity)

    def _stage_delete(self, context: dict, filter_: dict, deleted_at: t.Any) -> None:
        if self._hard_delete:
            operation: t.Any = write_operations.hard_delete(filter_)
        else:
            operation = write_operations.soft_delete(filter_, deleted_at)
        self._stage(context, filter_, operation, None)

    # -- per batch -------------------------------------------------------------------

    def process_batch(self, context: dict) -> None:
        staged = list(context.get("operations", {}).values()) + [
            (op, line, None, None, None) for op, line in context.get("inserts", [])
        ]
        if staged:
            self._bulk_write(self.collection, [entry[0] for entry in staged], [entry[1] for entry in staged], context)
            self._write_ledger(staged)
            if self._is_denested_parent:
                self._remove_stale_array_rows(staged)
        rejected = context.get("rejected", [])
        if rejected:
            dead_letter = self.database.get_collection(
                self.config.get("dead_letter_collection") or "_sdc_rejected_records",
                write_concern=self._mongo_target.write_concern,
            )
            documents = [item.as_document() for item in rejected]
            call_with_retries(
                lambda: dead_letter.insert_many(documents, ordered=True),
                self._retry_policy,
                f"stream {self.stream_name!r}, writing rejected records",
                self.logger,
            )

    def _bulk_write(
        self, collection: pymongo.collection.Collection, operations: list, lines: list[int], context: dict
    ) -> None:
        what = (
            f"stream {self.stream_name!r}, writing input lines {lines[0]}-{lines[-1]} "
            f"to {self.database_name}.{self.collection_name}"
        )
        attempts = {"count": 0}
        unjournaled = self._mongo_target.unjournaled_write_concern
        journaled = None  # the batch's last write is repeated through it, journaled (journal_points.py)
        writer = collection
        if unjournaled is not None and journal_points.repeatable(operations):
            journaled, writer = collection, collection.with_options(write_concern=unjournaled)

        def write() -> None:
            attempts["count"] += 1
            try:
                writer.bulk_write(operations, ordered=False)
            except pymongo.errors.BulkWriteError as exc:
                if journaled is not None:
                    journal_points.write_journal_point(journaled, operations, exc)
                if attempts["count"] > 1 and _only_reinserted(exc, operations):
                    return  # an earlier attempt inserted these before the connection dropped
                raise
            if journaled is not None:
                journal_points.write_journal_point(journaled, operations, None)

        role = f"the `readWrite` role on database {self.database_name!r}"
        try:
            with explained_privileges("write", f"{self.database_name}.{self.collection_name}", role):
                call_with_retries(write, self._retry_policy, what, self.logger)
        except pymongo.errors.BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if (
                self.config.get("on_invalid_record") == DEAD_LETTER
                and errors
                and not exc.details.get("writeConcernErrors")
            ):
                for error in errors:
                    self.logger.warning(
                        "Write refused at input line %s: %s", lines[error["index"]], error.get("errmsg")
                    )
                    context.setdefault("rejected", []).append(
                        RejectedRecord(
                            self.stream_name, lines[error["index"]], error.get("errmsg", ""), error.get("op")
                        )
                    )
                return
            first = errors[0] if errors else {}
            where = f"first at input line {lines[first['index']]}: " if "index" in first else ""
            msg = (
                f"stream {self.stream_name!r}: {len(errors)} of {len(operations)} writes to "
                f"{self.database_name}.{self.collection_name} failed; {where}{first.get('errmsg', exc)}"
            )
            raise WriteFailedError(msg) from None
        except pymongo.errors.PyMongoError as exc:
            msg = f"{what} failed: {exc}"
            raise WriteFailedError(msg) from None

    @property
    def _is_denested_parent(self) -> bool:
        properties = self.schema.get("properties", {})
        return DENEST_VERSION in properties and SOURCE_KEY not in properties

    def _remove_stale_array_rows(self, staged: list[_Staged]) -> None:
        """Replace a re-synced document's array rows: drop its rows of older emissions."""
        children = self._mongo_target.array_child_sinks(self.stream_name)
        if not children:
            return
        stale = array_rows.stale_row_filters(
            [(operation, filter_) for operation, _line, filter_, _version, _identity in staged if filter_ is not None]
        )
        operations = [pymongo.DeleteMany(f) for f in stale]
        for child in children:
            self._mongo_target.drain_one(child)  # rows received before this batch are written first
            call_with_retries(
                lambda child=child: child.collection.bulk_write(operations, ordered=False),
                self._retry_policy,
                f"stream {child.stream_name!r}, removing rows of re-synced parents",
                self.logger,
            )

    def _write_ledger(self, staged: list[_Staged]) -> None:
        """Record which documents this batch wrote with which table version, after they are durable."""
        written = [
            (version, identity)
            for operation, _line, _filter, version, identity in staged
            if identity is not None and version is not None and not isinstance(operation, pymongo.DeleteOne)
        ]
        if not written:
            return
        ledger = self.database.get_collection(
            version_ledger.LEDGER_COLLECTION, write_concern=self._mongo_target.write_concern
        )
        entries = version_ledger.ledger_entries(self.collection_name, written)
        call_with_retries(
            # A retry after a lost reply finds the entries there (duplicate `_id`s, ignored).
            lambda: version_ledger.write_entries(ledger, entries),
            self._retry_policy,
            f"stream {self.stream_name!r}, version ledger write",
            self.logger,
        )

    def activate_version(self, new_version: int) -> None:
        """Drop documents of older table versions, after writing this version's pending records."""
        self._mongo_target.drain_one(self)
        if not self.key_properties:
            self.logger.warning(
                "ACTIVATE_VERSION ignored for %s: a stream without key properties has no document identity",
                self.stream_name,
            )
            return
        now = datetime.datetime.now(tz=datetime.timezone.utc)
        removed = call_with_retries(
            # Activation is idempotent: after a transient fault it is simply done again.
            lambda: version_ledger.activate_version(
                self.database,
                self.collection,
                list(self.key_properties),
                new_version,
                hard_delete=self._hard_delete,
                now=now,
            ),
            self._retry_policy,
            f"stream {self.stream_name!r}, ACTIVATE_VERSION {new_version}",
            self.logger,
        )
        self.logger.info(
            "ACTIVATE_VERSION %s on %s.%s: %d documents of older versions %s",
            new_version,
            self.database_name,
            self.collection_name,
            removed,
            "deleted" if self._hard_delete else "marked deleted",
        )


def _only_reinserted(exc: pymongo.errors.BulkWriteError, operations: list) -> bool:
    """Every error is a duplicate `_id` of an insert: the inserts of an attempt that did arrive."""
    errors = exc.details.get("writeErrors", [])
    return bool(errors) and all(
        error.get("code") == 11000 and isinstance(operations[error["index"]], pymongo.InsertOne) for error in errors
    )
