"""Column-oriented shape of a stream: flattening, destination-safe names, a column cap.

Applied when the schema is discovered, so the catalog, the SCHEMA messages and the RECORD
messages all show the same columns:

1. Flattening, with the Singer SDK's own settings and functions (`flattening_enabled`,
   `flattening_max_depth`, `flattening_separator`): nested objects become columns, deeper
   levels JSON text.
2. `safe_column_names`: every column name becomes lower case `[a-z0-9_]`, at most
   `max_column_name_length` characters (the rest replaced by a hash), never starting with a
   digit. Two source names that would become one column each get a hash of their original
   name appended, so no two fields ever share a column.
3. `max_columns`: beyond the cap, the remaining fields travel together as JSON text in one
   column, `_sdc_extra_columns`; the tap logs which.
"""

from __future__ import annotations

import hashlib
import logging
import re
import typing as t

from singer_sdk.helpers._flattening import flatten_record, flatten_schema
from singer_sdk.singerlib.json import serialize_json

logger = logging.getLogger(__name__)

EXTRA_COLUMNS = "_sdc_extra_columns"
_UNSAFE = re.compile(r"[^a-z0-9_]+")


def _digest(name: str) -> str:
    return hashlib.sha1(name.encode("utf-8"), usedforsecurity=False).hexdigest()[:8]


def safe_name(name: str, max_length: int) -> str:
    """Lower case, `[a-z0-9_]` only, no leading digit, at most `max_length` characters."""
    safe = _UNSAFE.sub("_", name.lower()).rstrip("_") or "_"
    safe = re.sub("_{2,}", "__", safe)  # keep the flattening separator readable
    if safe[0].isdigit():
        safe = f"_{safe}"
    if len(safe) > max_length:
        safe = f"{safe[: max_length - 9]}_{_digest(name)}"
    return safe


def safe_names(names: t.Sequence[str], max_length: int, reserved: t.Collection[str] = ()) -> dict[str, str]:
    """A collision-free mapping of original names to safe ones (keys in `reserved` are kept)."""
    mapping: dict[str, str] = {name: name for name in names if name in reserved}
    taken = set(mapping.values())
    candidates = {name: safe_name(name, max_length) for name in names if name not in reserved}
    clashes = {c for c in candidates.values() if list(candidates.values()).count(c) > 1 or c in taken}
    for name in names:
        if name in mapping:
            continue
        safe = candidates[name]
        if safe in clashes:
            safe = f"{safe[: max_length - 9]}_{_digest(name)}"
        mapping[name] = safe
    return mapping


def _json_text(value: t.Any) -> str:
    return serialize_json(value)  # the SDK's own JSON for deep values: exact decimals


def _unseen_name(name: str) -> str:
    return f"{safe_name(name, 54)}_{_digest(name)}"


class ColumnPlan:
    """The column shape of one stream, computed once from its schema and the settings."""

    def __init__(
        self,
        stream_name: str,
        schema: dict[str, t.Any],
        key_properties: t.Sequence[str],
        config: t.Mapping[str, t.Any],
    ) -> None:
        self._flatten = bool(config.get("flattening_enabled"))
        self._max_level = int(config.get("flattening_max_depth") or 0)
        self._separator = str(config.get("flattening_separator") or "__")
        shaped = flatten_schema(schema, self._max_level, self._separator) if self._flatten else schema
        properties: dict[str, t.Any] = dict(shaped.get("properties", {}))
        names = list(properties)
        self._renames: dict[str, str] | None = None
        if config.get("safe_column_names"):
            self._renames = safe_names(names, int(config.get("max_column_name_length") or 63), key_properties)
            properties = {self._renames[name]: prop for name, prop in properties.items()}
            names = list(properties)
        self._kept: set[str] | None = None
        cap = int(config.get("max_columns") or 0)
        if cap and len(names) > cap:
            kept = [n for n in names if n in key_properties] + [n for n in names if n not in key_properties]
            kept = kept[: max(cap - 1, len(key_properties))]
            folded = [name for name in names if name not in kept]
            logger.warning(
                "Stream %s has %d columns, over max_columns=%d: %d fields travel as JSON in %s: %s",
                stream_name,
                len(names),
                cap,
                len(folded),
                EXTRA_COLUMNS,
                ", ".join(folded),
            )
            self._kept = set(kept)
            properties = {name: properties[name] for name in kept}
            properties[EXTRA_COLUMNS] = {"type": ["string", "null"]}
        self.schema = {**{k: v for k, v in shaped.items() if k != "properties"}, "properties": properties}
        self.schema.pop("required", None)
        if key_properties:
            self.schema["required"] = [self._renames.get(k, k) if self._renames else k for k in key_properties]
        self._flat_schema = shaped
        self.active = self._flatten or self._renames is not None or self._kept is not None

    def shape(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        if not self.active:
            return record
        if self._flatten:
            record = flatten_record(record, self._flat_schema, self._max_level, self._separator)
        if self._renames is not None:
            renames = self._renames
            # A field the schema sample never saw gets a hashed name, so it cannot land in a
            # known field's column.
            record = {renames.get(name) or _unseen_name(name): value for name, value in record.items()}
        if self._kept is not None:
            kept = self._kept
            extra = {name: value for name, value in record.items() if name not in kept}
            record = {name: value for name, value in record.items() if name in kept}
            record[EXTRA_COLUMNS] = _json_text(extra) if extra else None
        return record
