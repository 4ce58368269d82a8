"""Recorded change events and oplog entries, replayed through the tap's real log code path.

Only the cursor is replaced: `RecordedChangeStream` answers `try_next()` and `resume_token`
as pymongo's ChangeStream does, from documents recorded in MongoDB's own shapes
(tests/fixtures/log). For the oplog, the recorded entries are put in the stand-in's
`local.oplog.rs` and read by the tap's own OplogSource query.
"""

from __future__ import annotations

import copy
import datetime
import typing as t
from pathlib import Path

import pymongo.errors
from bson import json_util
from bson.codec_options import DatetimeConversion

from tap_mongodb.log_sources import ChangeStreamSource

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "log"
_OPTIONS = json_util.JSONOptions(
    tz_aware=True, tzinfo=datetime.timezone.utc, datetime_conversion=DatetimeConversion.DATETIME_AUTO
)

TOKEN_BEFORE_EVENTS = {"_data": "8266A0C1E0000000012B022C0100296E5A1004"}
TOKEN_AFTER_EVENTS = {"_data": "8266A0C1FF000000012B022C0100296E5A1004"}
TOKEN_LATER = {"_data": "8266A0C30A000000012B022C0100296E5A1004"}


def load(name: str) -> t.Any:
    return json_util.loads((FIXTURES / name).read_text(encoding="utf-8"), json_options=_OPTIONS)


def in_database(document: t.Any, database: str) -> t.Any:
    """The recorded document with database `shop` renamed to `database` (every namespace field)."""
    document = copy.deepcopy(document)

    def rename(value: t.Any) -> t.Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                renamed = item
                if key == "db" and item == "shop":
                    renamed = database
                elif key in {"ns", "renameCollection", "to"} and isinstance(item, str) and item.startswith("shop."):
                    renamed = database + item[len("shop") :]
                out[key] = rename(renamed)
            return out
        if isinstance(value, list):
            return [rename(item) for item in value]
        return value

    return rename(document)


class RecordedChangeStream:
    """pymongo's ChangeStream surface, answering from recorded events."""

    def __init__(
        self,
        events: list[dict[str, t.Any]],
        resume_after: dict[str, t.Any] | None,
        *,
        start_token: dict[str, t.Any],
        final_token: dict[str, t.Any],
        error: dict[str, t.Any] | None = None,
    ) -> None:
        after = (resume_after or start_token)["_data"]
        self._events = [e for e in events if e["_id"]["_data"] > after] if resume_after else []
        self.resume_token = resume_after or start_token
        # A stream opened without a token starts "now", before the recorded changes happen.
        self._final_token = final_token if resume_after else start_token
        self._error = error
        self.alive = True

    def try_next(self) -> dict[str, t.Any] | None:
        if self._error is not None:
            raise pymongo.errors.OperationFailure(self._error["errmsg"], self._error["code"], self._error)
        if not self._events:
            self.resume_token = self._final_token  # the post-batch resume token
            return None
        event = self._events.pop(0)
        self.resume_token = event["_id"]
        if event["operationType"] == "invalidate":
            self.alive = False
        return event

    def close(self) -> None:
        self.alive = False

    def __enter__(self) -> RecordedChangeStream:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def replay_change_stream(
    monkeypatch: t.Any,
    events: list[dict[str, t.Any]],
    *,
    final_token: dict[str, t.Any] = TOKEN_AFTER_EVENTS,
    error: dict[str, t.Any] | None = None,
) -> list[t.Any]:
    """Make ChangeStreamSource read `events`; returns the resume tokens it was opened with."""
    opened: list[t.Any] = []

    def watch(_source: ChangeStreamSource, resume_token: dict[str, t.Any] | None) -> RecordedChangeStream:
        opened.append(resume_token)
        return RecordedChangeStream(
            events, resume_token, start_token=TOKEN_BEFORE_EVENTS, final_token=final_token, error=error
        )

    monkeypatch.setattr(ChangeStreamSource, "_watch", watch)
    return opened
