"""Column-oriented shape of a stream: flattening, destination-safe names, a column cap.

Applied when the schema is discovered, so the catalog, the SCHEMA messages and the RECORD
messages all show the same columns:

1. Flattening, with the Singer SDK's own settings (`flattening_enabled`,
   `flattening_max_depth`, `flattening_separator`; see flattening.py): nested objects become
   columns, deeper levels JSON text.
2. `safe_column_names`: every column name becomes lower case `[a-z0-9_]`, at most
   `max_column_name_length` characters (the rest replaced by a hash), never starting with a
   digit. Two source names that would become one column each get a hash of their original
   name appended, so no two fields ever share a column.
3. `max_columns`: beyond the cap, the remaining fields travel together as JSON text in one
   column, `_sdc_extra_columns`; the tap logs which.

When the schema widens during a run (schema_drift.py), the plan is rebuilt from the wider
schema and the previous plan, so columns are only ever added: a column keeps its name and
place, new names never take an existing one, and fields beyond the cap keep going to
`_sdc_extra_columns`.
"""

from __future__ import annotations

import hashlib
import logging
import re
import typing as t

from singer_sdk.singerlib.json import serialize_json

from tap_mongodb.flattening import FlatteningPlan

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


def safe_names(
    names: t.Sequence[str],
    max_length: int,
    reserved: t.Collection[str] = (),
    previous: t.Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A collision-free mapping of original names to safe ones (keys in `reserved` are kept).

    Names already in `previous` keep their safe name; a new name never takes one in use.
    """
    mapping: dict[str, str] = {name: name for name in names if name in reserved}
    if previous:
        mapping.update({name: safe for name, safe in previous.items() if name in names and name not in mapping})
    taken = set(mapping.values())
    fresh = [name for name in names if name not in mapping]
    candidates = {name: safe_name(name, max_length) for name in fresh}
    chosen = list(candidates.values())
    clashes = {c for c in chosen if chosen.count(c) > 1 or c in taken}
    for name in fresh:
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
    """The column shape of one stream, computed from its schema and the settings."""

    def __init__(
        self,
        stream_name: str,
        schema: dict[str, t.Any],
        key_properties: t.Sequence[str],
        config: t.Mapping[str, t.Any],
        previous: ColumnPlan | None = None,
    ) -> None:
        self._flattening: FlatteningPlan | None = None
        properties: dict[str, t.Any] = dict(schema.get("properties", {}))
        if config.get("flattening_enabled"):
            self._flattening = FlatteningPlan(
                stream_name,
                schema,
                int(config.get("flattening_max_depth") or 0),
                str(config.get("flattening_separator") or "__"),
                key_properties,
            )
            properties = dict(self._flattening.columns)
        names = list(properties)
        self._renames: dict[str, str] | None = None
        if config.get("safe_column_names"):
            self._renames = safe_names(
                names,
                int(config.get("max_column_name_length") or 63),
                key_properties,
                previous._renames if previous is not None else None,
            )
            properties = {self._renames[name]: prop for name, prop in properties.items()}
            names = list(properties)
        self._kept: set[str] | None = self._columns_kept(stream_name, names, key_properties, config, previous)
        if self._kept is not None:
            properties = {name: properties[name] for name in names if name in self._kept}
            properties[EXTRA_COLUMNS] = {"type": ["string", "null"]}
        self.schema = {**{k: v for k, v in schema.items() if k not in {"properties", "required"}}}
        self.schema["properties"] = properties
        if key_properties:
            self.schema["required"] = [self._renames.get(k, k) if self._renames else k for k in key_properties]
        self.active = self._flattening is not None or self._renames is not None or self._kept is not None

    @staticmethod
    def _columns_kept(
        stream_name: str,
        names: list[str],
        key_properties: t.Sequence[str],
        config: t.Mapping[str, t.Any],
        previous: ColumnPlan | None,
    ) -> set[str] | None:
        cap = int(config.get("max_columns") or 0)
        if previous is not None and previous._kept is not None:
            return previous._kept  # new fields join the extra columns; the columns stay as they are
        if not cap or len(names) <= cap:
            return None
        existing = list(previous.schema["properties"]) if previous is not None else []
        ordered = [n for n in existing if n in names] + [n for n in names if n not in existing]
        kept = [n for n in ordered if n in key_properties] + [n for n in ordered if n not in key_properties]
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
        return set(kept)

    def shape(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        if not self.active:
            return record
        if self._flattening is not None:
            record = self._flattening.flatten(record)
        if self._renames is not None:
            renames = self._renames
            # A field the schema never declared gets a hashed name, so it cannot land in a
            # known field's column.
            record = {renames.get(name) or _unseen_name(name): value for name, value in record.items()}
        if self._kept is not None:
            kept = self._kept
            extra = {name: value for name, value in record.items() if name not in kept}
            record = {name: value for name, value in record.items() if name in kept}
            record[EXTRA_COLUMNS] = _json_text(extra) if extra else None
        return record
