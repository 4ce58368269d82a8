"""Stream catalog metadata, including the MongoDB-specific keys other Singer taps emit.

The SDK's StreamMetadata knows only the standard keys; ``database-name``, ``is-view`` and
``row-count`` (the Stitch convention) are added by a subclass so they appear in
``--discover`` output.
"""

from __future__ import annotations

import dataclasses
import typing as t

from singer_sdk import singerlib as singer

if t.TYPE_CHECKING:
    from tap_mongodb.discovery import CollectionInfo


@dataclasses.dataclass(slots=True)
class MongoStreamMetadata(singer.StreamMetadata):
    database_name: str | None = None
    # The collection's own name: with `safe_stream_names` the stream id no longer shows it.
    collection_name: str | None = None
    is_view: bool | None = None
    row_count: int | None = None
    collection_type: str | None = None
    # With column shaping on: the schema the sample inferred, before shaping, so runs with
    # this catalog shape records exactly as discovery shaped the schema.
    mongodb_schema: dict[str, t.Any] | None = None
    # On array child streams: the stream whose documents hold the array.
    parent_tap_stream_id: str | None = None


def build_metadata(
    info: CollectionInfo,
    schema: dict[str, t.Any],
    *,
    replication_method: str | None,
    replication_key: str | None,
    inferred_schema: dict[str, t.Any] | None = None,
    parent_tap_stream_id: str | None = None,
    key_properties: t.Sequence[str] = ("_id",),
) -> singer.MetadataMapping:
    """Standard metadata plus the MongoDB keys; never a replication key nobody chose.

    The SDK presets ``replication-key`` when exactly one key is valid, which would silently
    turn every collection with only an ``_id`` index into an INCREMENTAL stream.
    """
    mapping = singer.MetadataMapping.get_standard_metadata(
        schema=schema,
        replication_method=replication_method,
        key_properties=list(key_properties),
        valid_replication_keys=(list(info.indexed_fields) or None) if parent_tap_stream_id is None else None,
    )
    standard = mapping.root
    mapping[()] = MongoStreamMetadata(
        inclusion=standard.inclusion,
        selected=standard.selected,
        selected_by_default=standard.selected_by_default,
        table_key_properties=standard.table_key_properties,
        replication_key=replication_key,
        forced_replication_method=replication_method,
        valid_replication_keys=standard.valid_replication_keys,
        schema_name=standard.schema_name,
        database_name=info.database,
        collection_name=info.collection,
        is_view=info.is_view,
        row_count=info.row_count,
        collection_type=info.kind,
        mongodb_schema=inferred_schema,
        parent_tap_stream_id=parent_tap_stream_id,
    )
    return mapping
