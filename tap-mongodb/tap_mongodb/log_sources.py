"""The live log readers: one change stream, or oplog queries, for all followed collections.

Both yield `LogItem`s: a change (or nothing), the position safe to save once it is handled,
and what the reader knows about time. A bounded run ends at a *time*, never at a silence:
when it starts, the reader takes the cluster's current time (its fence) and reports
`caught_up` only once it has proof that every change before the fence was delivered
(see docs/replication.md, "When a run ends").
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import logging
import time
import typing as t

import pymongo
import pymongo.errors
from bson import Timestamp

from mongodb_common.cli_errors import ConnectorError
from mongodb_common.privileges import explained_privileges
from tap_mongodb.change_events import INVALIDATING, translate_event
from tap_mongodb.log_changes import OPERATION_TYPES, Change, ChangeKind
from tap_mongodb.log_positions import (
    CHANGE_STREAMS,
    OPLOG,
    StartPlan,
    change_stream_position,
    later,
    oplog_position,
    with_margin,
)
from tap_mongodb.oplog_entries import translate_entry
from tap_mongodb.raw_documents import decoded, raw_view

logger = logging.getLogger(__name__)

Namespace = tuple[str, str]
CHANGE_STREAM_HISTORY_LOST = 286
CHANGE_STREAM_FATAL = 280
_REFETCH_BATCH = 500
# Consecutive empty batches whose resume token moved before the deployment is asked
# whether the stream has passed its fence (see ChangeStreamSource._witness).
_WITNESS_AFTER_MOVING_BATCHES = 2
_CONTINUOUS_WITNESS_SECONDS = 30.0


class LogPositionLostError(ConnectorError):
    """The saved position is no longer in the server's log: changes since then are unknown."""


class ResumeRefusedError(Exception):
    """The server would not resume from the saved token (another scope, an unknown token)."""


@dataclasses.dataclass(frozen=True)
class LogItem:
    """One step of a log.

    `position` is safe to save once this item is handled; `change` is what to emit (None:
    an empty batch, an entry that changes no followed document, or an event read only to
    learn the time); `cluster_time` is the event's or entry's own; `reached` a cluster time
    the reading is known to have passed (for the lag); `caught_up` that every change before
    the run's fence has been delivered.
    """

    position: dict[str, t.Any]
    change: Change | None
    cluster_time: Timestamp | None = None
    reached: Timestamp | None = None
    caught_up: bool = False


def sample_cluster_time(client: pymongo.MongoClient) -> Timestamp:
    """The cluster's current majority-committed time (`hello`), else its operation time."""
    reply = client.admin.command("hello")
    majority = ((reply.get("lastWrite") or {}).get("majorityOpTime") or {}).get("ts")
    sampled = majority or reply.get("operationTime") or client.admin.command("ping").get("operationTime")
    if not isinstance(sampled, Timestamp):
        msg = "the server reports no cluster time: LOG_BASED needs a replica set or a sharded cluster"
        raise ConnectorError(msg)
    return sampled


class _FollowedNamespaces:
    """What both log readers know: the client, the followed collections, the idle wait."""

    method = ""

    def __init__(
        self,
        client: pymongo.MongoClient,
        namespaces: t.Sequence[Namespace],
        *,
        max_await_ms: int,
        operation_types: t.Sequence[str] = OPERATION_TYPES,
    ) -> None:
        self._client = client
        self._namespaces = list(namespaces)
        self._max_await_ms = max_await_ms
        self._operation_types = [op for op in OPERATION_TYPES if op in set(operation_types)]

    @property
    def _databases(self) -> list[str]:
        return sorted({database for database, _ in self._namespaces})

    def _collections_of(self, database: str) -> list[str]:
        return sorted(collection for db, collection in self._namespaces if db == database)

    def _fetch(self, database: str, collection: str, ids: list[t.Any]) -> dict[t.Any, dict[str, t.Any]]:
        """The current state of documents, as stored (raw_documents.py), by identity."""
        source = self._client[database][collection]
        found = decoded(raw_view(source).find({"_id": {"$in": ids}}), source.codec_options)
        return {_identity(document["_id"]): document for document in found}

    def keeps_pre_images(self, namespace: Namespace) -> bool:  # noqa: ARG002 - the oplog reader has none
        return False


class ChangeStreamSource(_FollowedNamespaces):
    """The narrowest change stream covering the followed collections, filtered on the server."""

    method = CHANGE_STREAMS

    def __init__(self, client: pymongo.MongoClient, namespaces: t.Sequence[Namespace], **settings: t.Any) -> None:
        super().__init__(client, namespaces, **settings)
        self._pre_images: set[Namespace] | None = None
        self._witness_usable = True
        self._captured: dict[str, t.Any] | None = None

    # -- what to open --------------------------------------------------------------------

    @property
    def scope(self) -> str:
        if len(self._namespaces) == 1:
            return "collection"
        return "database" if len(self._databases) == 1 else "deployment"

    def _target(self) -> t.Any:
        if self.scope == "collection":
            database, collection = self._namespaces[0]
            return self._client[database][collection]
        if self.scope == "database":
            return self._client[self._databases[0]]
        return self._client

    def _pipeline(self, fence: Timestamp | None) -> list[dict[str, t.Any]]:
        """Followed changes and invalidations; with a fence, also the first event at or after it.

        The fence clause lets an event of an unfollowed collection through once the stream
        is past the run's start time: it proves the run caught up and is never emitted.
        """
        wanted = [*self._operation_types, "drop", "rename"]
        clauses: list[dict[str, t.Any]] = []
        for database in self._databases:
            collections = self._collections_of(database)
            clauses.append({"ns.db": database, "ns.coll": {"$in": collections}, "operationType": {"$in": wanted}})
            clauses.append({"operationType": "rename", "to.db": database, "to.coll": {"$in": collections}})
        clauses.append({"operationType": "dropDatabase", "ns.db": {"$in": self._databases}})
        clauses.append({"operationType": "invalidate"})
        if fence is not None:
            clauses.append({"clusterTime": {"$gte": fence}})
        return [{"$match": {"$or": clauses}}]

    def _follows(self, event: t.Mapping[str, t.Any]) -> bool:
        operation = event.get("operationType")
        namespace = event.get("ns") or {}
        database, collection = namespace.get("db"), namespace.get("coll")
        if operation == "invalidate":
            return True
        if operation == "dropDatabase":
            return database in self._databases
        target = event.get("to") or {}
        if operation == "rename" and (target.get("db"), target.get("coll")) in set(self._namespaces):
            return True
        if (database, collection) not in set(self._namespaces):
            return False
        return operation in INVALIDATING or operation in self._operation_types

    def keeps_pre_images(self, namespace: Namespace) -> bool:
        """Whether the collection keeps pre-images (MongoDB 6.0+ changeStreamPreAndPostImages)."""
        if self._pre_images is None:
            self._pre_images = set()
            for database in self._databases:
                wanted = {"name": {"$in": self._collections_of(database)}}
                with explained_privileges("list collections of", database, f"the `read` role on {database!r}"):
                    for entry in self._client[database].list_collections(filter=wanted):
                        if ((entry.get("options") or {}).get("changeStreamPreAndPostImages") or {}).get("enabled"):
                            self._pre_images.add((database, entry["name"]))
        return namespace in self._pre_images

    def _watch(self, plan: StartPlan | None, fence: Timestamp | None) -> t.Any:
        options: dict[str, t.Any] = {"full_document": "updateLookup", "max_await_time_ms": self._max_await_ms}
        if any(self.keeps_pre_images(namespace) for namespace in self._namespaces):
            options["full_document_before_change"] = "whenAvailable"
        if plan is not None and plan.resume_token is not None:
            options["resume_after"] = plan.resume_token
        elif plan is not None and plan.start_time is not None:
            options["start_at_operation_time"] = plan.start_time
        namespaces = ", ".join(f"{db}.{coll}" for db, coll in self._namespaces)
        role = "the `read` role on those databases (changeStream and find actions)"
        with explained_privileges("open a change stream", namespaces, role):
            return self._target().watch(self._pipeline(fence), **options)

    # -- reading -------------------------------------------------------------------------

    def capture(self) -> dict[str, t.Any]:
        """The position now, for streams about to start their initial sync.

        One position for the whole run: streams that start together then share one resume
        token, so the shared cursor resumes exactly (the position precedes every later
        stream's full-table read as well).
        """
        if self._captured is None:
            self._captured = self._open_position()
        return dict(self._captured)

    def _open_position(self) -> dict[str, t.Any]:
        """A stream opened now: its first resume token, and the `operationTime` it started at.

        Opened with the aggregate command itself because the driver keeps that operation time
        to itself: by the change streams specification, a stream opened without a start is
        resumed with `startAtOperationTime` = that time, so "every change before it is
        covered" holds exactly, with no margin.
        """
        stage: dict[str, t.Any] = {"allChangesForCluster": True} if self.scope == "deployment" else {}
        pipeline = [{"$changeStream": stage}, *self._pipeline(None)]
        if self.scope == "collection":
            database, collection = self._namespaces[0]
            target: t.Any = collection
        else:
            database, target = ("admin" if self.scope == "deployment" else self._databases[0]), 1
        namespaces = ", ".join(f"{db}.{coll}" for db, coll in self._namespaces)
        with explained_privileges("open a change stream", namespaces, "the `read` role on those databases"):
            reply = self._client[database].command("aggregate", target, pipeline=pipeline, cursor={"batchSize": 0})
        cursor = reply.get("cursor") or {}
        if cursor.get("id"):
            # The cursor was opened only for its first token; it would otherwise idle on the server.
            with contextlib.suppress(pymongo.errors.PyMongoError):
                collection_name = str(cursor.get("ns", "")).partition(".")[2]
                self._client[database].command("killCursors", collection_name, cursors=[cursor["id"]])
        token, started = cursor.get("postBatchResumeToken"), reply.get("operationTime")
        if token is None or started is None:  # a server without post-batch tokens (before 4.2)
            sampled = sample_cluster_time(self._client)
            with self._watch(None, None) as stream:
                stream.try_next()
                return change_stream_position(stream.resume_token, with_margin(sampled))
        return change_stream_position(token, started)

    def start_at(self, moment: Timestamp) -> dict[str, t.Any]:
        return change_stream_position(None, moment)

    def read(self, plan: StartPlan, *, bounded: bool) -> t.Iterator[LogItem]:
        """Open now (so a refused token or a lost position is raised here), then follow."""
        fence = sample_cluster_time(self._client) if bounded else None
        try:
            cursor = self._watch(plan, fence)
        except pymongo.errors.OperationFailure as exc:
            if exc.code == CHANGE_STREAM_HISTORY_LOST:
                raise LogPositionLostError(f"the change stream cannot resume: {exc}") from None
            if plan.resume_token is not None:
                raise ResumeRefusedError(str(exc)) from exc
            raise
        if fence is not None:
            logger.info("Reading the log up to cluster time %s (the run's start)", fence)
        return self._follow(cursor, plan, fence)

    def _follow(self, cursor: t.Any, plan: StartPlan, fence: Timestamp | None) -> t.Iterator[LogItem]:
        lower = plan.lower_bound
        quiet_token: t.Any = None
        sampled: Timestamp | None = None
        moving = 0
        last_witness = 0.0
        try:
            with cursor:
                while cursor.alive:
                    event = cursor.try_next()
                    token = cursor.resume_token
                    if event is not None:
                        moment = event.get("clusterTime")
                        lower = later(lower, moment)
                        change = translate_event(event) if self._follows(event) else None
                        passed = fence is not None and moment is not None and moment >= fence
                        item = LogItem(change_stream_position(token, lower), change, moment, moment, passed)
                        if change is not None and change.kind is ChangeKind.REFETCH:
                            yield from resolve_refetches([item], self._fetch)
                        else:
                            yield item
                        quiet_token, sampled, moving = None, None, 0
                        continue
                    reached: Timestamp | None = None
                    if sampled is not None and token == quiet_token:
                        # A whole wait that began after `sampled` was taken found nothing new,
                        # not even for other namespaces: the stream is at the end of the log.
                        reached = sampled
                        lower = later(lower, with_margin(sampled))
                    else:
                        moving = moving + 1 if quiet_token is not None else 0
                        now = time.monotonic()
                        if moving >= _WITNESS_AFTER_MOVING_BATCHES and now - last_witness >= self._witness_pause(fence):
                            last_witness = now
                            reached = self._witness(token, fence or sampled)
                            lower = later(lower, reached)
                    yield LogItem(change_stream_position(token, lower), None, None, reached, reached is not None)
                    quiet_token, sampled = token, sample_cluster_time(self._client)
        except pymongo.errors.OperationFailure as exc:
            if exc.code in {CHANGE_STREAM_HISTORY_LOST, CHANGE_STREAM_FATAL}:
                raise LogPositionLostError(f"the change stream cannot resume: {exc}") from None
            raise

    @property
    def proves_progress_while_busy(self) -> bool:
        """Whether a run can show it caught up while other namespaces never stop writing."""
        return self.scope == "deployment" or self._witness_usable

    def _witness_pause(self, fence: Timestamp | None) -> float:
        # Bounded runs ask often (they end on the answer); continuous runs only for the lag.
        return max(1.0, self._max_await_ms / 1000) if fence is not None else _CONTINUOUS_WITNESS_SECONDS

    def _witness(self, token: t.Any, fence: Timestamp | None) -> Timestamp | None:
        """The fence (or a later time) if the deployment shows nothing between `token` and it.

        An empty batch's resume token moves with every write of the deployment, so on a busy
        deployment a narrow stream never sees two equal tokens, and its token's time is not
        ours to read. A deployment-wide stream resumed after that token answers instead: if
        the first event anywhere after it is at or after the fence (or there is none), no
        change of ours can lie before the fence. Needs `changeStream` on the cluster; without
        it the run relies on the other proofs (and max_run_seconds).
        """
        if fence is None or not self._witness_usable or self.scope == "deployment":
            return None
        try:
            with self._client.watch(
                [{"$project": {"clusterTime": 1}}], resume_after=token, max_await_time_ms=self._max_await_ms
            ) as witness:
                first = witness.try_next()
                if first is None:
                    held = witness.resume_token
                    first = witness.try_next()
                    if first is None and witness.resume_token == held:
                        return fence  # nothing anywhere after the token
                moment = (first or {}).get("clusterTime")
                return moment if moment is not None and moment >= fence else None
        except pymongo.errors.PyMongoError as exc:
            self._witness_usable = False
            logger.warning(
                "Cannot check the log's progress on the whole deployment (%s): this run can only end "
                "when a change after its start time arrives or the log is idle; grant `changeStream` on "
                "the cluster (readAnyDatabase) or set max_run_seconds",
                exc,
            )
            return None


class OplogSource(_FollowedNamespaces):
    """Queries of `local.oplog.rs`, for deployments where change streams are unavailable.

    Each pass reads the entries after the position up to a fence that no uncommitted write
    lies below, as a finite query: a pass that ends has delivered everything up to its fence.
    """

    method = OPLOG

    def __init__(
        self,
        client: pymongo.MongoClient,
        namespaces: t.Sequence[Namespace],
        *,
        sleep: t.Callable[[float], None] = time.sleep,
        **settings: t.Any,
    ) -> None:
        super().__init__(client, namespaces, **settings)
        self._sleep = sleep
        self._captured: dict[str, t.Any] | None = None

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

    def _fence(self) -> Timestamp:
        """The newest entry no uncommitted write lies below.

        The majority-committed time has no holes below it on mongod; the newest entry a
        natural-order read shows has none on servers that hide entries past a hole. The
        earlier of the two is safe on both.
        """
        return min(self._edge_ts(pymongo.DESCENDING), sample_cluster_time(self._client))

    def capture(self) -> dict[str, t.Any]:
        """The position now (one per run, as for change streams)."""
        if self._captured is None:
            self._captured = oplog_position(self._fence())
        return dict(self._captured)

    def start_at(self, moment: Timestamp) -> dict[str, t.Any]:
        return oplog_position(moment)

    def _query(self, after: Timestamp, fence: Timestamp) -> dict[str, t.Any]:
        namespaces = [f"{db}.{coll}" for db, coll in self._namespaces]
        commands = [f"{db}.$cmd" for db in self._databases] + ["admin.$cmd"]
        return {"ts": {"$gt": after, "$lte": fence}, "ns": {"$in": namespaces + commands}}

    def read(self, plan: StartPlan, *, bounded: bool) -> t.Iterator[LogItem]:
        after = t.cast("Timestamp", plan.start_time)
        oldest = self._edge_ts(pymongo.ASCENDING)
        if after < oldest:
            gap = datetime.timedelta(seconds=oldest.time - after.time)
            msg = f"the bookmark {after} is older than the oldest oplog entry {oldest} (a gap of {gap})"
            raise LogPositionLostError(msg)
        return self._passes(after, bounded=bounded)

    def _passes(self, after: Timestamp, *, bounded: bool) -> t.Iterator[LogItem]:
        while True:
            fence = self._fence()
            if fence > after:
                logger.debug("Reading oplog entries after %s up to %s", after, fence)
                yield from self._pass(after, fence)
            after = max(after, fence)
            yield LogItem(oplog_position(after), None, None, fence, caught_up=True)
            if bounded:
                return
            self._sleep(self._max_await_ms / 1000)

    def _pass(self, after: Timestamp, fence: Timestamp) -> t.Iterator[LogItem]:
        with explained_privileges("read the oplog", "local.oplog.rs", "the `read` role on database 'local'"):
            cursor = self._oplog.find(self._query(after, fence)).sort("$natural", pymongo.ASCENDING)
        pending: list[LogItem] = []
        group: Timestamp | None = None  # the `ts` being read, until an entry with another one
        passed = after  # every entry at or before it is handled once `pending` is
        with cursor:
            for entry in cursor:
                ts = entry["ts"]
                if group is not None and group not in (ts, passed):
                    # Every entry of the previous `ts` (a whole transaction) is in: pass it.
                    pending.append(LogItem(oplog_position(group), None, group, group))
                    passed = group
                group = ts
                # An entry outside a transaction is the only one with its `ts`: its last change
                # may carry the position at once. A transaction's entries wait for the next `ts`.
                alone = "txnNumber" not in entry
                changes = [change for change in translate_entry(entry) if self._wanted(change)]
                for number, change in enumerate(changes):
                    last = alone and number == len(changes) - 1
                    pending.append(LogItem(oplog_position(ts if last else passed), change, ts, ts))
                if alone:
                    if not changes:
                        pending.append(LogItem(oplog_position(ts), None, ts, ts))
                    passed = ts
                if len(pending) >= _REFETCH_BATCH:
                    yield from resolve_refetches(pending, self._fetch)
                    pending = []
        if group is not None and passed != group:
            pending.append(LogItem(oplog_position(group), None, group, group))
        yield from resolve_refetches(pending, self._fetch)

    proves_progress_while_busy = True  # each pass is a finite query

    def _wanted(self, change: Change) -> bool:
        """Changes of followed collections (a transaction's entry holds those of any collection)."""
        if change.kind is ChangeKind.INVALIDATE:
            return any(change.concerns(database, collection) for database, collection in self._namespaces)
        followed = (change.database, change.collection) in set(self._namespaces)
        return followed and change.operation in self._operation_types


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
            else:
                yield dataclasses.replace(item, change=None)
