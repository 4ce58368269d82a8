"""Filters for resumable scans, aware of MongoDB's cross-type ordering.

``{"k": {"$gt": v}}`` only matches values of v's type bracket. A scan sorted on ``k`` that
resumes after ``v`` must also take every value of a bracket sorting after v's, or documents
whose key has another type would be silently skipped.
"""

from __future__ import annotations

import typing as t

from mongodb_common.bson_codec.type_order import (
    NULL,
    bracket_of,
    brackets_after,
    brackets_before,
    type_clauses,
)


def after_filter(field: str, value: t.Any, *, inclusive: bool, highest_bracket: int | None = None) -> dict[str, t.Any]:
    """Documents whose `field` sorts after `value` (or equal to it when `inclusive`).

    `highest_bracket`, when known (key_extremes.py), is the highest type bracket the field
    holds: later brackets need no clause, and when it is value's own the filter is one range.
    """
    bracket = bracket_of(value)
    later = brackets_after(bracket)
    if highest_bracket is not None:
        later = range(later.start, max(later.start, highest_bracket + 1))
    clauses = type_clauses(field, later)
    if bracket != NULL:  # null has no values "greater" within its bracket
        clauses.insert(0, {field: {"$gte" if inclusive else "$gt": value}})
    elif inclusive:
        clauses.insert(0, {field: None})
    return clauses[0] if len(clauses) == 1 else {"$or": clauses}


def before_bracket_filter(field: str, value: t.Any) -> dict[str, t.Any]:
    """Documents whose `field` is missing or of a type sorting before `value`'s type.

    These are the documents an incremental ``>= bookmark`` query can never see again.
    """
    clauses = [{field: {"$exists": False}}, *type_clauses(field, brackets_before(bracket_of(value)))]
    return {"$or": clauses}
