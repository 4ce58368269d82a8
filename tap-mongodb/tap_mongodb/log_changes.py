"""What a log entry means for a stream: the shared vocabulary of both log readers.

Change stream events and oplog entries both become `Change` values; streams turn those into
records. Keeping the translation pure means recorded server documents can be fed through the
exact code path the live cursors use.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import typing as t

from bson import DBRef

INSERT = "insert"
UPDATE = "update"
REPLACE = "replace"
DELETE = "delete"
OPERATION_TYPES = (INSERT, UPDATE, REPLACE, DELETE)


class ChangeKind(enum.Enum):
    UPSERT = "upsert"  # the document's current full state is in `document`
    DELETE = "delete"  # the document with `document_id` is gone (`document`: its last state, when known)
    REFETCH = "refetch"  # the document changed; read its current state by `document_id`
    INVALIDATE = "invalidate"  # the collection was dropped, renamed, or its database dropped


@dataclasses.dataclass(frozen=True)
class Change:
    kind: ChangeKind
    database: str
    collection: str | None  # None: every collection of the database (dropDatabase)
    document_id: t.Any = None
    document: dict[str, t.Any] | None = None
    wall_time: datetime.datetime | None = None
    reason: str = ""
    # The user-facing operation (insert, update, replace, delete) for `operation_types` and
    # the counts by type; empty for invalidations.
    operation: str = ""
    # Also invalidated: the collection a rename replaced (`to`), if any.
    also_invalidates: tuple[str, str] | None = None

    def concerns(self, database: str, collection: str) -> bool:
        if self.also_invalidates == (database, collection):
            return True
        return self.database == database and self.collection in {None, collection}


def deleted_at(change: Change) -> datetime.datetime:
    """When the document was deleted: the event's wall time, else now."""
    return change.wall_time or datetime.datetime.now(tz=datetime.timezone.utc)


def as_document(value: t.Any) -> dict[str, t.Any]:
    """A document the driver handed out as a `DBRef` (its own top-level `$ref` and `$id`).

    Such documents are valid since MongoDB 5.0; the driver decodes them as references when
    they sit inside a reply (a change event, an oplog entry). The fields come back, but in
    the reference's order: readers refetch such documents (raw_documents.py) for exactness.
    """
    if isinstance(value, DBRef):
        return dict(value.as_doc())
    return t.cast("dict[str, t.Any]", value)
