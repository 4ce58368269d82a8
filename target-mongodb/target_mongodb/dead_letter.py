"""Rejected records, kept with their error instead of being dropped (on_invalid_record=dead_letter)."""

from __future__ import annotations

import dataclasses
import datetime
import typing as t

from singer_sdk.singerlib.json import serialize_json

DEFAULT_COLLECTION = "_sdc_rejected_records"
_MAX_RECORD_TEXT = 15 * 1024 * 1024


@dataclasses.dataclass
class RejectedRecord:
    stream: str
    line_number: int
    error: str
    record: t.Any

    def as_document(self) -> dict[str, t.Any]:
        """Always storable: the record travels as Extended JSON text, not as a document.

        The record was rejected because MongoDB could not take it as it was, so it is not
        stored as a document again.
        """
        text = serialize_json(self.record)  # the SDK's writer: Decimals stay exact numbers
        truncated = len(text) > _MAX_RECORD_TEXT
        return {
            "stream": self.stream,
            "line_number": self.line_number,
            "error": self.error,
            "record_json": text[:_MAX_RECORD_TEXT],
            "record_truncated": truncated,
            "rejected_at": datetime.datetime.now(tz=datetime.timezone.utc),
        }
