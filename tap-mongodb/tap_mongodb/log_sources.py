"""The live log readers: one change stream, or one tailable oplog cursor, for all followed collections.

These are the only parts of LOG_BASED replication that need a real replica set; they stay
thin. Everything they read goes through `translate_event` / `translate_entry` and then the
shared LogSession, which tests drive with recorded server documents.
"""

from __future__ import annotations

import dataclasses
import datetime
import typing as t

import pymongo
import pymongo.errors

from mongodb_common.cli_errors import ConnectorError
from mongodb_common.privileges import explained_privileges
from tap_mongodb.change_events import translate_event
from tap_mongodb.log_changes import Change, ChangeKind
from tap_mongodb.oplog_entries import translate_entry

if t.TYPE_CHECKING:
    from bson import Timestamp

Namespace = tuple[str, str]
CHANGE_STREAM_HISTORY_LOST = 286
CHANGE_STREAM_FATAL = 280
_REFETCH_BATCH = 500


class LogPositionLostError(ConnectorError):
    """The saved position is no longer in the server's log: changes since then are unknown."""


@dataclasses.dataclass(frozen=True)
class LogItem:
    """One step of a log: the change (None: caught up for now) and where it stands.

    `position` is safe to save once this item is handled; `origin` is the position of the
    log entry the change comes from. They differ inside a transaction, whose changes share
    one entry: the position moves only with the last of them.
    """

    position: dict[str, t.Any]
    change: Change | None
    cluster_time: Timestamp | None = None
    origin: dict[str, t.Any] | None = None

    @property
    def source_position(self) -> dict[str, t.Any]:
        return self.origin or self.position


def position_key(position: t.Mapping[str, t.Any]) -> tuple[int, t.Any]:
    """Orders positions of one kind: resume tokens by their hex `_data`, oplog by `ts`."""
    if "oplog_ts" in position:
        ts = position["oplog_ts"]
        return (1, (ts.time, ts.inc))
    token = position.get("resume_token") or {}
    return (0, str(token.get("_data", "")))


class _FollowedNamespaces:
    """What both log readers know: the client, the followed collections, the idle wait."""

    def __init__(self, client: pymongo.MongoClient, namespaces: t.Sequence[Namespace], *, max_await_ms: int) -> None:
        self._client = client
        self._namespaces = list(namespaces)
        self._max_await_ms = max_await_ms

    @property
    def _databases(self) -> list[str]:
        return sorted({database for database, _ in self._namespaces})


class ChangeStreamSource(_FollowedNamespaces):
    """One change stream (on the database, or the deployment) filtered to the followed collections."""

    kind = "resume_token"

    def _watch(self, resume_token: t.Mapping[str, t.Any] | None) -> t.Any:
        databases = self._databases
        match: list[dict[str, t.Any]] = [{"ns.db": db, "ns.coll": coll} for db, coll in self._namespaces]
        match += [{"operationType": "dropDatabase", "ns.db": db} for db in databases]
        match.append({"operationType": "invalidate"})
        target = self._client[databases[0]] if len(databases) == 1 else self._client
        return target.watch(
            [{"$match": {"$or": match}}],
            full_document="updateLookup",
            resume_after=resume_token,
            max_await_time_ms=self._max_await_ms,
        )

    def current_position(self) -> dict[str, t.Any]:
        with self._watch(None) as cursor:
            cursor.try_next()
            return {"resume_token": cursor.resume_token}

    def read(self, start: t.Mapping[str, t.Any]) -> t.Iterator[LogItem]:
        namespaces = ", ".join(f"{db}.{coll}" for db, coll in self._namespaces)
        role = "the `read` role on those databases (changeStream and find actions)"
        try:
            with (
                explained_privileges("open a change stream", namespaces, role),
                self._watch(start.get("resume_token")) as cursor,
            ):
                while cursor.alive:
                    event = cursor.try_next()
                    position = {"resume_token": cursor.resume_token}
                    if event is None:
                        yield LogItem(position, None)
                    else:
                        yield LogItem(position, translate_event(event), event.get("clusterTime"))
        except pymongo.errors.OperationFailure as exc:
            if exc.code in {CHANGE_STREAM_HISTORY_LOST, CHANGE_STREAM_FATAL}:
                raise LogPositionLostError(f"the change stream cannot resume: {exc}") from None
            raise


class OplogSource(_FollowedNamespaces):
    """A tailable cursor on `local.oplog.rs`, for deployments where change streams are unavailable."""

    kind = "oplog_ts"

    @property
    def _oplog(self) -> pymongo.collection.Collection:
        return self._client["local"]["oplog.rs"]

    def _edge_ts(self, direction: int) -> Timestamp:
        with explained_privileges("read the oplog", "local.oplog.rs", "the `read` role on database 'local'"):
            entry = next(iter(self._oplog.find({}, {"ts": 1}).sort("$natural", direction).limit(1)), None)
        if entry is None:
            msg = "local.oplog.rs is empty or unreadable: is this a replica set member?"
            raise ConnectorError(msg)
        return t.cast("Timestamp", entry["ts"])

    def _tail(self, after: Timestamp) -> t.Any:
        databases = self._databases
        namespaces = [f"{db}.{coll}" for db, coll in self._namespaces]
        commands = [f"{db}.$cmd" for db in databases] + ["admin.$cmd"]
        # No-op entries ("n", written every few seconds on an idle replica set) are read too,
        # so the position keeps advancing while the followed collections are quiet.
        query = {"ts": {"$gt": after}, "$or": [{"ns": {"$in": namespaces + commands}}, {"op": "n"}]}
        return self._oplog.find(query, cursor_type=pymongo.CursorType.TAILABLE_AWAIT).max_await_time_ms(
            self._max_await_ms
        )

    def current_position(self) -> dict[str, t.Any]:
        return {"oplog_ts": self._edge_ts(pymongo.DESCENDING)}

    def read(self, start: t.Mapping[str, t.Any]) -> t.Iterator[LogItem]:
        after = start["oplog_ts"]
        oldest = self._edge_ts(pymongo.ASCENDING)
        if (after.time, after.inc) < (oldest.time, oldest.inc):
            gap = datetime.timedelta(seconds=oldest.time - after.time)
            msg = f"the bookmark {after} is older than the oldest oplog entry {oldest} (a gap of {gap})"
            raise LogPositionLostError(msg)
        with explained_privileges("read the oplog", "local.oplog.rs", "the `read` role on database 'local'"):
            cursor = self._tail(after)
        position: dict[str, t.Any] = {"oplog_ts": after}
        try:
            while cursor.alive:
                pending: list[LogItem] = []
                for entry in cursor:
                    previous, position = position, {"oplog_ts": entry["ts"]}
                    changes = translate_entry(entry)
                    # A transaction's changes share one entry: only its last change moves the
                    # position, so a run stopped halfway re-reads the whole transaction.
                    pending.extend(
                        LogItem(position if n == len(changes) - 1 else previous, change, entry["ts"], position)
                        for n, change in enumerate(changes)
                    )
                    if len(pending) >= _REFETCH_BATCH:
                        yield from resolve_refetches(pending, self._fetch)
                        pending = []
                yield from resolve_refetches(pending, self._fetch)
                yield LogItem(position, None)
        finally:
            cursor.close()

    def _fetch(self, database: str, collection: str, ids: list[t.Any]) -> dict[t.Any, dict[str, t.Any]]:
        found = self._client[database][collection].find({"_id": {"$in": ids}})
        return {_identity(document["_id"]): document for document in found}


def _identity(value: t.Any) -> t.Any:
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return (type(value).__name__, value)


def resolve_refetches(
    items: list[LogItem],
    fetch: t.Callable[[str, str, list[t.Any]], dict[t.Any, dict[str, t.Any]]],
) -> t.Iterator[LogItem]:
    """Replace REFETCH changes by the documents' current state, one query per collection and batch.

    A document no longer found was deleted after the update; its delete entry follows in
    the log, so nothing is emitted for it here.
    """
    for start in range(0, len(items), _REFETCH_BATCH):
        batch = items[start : start + _REFETCH_BATCH]
        wanted: dict[tuple[str, str], list[t.Any]] = {}
        for item in batch:
            if item.change is not None and item.change.kind is ChangeKind.REFETCH:
                wanted.setdefault((item.change.database, str(item.change.collection)), []).append(
                    item.change.document_id
                )
        current = {namespace: fetch(*namespace, ids) for namespace, ids in wanted.items()}
        for item in batch:
            change = item.change
            if change is None or change.kind is not ChangeKind.REFETCH:
                yield item
                continue
            document = current[(change.database, str(change.collection))].get(_identity(change.document_id))
            if document is not None:
                upsert = dataclasses.replace(change, kind=ChangeKind.UPSERT, document=document)
                yield dataclasses.replace(item, change=upsert)
