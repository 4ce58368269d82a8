"""Array child streams from tap-mongodb's `denest_arrays`: keeping them equal to their parents.

A child row carries its parent's `_id` (`_sdc_source_key__id`) and the parent emission's
`_sdc_denest_version`. When a parent document is written again, its rows from older
emissions are elements that no longer exist; when it is deleted, all its rows go.
"""

from __future__ import annotations

import typing as t

import pymongo

from mongodb_common.singer_fields import DENEST_VERSION, SOURCE_KEY
from target_mongodb.write_operations import written_document


def stale_row_filters(parent_writes: t.Iterable[tuple[t.Any, dict[str, t.Any]]]) -> list[dict[str, t.Any]]:
    """Filters matching the child rows each written (or deleted) parent no longer has."""
    filters: list[dict[str, t.Any]] = []
    for operation, filter_ in parent_writes:
        parent_id = filter_.get("_id")
        if isinstance(operation, pymongo.DeleteOne):
            filters.append({SOURCE_KEY: parent_id})
            continue
        document = written_document(operation)
        version = document.get(DENEST_VERSION) if document is not None else None
        if version is not None:
            filters.append({SOURCE_KEY: parent_id, DENEST_VERSION: {"$lt": version}})
    return filters


def is_child_of(child_name: str, child_schema: t.Mapping[str, t.Any], parent_name: str) -> bool:
    return child_name.startswith(f"{parent_name}__") and SOURCE_KEY in child_schema.get("properties", {})
