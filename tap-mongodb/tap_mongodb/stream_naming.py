"""Stream names: `<database>-<collection>`, or names a SQL destination accepts as they are.

SDK-based SQL targets (target-postgres, target-snowflake, ...) split a stream name at `-`
into schema and table, and PostgreSQL cuts identifiers at 63 characters, so two long names
sharing a prefix become one table, and `Orders` is not the same table as `orders`. With
`safe_stream_names`, each part (database -> schema, collection -> table, array child ->
table) is:

- kept as it is when it already is lower case `[a-z0-9_]`, starts with a letter or `_`,
  holds no `__` (the array child separator), is at most 63 characters and does not end
  like a hashed name (`_` and 8 hex digits);
- otherwise cleaned (lower case, runs of other characters to one `_`) and cut, and always
  given `_` plus 8 hex digits of a hash of the original name.

A name is a function of the original name alone: it never depends on which other
collections exist, so it is the same in every run and every catalog. Two different
originals never get one name: kept names are distinct because their originals are, a
hashed name never equals a kept one (kept names never end like a hashed one), and hashed
names differ by their hash. Collection tables never hold `__` and child tables always do,
so a collection called `orders__items` and the `items` array of `orders` stay apart.
`check_unique` still refuses the (astronomically unlikely) hash collision, naming both.
"""

from __future__ import annotations

import hashlib
import re
import typing as t

from mongodb_common.cli_errors import ConnectorError

MAX_IDENTIFIER_LENGTH = 63  # PostgreSQL's limit, the shortest of the common SQL destinations
PART_SEPARATOR = "-"  # SDK SQL targets: `<schema>-<table>`
CHILD_SEPARATOR = "__"
DIGEST_LENGTH = 8

_KEPT = re.compile(r"[a-z_][a-z0-9_]*")
_HASHED_ENDING = re.compile(rf"_[0-9a-f]{{{DIGEST_LENGTH}}}\Z")
_UNSAFE_RUN = re.compile(r"[^a-z0-9]+")
# A child name keeps at least this much of its parent's table name when it is cut.
_MIN_HEAD = 8


class StreamNameClashError(ConnectorError):
    """Two namespaces would share one stream name; names both."""


def stream_name(database: str, collection: str, *, safe: bool) -> str:
    """The stream id of a collection: `<database>-<collection>`, each part safe when asked."""
    if not safe:
        return f"{database}{PART_SEPARATOR}{collection}"
    return f"{safe_part(database)}{PART_SEPARATOR}{safe_part(collection)}"


def child_stream_name(database: str, collection: str, suffix: str, *, safe: bool) -> str:
    """The stream id of an array child stream (`suffix`: the array's path joined by `__`)."""
    if not safe:
        return f"{stream_name(database, collection, safe=False)}{CHILD_SEPARATOR}{suffix}"
    return f"{safe_part(database)}{PART_SEPARATOR}{safe_child_part(collection, suffix)}"


def digest(original: str) -> str:
    return hashlib.sha1(original.encode("utf-8"), usedforsecurity=False).hexdigest()[:DIGEST_LENGTH]


def _is_kept(name: str) -> bool:
    return (
        len(name) <= MAX_IDENTIFIER_LENGTH
        and _KEPT.fullmatch(name) is not None
        and CHILD_SEPARATOR not in name
        and _HASHED_ENDING.search(name) is None
    )


def _cleaned(name: str) -> str:
    """Lower case `[a-z0-9]` words joined by single `_`, never starting with a digit."""
    cleaned = _UNSAFE_RUN.sub("_", name.lower()).strip("_")
    if cleaned[:1].isdigit():
        cleaned = f"n{cleaned}"
    return cleaned


def _hashed(cleaned: str, original: str, room: int) -> str:
    """`cleaned` cut to fit `room` with `_<hash>` after it (the hash alone when nothing is left)."""
    head = cleaned[: max(0, room - DIGEST_LENGTH - 1)].rstrip("_")
    return f"{head}_{digest(original)}"


def safe_part(name: str) -> str:
    """One part of a stream name (a database or a collection), as the module docstring says."""
    if _is_kept(name):
        return name
    return _hashed(_cleaned(name), name, MAX_IDENTIFIER_LENGTH)


def safe_child_part(collection: str, suffix: str) -> str:
    """`<collection table>__<array path>`, cut in the middle so the array path stays readable.

    Kept when the collection's part and every part of the path are kept as they are, no
    `_` touches a `__`, and it fits; otherwise `<head>_<hash>__<path>`, the hash taken of the
    original collection and path.
    """
    parent = safe_part(collection)
    path_parts = suffix.split(CHILD_SEPARATOR)
    # No `_` next to a separator: `a` + `_b` and `a_` + `b` would both read `a___b`.
    plain = not parent.endswith("_") and all(
        _is_kept(part) and not part.startswith("_") and not part.endswith("_") for part in path_parts
    )
    name = f"{parent}{CHILD_SEPARATOR}{suffix}"
    if plain and len(name) <= MAX_IDENTIFIER_LENGTH:
        return name
    path = CHILD_SEPARATOR.join(_cleaned(part) or "_" for part in path_parts)
    original = f"{collection}\x00{suffix}"
    room_for_head = MAX_IDENTIFIER_LENGTH - len(CHILD_SEPARATOR) - len(path)
    if room_for_head < _MIN_HEAD + DIGEST_LENGTH + 1:
        # A deep or long path: keep its end, the most specific part.
        path = path[-(MAX_IDENTIFIER_LENGTH - len(CHILD_SEPARATOR) - _MIN_HEAD - DIGEST_LENGTH - 1) :].lstrip("_")
        room_for_head = MAX_IDENTIFIER_LENGTH - len(CHILD_SEPARATOR) - len(path)
    return f"{_hashed(_cleaned(collection), original, room_for_head)}{CHILD_SEPARATOR}{path}"


def check_unique(names: t.Iterable[tuple[str, str]]) -> None:
    """Refuse two sources (described by the second item) under one stream name."""
    seen: dict[str, str] = {}
    for name, source in names:
        other = seen.setdefault(name, source)
        if other != source:
            msg = (
                f"{other} and {source} would both be stream {name!r} with safe_stream_names; "
                "exclude one of them (collection_excludes) or turn safe_stream_names off"
            )
            raise StreamNameClashError(msg)
