"""Property-based test: any BSON document survives the codec, type for type."""

from __future__ import annotations

import datetime
import decimal
import json

import bson
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.datetime_ms import DatetimeMS
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mongodb_common.bson_codec import decode_value, encode_extended_json
from tap_mongodb.singer_writer import serialize
from tests.support.deployment import CODEC_OPTIONS

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
