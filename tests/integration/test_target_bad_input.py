"""Bad input: a clear error naming stream, line and key; never a silent drop; no STATE past it."""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk.exceptions import MissingKeyPropertiesError, RecordsWithoutSchemaException

from target_mongodb.errors import InputLineError, RecordRejectedError
from tests.support.singer_io import record_message, run_target, schema_message, state_message

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

SCHEMA = schema_message("shop-orders", {"_id": {"type": "integer"}, "qty": {"type": ["integer", "null"]}}, ["_id"])


def _config(deployment: Deployment, **settings: t.Any) -> dict[str, t.Any]:
    return deployment.config(database=deployment.db_name("dest"), **settings)


def _count(deployment: Deployment, collection: str = "shop-orders") -> int:
    return deployment.database("dest")[collection].count_documents({})


def test_malformed_json_names_the_line(deployment: Deployment) -> None:
    with pytest.raises(InputLineError, match=r"input line 3: not valid JSON"):
        run_target(_config(deployment), [SCHEMA, record_message("shop-orders", {"_id": 1}), '{"type": "RECORD", "str'])


def test_an_integer_too_long_to_read_names_the_line(deployment: Deployment) -> None:
    line = '{"type": "RECORD", "stream": "shop-orders", "record": {"_id": ' + "9" * 5000 + "}}"
    with pytest.raises(InputLineError, match=r"input line 2: not valid JSON \(Exceeds the limit"):
        run_target(_config(deployment), [SCHEMA, line])


def test_python_style_non_finite_numbers_are_read_as_the_sdk_reads_them(deployment: Deployment) -> None:
    """Python taps write NaN and Infinity literals (json.dumps does); they become doubles."""
    schema = schema_message("shop-orders", {"_id": {"type": "integer"}, "x": {"type": "number"}}, ["_id"])
    lines = [
        f'{{"type": "RECORD", "stream": "shop-orders", "record": {{"_id": {i}, "x": {v}}}}}'
        for i, v in enumerate(["NaN", "Infinity", "-Infinity", "1.50"])
    ]
    run_target(_config(deployment), [schema, *lines])
    values = [d["x"] for d in deployment.database("dest")["shop-orders"].find({}, sort=[("_id", 1)])]
    assert str(values[0]) == "nan"
    assert values[1:] == [float("inf"), float("-inf"), 1.5]


def test_record_before_schema_names_line_and_stream(deployment: Deployment) -> None:
    with pytest.raises(RecordsWithoutSchemaException, match=r"input line 1, stream 'shop-orders'"):
        run_target(_config(deployment), [record_message("shop-orders", {"_id": 1})])


def test_unknown_message_type_names_the_line(deployment: Deployment) -> None:
    with pytest.raises(InputLineError, match=r"input line 2: unknown Singer message type 'RECROD'"):
        run_target(_config(deployment), [SCHEMA, {"type": "RECROD"}])


def test_record_breaking_its_schema_names_stream_line_and_key(deployment: Deployment) -> None:
    with pytest.raises(
        RecordRejectedError, match=r"stream 'shop-orders', input line 3, key \{'_id': 7\}: record does not match"
    ):
        run_target(
            _config(deployment),
            [
                SCHEMA,
                record_message("shop-orders", {"_id": 1}),
                record_message("shop-orders", {"_id": 7, "qty": "many"}),
            ],
        )


def test_missing_key_property(deployment: Deployment) -> None:
    with pytest.raises(MissingKeyPropertiesError, match=r"input line 2.*lacks key properties \['_id'\]"):
        run_target(_config(deployment), [SCHEMA, record_message("shop-orders", {"qty": 1})])


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"_id": [1], "$set": 1}, "_id is an array"),
        ({"_id": 1, "nested": {"bad\u0000name": 1}}, "NUL character"),
        ({"_id": 1, "blob": "x" * (16 * 1024 * 1024 + 1)}, "over MongoDB's limit"),
    ],
    ids=["array-id", "nul-in-name", "over-16MB"],
)
def test_documents_mongodb_refuses_are_rejected_before_writing(
    deployment: Deployment, record: dict, reason: str
) -> None:
    schema = schema_message("shop-orders", {"_id": {}}, ["_id"])
    with pytest.raises(RecordRejectedError, match=reason):
        run_target(_config(deployment), [schema, record_message("shop-orders", record)])


def test_no_state_is_emitted_past_a_failure(deployment: Deployment) -> None:
    states: list[dict[str, t.Any]] = []
    with pytest.raises(RecordRejectedError):
        run_target(
            _config(deployment, max_state_age_seconds=0),
            [
                SCHEMA,
                record_message("shop-orders", {"_id": 1}),
                state_message({"position": 1}),
                record_message("shop-orders", {"_id": 2, "qty": "bad"}),
                state_message({"position": 2}),
            ],
            states_out=states,
        )
    assert states == [{"position": 1}]
    assert _count(deployment) == 1


def test_dead_letter_keeps_bad_records_with_their_error_and_loads_the_rest(deployment: Deployment) -> None:
    states = run_target(
        _config(deployment, on_invalid_record="dead_letter"),
        [
            SCHEMA,
            record_message("shop-orders", {"_id": 1, "qty": 1}),
            record_message("shop-orders", {"_id": 2, "qty": "bad"}),
            record_message("shop-orders", {"qty": 3}),
            record_message("shop-orders", {"_id": 4, "bad\u0000name": 1}),
            record_message("shop-orders", {"_id": 5, "qty": 5}),
            state_message({"done": True}),
        ],
    )
    assert states == [{"done": True}]
    assert sorted(d["_id"] for d in deployment.database("dest")["shop-orders"].find()) == [1, 5]
    rejected = list(deployment.database("dest")["_sdc_rejected_records"].find({}, sort=[("line_number", 1)]))
    assert [(r["stream"], r["line_number"]) for r in rejected] == [
        ("shop-orders", 3),
        ("shop-orders", 4),
        ("shop-orders", 5),
    ]
    assert "does not match" in rejected[0]["error"]
    assert '"qty":"bad"' in rejected[0]["record_json"].replace(" ", "")
    assert "lacks key properties" in rejected[1]["error"]


def test_an_invalid_extended_json_value_is_rejected_naming_it(deployment: Deployment) -> None:
    schema = schema_message("shop-orders", {"_id": {"type": "integer"}, "ref": {"type": "object"}}, ["_id"])
    with pytest.raises(
        RecordRejectedError, match=r"input line 2, key \{'_id': 1\}: field 'ref': invalid Extended JSON \$oid"
    ):
        run_target(_config(deployment), [schema, record_message("shop-orders", {"_id": 1, "ref": {"$oid": "zz"}})])
