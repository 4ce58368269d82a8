"""Which databases and collections the tap offers, and what it knows about each.

Discovery only lists and inspects (names, types, indexes, estimated counts); schema sampling
is in schema_inference.py.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import typing as t

import pymongo
import pymongo.errors

from mongodb_common.cli_errors import ConnectorError
from tap_mongodb.stream_naming import child_stream_name, stream_name

SYSTEM_DATABASES = frozenset({"admin", "local", "config"})
UNAUTHORIZED = 13

logger = logging.getLogger(__name__)


class DiscoveryError(ConnectorError):
    """Discovery could not list what the settings ask for; names the database and cause."""


@dataclasses.dataclass(frozen=True)
class CollectionInfo:
    """One discoverable namespace: a collection, a view or a time-series collection."""

    database: str
    collection: str
    kind: str = "collection"
    row_count: int | None = None
    indexed_fields: tuple[str, ...] = ("_id",)
    safe_name: bool = False  # `safe_stream_names`: see stream_naming.py

    @property
    def stream_id(self) -> str:
        return stream_name(self.database, self.collection, safe=self.safe_name)

    @property
    def namespace_stream_id(self) -> str:
        """`<database>-<collection>` as given, whatever the naming setting."""
        return stream_name(self.database, self.collection, safe=False)

    def child_stream_id(self, suffix: str) -> str:
        return child_stream_name(self.database, self.collection, suffix, safe=self.safe_name)

    @property
    def is_view(self) -> bool:
        return self.kind == "view"

    @property
    def supports_change_streams(self) -> bool:
        return self.kind == "collection"


def matches(name: str, patterns: t.Sequence[str]) -> bool:
    """Shell-style pattern match (``*``, ``?``, ``[...]``), case-sensitive like MongoDB names."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def is_selected(names: t.Sequence[str], includes: t.Sequence[str], excludes: t.Sequence[str]) -> bool:
    """Kept when any of `names` matches an include (or there are none) and none matches an exclude.

    Several names let a collection pattern match either the bare name or ``db.collection``.
    """
    if includes and not any(matches(name, includes) for name in names):
        return False
    return not any(matches(name, excludes) for name in names)


def _database_names(client: pymongo.MongoClient, config: t.Mapping[str, t.Any]) -> list[str]:
    includes = list(config.get("database_includes") or [])
    try:
        names = client.list_database_names()
    except pymongo.errors.OperationFailure as exc:
        literal = [name for name in includes if not any(ch in name for ch in "*?[")]
        if exc.code == UNAUTHORIZED and literal:
            logger.warning("Not allowed to list databases; using database_includes as given: %s", literal)
            return literal
        msg = (
            f"cannot list databases ({exc}); grant the listDatabases privilege or name the "
            "databases in the database_includes setting"
        )
        raise DiscoveryError(msg) from None
    excludes = list(config.get("database_excludes") or [])
    return sorted(name for name in names if name not in SYSTEM_DATABASES and is_selected([name], includes, excludes))


def _indexed_fields(collection: pymongo.collection.Collection) -> tuple[str, ...]:
    """Leading field of every index: the fields an INCREMENTAL sort can use efficiently."""
    fields: list[str] = []
    for index in collection.list_indexes():
        leading = next(iter(index["key"]), None)
        if not leading or leading in fields or leading.startswith(("$", "_fts")):
            continue
        if not str(index["key"][leading]).startswith(("text", "2d", "hashed")):
            fields.append(leading)
    return tuple(fields) or ("_id",)


def _row_count(collection: pymongo.collection.Collection) -> int | None:
    try:
        return int(collection.estimated_document_count())
    except pymongo.errors.PyMongoError:
        return None


def describe_collection(
    database: pymongo.database.Database,
    spec: t.Mapping[str, t.Any],
    *,
    safe_name: bool = False,
    count_rows: bool = True,
) -> CollectionInfo:
    """Turn one `listCollections` result into a CollectionInfo (views have no indexes).

    `count_rows=False` leaves the row count (catalog metadata only) unknown: a server that
    counts by scanning (SecantusDB) spends a scan on it.
    """
    kind = spec.get("type", "collection")
    collection = database[spec["name"]]
    indexed: tuple[str, ...] = ()
    if kind == "collection":
        try:
            indexed = _indexed_fields(collection)
        except pymongo.errors.OperationFailure as exc:
            logger.warning(
                "Cannot list the indexes of %s.%s (%s); offering _id as replication key",
                database.name,
                spec["name"],
                exc,
            )
            indexed = ("_id",)
    return CollectionInfo(
        database=database.name,
        collection=spec["name"],
        kind=kind,
        row_count=_row_count(collection) if count_rows else None,
        indexed_fields=indexed,
        safe_name=safe_name,
    )


def discover_collections(
    client: pymongo.MongoClient, config: t.Mapping[str, t.Any], *, count_rows: bool = True
) -> list[CollectionInfo]:
    """Every readable collection and view the include/exclude settings keep, sorted by stream id."""
    includes = list(config.get("collection_includes") or [])
    excludes = list(config.get("collection_excludes") or [])
    found: list[CollectionInfo] = []
    for database_name in _database_names(client, config):
        database = client[database_name]
        try:
            specs = list(database.list_collections())
        except pymongo.errors.OperationFailure as exc:
            msg = f"cannot list collections of database {database_name!r}: {exc}"
            raise DiscoveryError(msg) from None
        for spec in specs:
            name = spec["name"]
            if name.startswith("system."):
                continue
            if is_selected([name, f"{database_name}.{name}"], includes, excludes):
                safe_name = bool(config.get("safe_stream_names"))
                found.append(describe_collection(database, spec, safe_name=safe_name, count_rows=count_rows))
    return sorted(found, key=lambda info: info.stream_id)
