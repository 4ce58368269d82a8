"""Property-based tests: any BSON document survives the codec; no input makes the target crash blindly."""

from __future__ import annotations

import datetime
import decimal
import io
import json

import bson
import pytest
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mongodb_common.bson_codec import decode_value, encode_extended_json
from mongodb_common.cli_errors import ConnectorError
from mongodb_common.standin import CODEC_OPTIONS
from tap_mongodb.singer_writer import serialize

UTC = datetime.timezone.utc

keys = st.text(min_size=0, max_size=12).filter(lambda k: "\x00" not in k and not k.startswith("$"))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(Int64),
    # Extended JSON has one NaN: a NaN's payload bits are not kept (docs/bson-types.md).
    st.floats(allow_nan=False, allow_infinity=True) | st.just(float("nan")),
    st.decimals(allow_nan=False, allow_infinity=False)
    .filter(lambda d: len(d.as_tuple().digits) <= 34 and -6000 < int(d.as_tuple().exponent) < 6000)
    .map(Decimal128),
    st.sampled_from([Decimal128("NaN"), Decimal128("-Infinity"), Decimal128("-0")]),
    st.text(max_size=20),
    st.binary(min_size=12, max_size=12).map(ObjectId),
    st.integers(min_value=-(2**62), max_value=2**62).map(DatetimeMS),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)),
    st.binary(max_size=20),
    st.builds(Binary, st.binary(max_size=20), st.sampled_from([1, 2, 3, 5, 6, 7, 8, 0x80])),
    st.builds(Timestamp, st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1)),
    st.builds(Regex, st.text(alphabet="abc.*+?^$", max_size=8), st.sampled_from(["", "i", "im", "imsux"])),
    st.builds(Code, st.text(max_size=10)),
    st.just(MinKey()),
    st.just(MaxKey()),
)
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)),
    max_leaves=25,
).map(lambda value: {"_id": 1, "v": value})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
def test_any_document_round_trips_through_extended_json_exactly(document: dict) -> None:
    stored = bson.decode(bson.encode(document), codec_options=CODEC_OPTIONS)  # as MongoDB returns it
    wire = serialize(encode_extended_json(stored)).decode()
    restored = decode_value(json.loads(wire, parse_float=decimal.Decimal))
    assert bson.encode(restored) == bson.encode(stored)


MESSAGES = [
    '{"type": "SCHEMA", "stream": "s", "schema": {"type": "object", "properties": '
    '{"_id": {"type": "integer"}, "v": {"type": ["string", "null"]}}}, "key_properties": ["_id"]}',
    '{"type": "RECORD", "stream": "s", "record": {"_id": 1, "v": "a"}}',
    '{"type": "STATE", "value": {"bookmarks": {"s": {}}}}',
    '{"type": "RECORD", "stream": "s", "record": {"_id": 2, "v": null}}',
    '{"type": "ACTIVATE_VERSION", "stream": "s", "version": 5}',
]


@pytest.fixture(scope="module")
def target_config(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return {"mongodb_uri": f"litemongo://{tmp_path_factory.mktemp('fuzz')}", "database": "fuzz"}


def _mutated_inputs() -> st.SearchStrategy[str]:
    lines = st.lists(st.sampled_from(MESSAGES), min_size=1, max_size=6)
    junk = st.one_of(
        st.text(max_size=40),
        st.from_regex(r'\{"type": "(RECORD|SCHEMA|STATE|X)"', fullmatch=True),
        st.builds(
            json.dumps,
            st.recursive(
                st.none() | st.integers() | st.text(max_size=5),
                lambda c: st.lists(c) | st.dictionaries(st.text(max_size=5), c),
                max_leaves=8,
            ),
        ),
    )

    @st.composite
    def build(draw: st.DrawFn) -> str:
        chosen = draw(lines)
        position = draw(st.integers(0, len(chosen)))
        chosen.insert(position, draw(junk))
        text = "\n".join(chosen) + "\n"
        cut = draw(st.integers(0, len(text)))
        return text[:cut] if draw(st.booleans()) else text

    return build()


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(text=_mutated_inputs())
def test_random_and_truncated_input_only_ever_fails_with_a_clear_error(target_config: dict, text: str) -> None:
    from target_mongodb.target import TargetMongoDB

    error: ConnectorError | None = None
    try:
        TargetMongoDB(config=target_config).listen(io.StringIO(text))
    except ConnectorError as exc:  # anything else fails the test: it would be a bare traceback
        error = exc
    if error is not None:
        assert "line" in str(error) or "stream" in str(error), str(error)
