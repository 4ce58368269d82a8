"""Field names tap-mongodb writes and target-mongodb reads: one definition for both sides."""

from __future__ import annotations

DELETED_AT = "_sdc_deleted_at"  # set on records of documents deleted at the source
SOURCE_KEY = "_sdc_source_key__id"  # array child rows: the parent document's `_id`
DENEST_VERSION = "_sdc_denest_version"  # parent and its array rows: which emission they belong to


def level_key(level: int) -> str:
    """Array child rows: the element's position in the array at this nesting level."""
    return f"_sdc_level_{level}_id"
