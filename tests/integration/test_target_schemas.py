"""target-mongodb under any valid JSON Schema: unions, open schemas, exact numbers, schema changes."""

from __future__ import annotations

import datetime
import typing as t

import pytest
from bson import Decimal128, Int64

from target_mongodb.errors import RecordRejectedError
from tests.support.singer_io import record_message, run_target, schema_message, state_message

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

UTC = datetime.timezone.utc
WHEN = "2024-05-01T10:00:00.000Z"
WHEN_DATE = datetime.datetime(2024, 5, 1, 10, tzinfo=UTC)
STREAM = "shop-orders"


def _config(deployment: Deployment, **settings: t.Any) -> dict[str, t.Any]:
    return deployment.config(database=deployment.db_name("dest"), **settings)


def _docs(deployment: Deployment, collection: str = STREAM) -> list[dict[str, t.Any]]:
    return list(deployment.database("dest")[collection].find({}, sort=[("_id", 1)]))


def _record_line(record_json: str) -> str:
    """A RECORD line written by hand, so numbers keep the exact text a tap would write."""
    return f'{{"type":"RECORD","stream":"{STREAM}","record":{record_json}}}'


def test_multiple_of_a_fraction_validates_exactly_and_stores_the_number(deployment: Deployment) -> None:
    """0.01 as a float divides 19.99 into 1998.9999999999998; as a decimal, into 1999."""
    schema = schema_message(
        STREAM, {"_id": {"type": "integer"}, "price": {"type": "number", "multipleOf": 0.01}}, ["_id"]
    )
    lines = [
        _record_line('{"_id":1,"price":19.99}'),
        _record_line('{"_id":2,"price":0.07}'),
        _record_line('{"_id":3,"price":12}'),
    ]
    run_target(_config(deployment), [schema, *lines])
    assert [(d["_id"], d["price"]) for d in _docs(deployment)] == [(1, 19.99), (2, 0.07), (3, 12)]
    assert [type(d["price"]) for d in _docs(deployment)] == [float, float, int]

    with pytest.raises(
        RecordRejectedError, match=r"input line 3, key \{'_id': 5\}: record does not match.*multiple of"
    ):
        run_target(
            _config(deployment),
            [schema, _record_line('{"_id":4,"price":1.5}'), _record_line('{"_id":5,"price":19.991}')],
        )
    assert [d["_id"] for d in _docs(deployment)] == [1, 2, 3]  # nothing of the failed run was written past the fault

    run_target(
        _config(deployment, on_invalid_record="dead_letter"),
        [schema, _record_line('{"_id":4,"price":1.5}'), _record_line('{"_id":5,"price":19.991}')],
    )
    assert [d["_id"] for d in _docs(deployment)] == [1, 2, 3, 4]
    (rejected,) = _docs(deployment, "_sdc_rejected_records")
    assert (rejected["line_number"], "multiple of" in rejected["error"]) == (3, True)


def test_fractional_bounds_compare_exactly(deployment: Deployment) -> None:
    """`minimum: 0.1` must admit 0.1 (a float literal 0.1 is a little more than the decimal 0.1)."""
    schema = schema_message(
        STREAM, {"_id": {"type": "integer"}, "rate": {"type": "number", "minimum": 0.1, "maximum": 0.3}}, ["_id"]
    )
    run_target(
        _config(deployment), [schema, _record_line('{"_id":1,"rate":0.1}'), _record_line('{"_id":2,"rate":0.3}')]
    )
    assert [d["rate"] for d in _docs(deployment)] == [0.1, 0.3]


def test_open_schemas_take_any_value_and_decode_extended_json(deployment: Deployment) -> None:
    schema = schema_message(
        STREAM,
        {"_id": {"type": "integer"}, "anything": True, "empty": {}, "list": {"type": "array", "items": True}},
        ["_id"],
    )
    run_target(
        _config(deployment),
        [
            schema,
            record_message(
                STREAM,
                {"_id": 1, "anything": {"$numberLong": "7"}, "empty": [1, "a", None], "list": [{"$date": WHEN}, 2]},
            ),
            record_message(
                STREAM, {"_id": 2, "anything": "text", "empty": {"k": {"$oid": "6630c2f0a1b2c3d4e5f60718"}}, "list": []}
            ),
        ],
    )
    first, second = _docs(deployment)
    assert first == {"_id": 1, "anything": Int64(7), "empty": [1, "a", None], "list": [WHEN_DATE, 2]}
    assert type(first["anything"]) is Int64
    assert str(second["empty"]["k"]) == "6630c2f0a1b2c3d4e5f60718"


def test_formats_on_unions_restore_only_what_fits_one_branch(deployment: Deployment) -> None:
    schema = schema_message(
        STREAM,
        {
            "_id": {"type": "integer"},
            "when": {"type": ["string", "null", "integer"], "format": "date-time"},
            "any_of": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer"}, {"type": "null"}]},
            "either": {"anyOf": [{"type": "string"}, {"type": "string", "format": "date-time"}]},
            "count": {"type": ["integer", "string", "null"], "format": "x-bson-long"},
            "ref": {"type": ["object", "string"]},
        },
        ["_id"],
    )
    run_target(
        _config(deployment),
        [
            schema,
            record_message(
                STREAM, {"_id": 1, "when": WHEN, "any_of": WHEN, "either": WHEN, "count": 5, "ref": {"$date": WHEN}}
            ),
            record_message(STREAM, {"_id": 2, "when": 5, "any_of": 6, "either": "x", "count": "five", "ref": "text"}),
            record_message(STREAM, {"_id": 3, "when": None, "any_of": None}),
        ],
    )
    first, second, third = _docs(deployment)
    assert first == {"_id": 1, "when": WHEN_DATE, "any_of": WHEN_DATE, "either": WHEN, "count": 5, "ref": WHEN_DATE}
    assert type(first["count"]) is Int64
    assert second == {"_id": 2, "when": 5, "any_of": 6, "either": "x", "count": "five", "ref": "text"}
    assert third == {"_id": 3, "when": None, "any_of": None}


def test_a_string_that_is_no_date_under_a_date_time_union_is_rejected_naming_the_field(deployment: Deployment) -> None:
    schema = schema_message(
        STREAM, {"_id": {"type": "integer"}, "when": {"type": ["string", "integer"], "format": "date-time"}}, ["_id"]
    )
    with pytest.raises(RecordRejectedError, match=r"input line 3, key \{'_id': 2\}: field 'when': "):
        run_target(
            _config(deployment),
            [
                schema,
                record_message(STREAM, {"_id": 1, "when": WHEN}),
                record_message(STREAM, {"_id": 2, "when": "soon"}),
            ],
        )


def test_a_schema_widened_mid_stream_writes_every_record_in_order(deployment: Deployment) -> None:
    """Records before the new SCHEMA use the old one; after it, the new; later versions win."""
    narrow = schema_message(STREAM, {"_id": {"type": "integer"}, "qty": {"type": "integer"}}, ["_id"])
    wide = schema_message(
        STREAM,
        {
            "_id": {"type": "integer"},
            "qty": {"type": ["integer", "string"]},
            "at": {"type": "string", "format": "date-time"},
        },
        ["_id"],
    )
    states = run_target(
        # Batches of 2: the new sink fills up while the retired one still holds a record.
        _config(deployment, batch_size_rows=2),
        [
            narrow,
            record_message(STREAM, {"_id": 1, "qty": 1}),
            record_message(STREAM, {"_id": 2, "qty": 2}),
            record_message(STREAM, {"_id": 3, "qty": 3}),
            wide,
            record_message(STREAM, {"_id": 3, "qty": "three", "at": WHEN}),
            record_message(STREAM, {"_id": 4, "qty": "four"}),
            state_message({"position": 6}),
            record_message(STREAM, {"_id": 5, "qty": 5, "at": WHEN}),
            state_message({"position": 7}),
        ],
    )
    assert _docs(deployment) == [
        {"_id": 1, "qty": 1},
        {"_id": 2, "qty": 2},
        {"_id": 3, "qty": "three", "at": WHEN_DATE},
        {"_id": 4, "qty": "four"},
        {"_id": 5, "qty": 5, "at": WHEN_DATE},
    ]
    assert states == [{"position": 7}]  # confirmed once everything before it is written


def test_a_record_that_breaks_the_old_schema_is_still_rejected_after_a_schema_change(deployment: Deployment) -> None:
    narrow = schema_message(STREAM, {"_id": {"type": "integer"}, "qty": {"type": "integer"}}, ["_id"])
    wide = schema_message(STREAM, {"_id": {"type": "integer"}, "qty": {"type": ["integer", "string"]}}, ["_id"])
    states: list[dict[str, t.Any]] = []
    with pytest.raises(RecordRejectedError, match=r"input line 6, key \{'_id': 4\}"):
        run_target(
            _config(deployment, max_state_age_seconds=0),
            [
                narrow,
                record_message(STREAM, {"_id": 1, "qty": 1}),
                wide,
                record_message(STREAM, {"_id": 2, "qty": "two"}),
                state_message({"position": 4}),
                record_message(STREAM, {"_id": 4, "qty": [4]}),
            ],
            states_out=states,
        )
    assert states == [{"position": 4}]
    assert [d["_id"] for d in _docs(deployment)] == [1, 2]


def test_schemas_fastjsonschema_cannot_compile_are_validated_by_the_sdk(deployment: Deployment) -> None:
    """50 levels of nesting exceed what generated Python code may nest; the SDK's validator takes over."""
    leaf: dict[str, t.Any] = {"type": "string", "format": "date-time"}
    good: t.Any = WHEN
    bad: t.Any = 5
    for _ in range(60):
        leaf = {"type": "object", "properties": {"n": leaf}}
        good, bad = {"n": good}, {"n": bad}
    schema = schema_message(STREAM, {"_id": {"type": "integer"}, "deep": leaf}, ["_id"])
    run_target(_config(deployment), [schema, record_message(STREAM, {"_id": 1, "deep": good})])
    with pytest.raises(RecordRejectedError, match=r"input line 3, key \{'_id': 2\}: record does not match"):
        run_target(
            _config(deployment),
            [schema, record_message(STREAM, {"_id": 3, "deep": good}), record_message(STREAM, {"_id": 2, "deep": bad})],
        )
    (doc,) = _docs(deployment)
    value = doc["deep"]
    for _ in range(60):
        value = value["n"]
    assert value == WHEN_DATE


def test_defaults_are_not_filled_in_and_unreadable_patterns_do_not_stop_the_load(deployment: Deployment) -> None:
    schema = schema_message(
        STREAM,
        {
            "_id": {"type": "integer"},
            "status": {"type": "string", "default": "new"},
            "name": {"type": "string", "pattern": "^\\p{L}+$"},  # ECMA syntax Python's re cannot read
            "code": {"type": "string", "pattern": "^[A-Z]{2}$"},
        },
        ["_id"],
    )
    run_target(_config(deployment), [schema, record_message(STREAM, {"_id": 1, "name": "Zoë", "code": "AB"})])
    assert _docs(deployment) == [{"_id": 1, "name": "Zoë", "code": "AB"}]
    with pytest.raises(RecordRejectedError, match=r"does not match"):
        run_target(_config(deployment), [schema, record_message(STREAM, {"_id": 2, "code": "abc"})])


def test_numbers_beyond_a_double_keep_every_digit_under_a_union(deployment: Deployment) -> None:
    schema = schema_message(
        STREAM, {"_id": {"type": "integer"}, "x": {"anyOf": [{"type": "number"}, {"type": "string"}]}}, ["_id"]
    )
    run_target(_config(deployment), [schema, _record_line('{"_id":1,"x":0.1000000000000000000001}')])
    assert _docs(deployment)[0]["x"] == Decimal128("0.1000000000000000000001")
