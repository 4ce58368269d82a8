"""A stream's declared schema through a run: from the catalog and STATE, widened by the data.

Two levels: the *document schema* (what the documents hold, as the sample inferred it) and
the *record schema* the stream declares in SCHEMA messages (the document schema shaped into
columns and child streams when flattening, de-nesting, safe names or a column cap are on).
Drift is decided at the document level (schema_drift.py); the shapes follow. The document
schema is what STATE keeps between runs (bookmarks.py), so a run never declares less than
the runs before it, whatever a new `--discover` sampled.
"""

from __future__ import annotations

import logging
import typing as t

from mongodb_common.bson_codec import PLAIN
from mongodb_common.singer_fields import DELETED_AT
from tap_mongodb.record_shaping import StreamShape
from tap_mongodb.schema_drift import AUTO, DriftGuard, effective_policy
from tap_mongodb.schema_inference import ValueObserver
from tap_mongodb.schema_tree import add_missing, merge_into, parse, render_document

logger = logging.getLogger(__name__)

DELETED_AT_SCHEMA: dict[str, t.Any] = {"type": ["string", "null"], "format": "date-time"}


class StreamSchema:
    """The declared schema of one stream, and how documents are admitted into it."""

    def __init__(
        self,
        stream: str,
        document_schema: dict[str, t.Any],
        config: t.Mapping[str, t.Any],
        *,
        shaped: bool,
        policy: str | None = None,
    ) -> None:
        self.stream = stream
        self._config = config
        self._policy = policy
        encoding = str(config.get("bson_encoding") or PLAIN)
        self._observer = ValueObserver(encoding)
        self._guard = DriftGuard(
            stream,
            parse(document_schema),
            self._observer,
            effective_policy(policy or str(config.get("schema_drift") or AUTO), encoding),
            # Records that neither stream maps nor shaping (the SDK's JSON for deep values) read.
            decimals_as_text=not shaped and not config.get("stream_maps"),
        )
        self.shape = StreamShape(stream, self.document_schema, config) if shaped else None

    def declared_anew(self, document_schema: dict[str, t.Any]) -> StreamSchema:
        """The same stream and settings, declaring another schema (a sample taken at sync time)."""
        return StreamSchema(
            self.stream, document_schema, self._config, shaped=self.shape is not None, policy=self._policy
        )

    @property
    def document_schema(self) -> dict[str, t.Any]:
        return render_document(self._guard.root, self._observer.extended)

    @property
    def record_schema(self) -> dict[str, t.Any]:
        return self.shape.parent.schema if self.shape is not None else self.document_schema

    def declare_deletions(self) -> bool:
        """LOG_BASED streams also emit deletions, marked by `_sdc_deleted_at`."""
        return self.widen_to({"type": "object", "properties": {DELETED_AT: DELETED_AT_SCHEMA}})

    def widen_to(self, schema: dict[str, t.Any]) -> bool:
        """Take in another declaration of this stream (an earlier run's); True if it widened."""
        before = self.document_schema
        merge_into(self._guard.root, parse(schema))
        self._guard.root.clear_memos()
        return self._reshape(before)

    def continue_from(self, saved: dict[str, t.Any]) -> None:
        """Start from what earlier runs declared (kept in STATE), plus fields only the catalog has.

        A fresh `--discover` may sample a field with two types where earlier runs declared
        one; declaring that union would change a column's type under the target. The earlier
        declaration stands, and the policy handles the other type when its values arrive.
        """
        root = parse(saved)
        add_missing(root, self._guard.root)
        root.settle()
        self._guard.root = root
        if self.shape is not None:
            self.shape = StreamShape(self.stream, self.document_schema, self._config, previous=self.shape)

    def admit(self, document: dict[str, t.Any]) -> tuple[dict[str, t.Any], bool]:
        """The document to emit, and whether the declared schema had to widen for it."""
        return self._after_admission(*self._guard.admit(document))

    def encode_if_fits(self, document: dict[str, t.Any]) -> dict[str, t.Any] | None:
        """The record to emit if the document fits as the schema stands (what record processes do), else None."""
        return self._guard.encode_if_fits(document)

    def admit_encoded(self, document: dict[str, t.Any]) -> tuple[dict[str, t.Any], bool]:
        """The record to emit (the admitted document, encoded), and whether the schema widened."""
        return self._after_admission(*self._guard.admit_encoded(document))

    def _after_admission(self, emitted: dict[str, t.Any], changed: bool) -> tuple[dict[str, t.Any], bool]:
        if changed:
            for change in self._guard.take_changes():
                logger.warning("Stream %s: %s", self.stream, change)
            if self.shape is not None:
                self.shape = StreamShape(self.stream, self.document_schema, self._config, previous=self.shape)
        return emitted, changed

    def _reshape(self, before: dict[str, t.Any]) -> bool:
        if self.document_schema == before:
            return False
        if self.shape is not None:
            self.shape = StreamShape(self.stream, self.document_schema, self._config, previous=self.shape)
        return True
