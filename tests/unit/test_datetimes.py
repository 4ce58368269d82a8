"""BSON milliseconds <-> ISO text, across the whole range MongoDB can store."""

from __future__ import annotations

import datetime

import pytest

from mongodb_common.bson_codec.datetimes import datetime_to_ms, iso_to_ms, ms_to_iso

UTC = datetime.timezone.utc


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
        (951_782_400_000, "2000-02-29T00:00:00.000Z"),
        (-62_135_596_800_000, "0001-01-01T00:00:00.000Z"),
        (-62_167_219_200_000, "0000-01-01T00:00:00.000Z"),
        (-62_198_755_200_000, "-000001-01-01T00:00:00.000Z"),
        (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
        (253_402_300_800_000, "+010000-01-01T00:00:00.000Z"),
        (2**63 - 1, "+292278994-08-17T07:12:55.807Z"),
        (-(2**63), "-292275055-05-16T16:47:04.192Z"),
    ],
)
def test_ms_and_iso_text_round_trip(milliseconds: int, text: str) -> None:
    assert ms_to_iso(milliseconds) == text
    assert iso_to_ms(text) == milliseconds


def test_matches_python_datetime_wherever_python_can_represent_the_date() -> None:
    for dt in (datetime.datetime(1, 1, 1, tzinfo=UTC), datetime.datetime(1600, 3, 1, 1, 2, 3, 4000, tzinfo=UTC)):
        expected = dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        assert ms_to_iso(datetime_to_ms(dt)) == expected


def test_offsets_and_sub_millisecond_fractions_are_normalized() -> None:
    assert iso_to_ms("2024-01-01T02:00:00+02:00") == iso_to_ms("2024-01-01T00:00:00Z")
    assert iso_to_ms("2024-01-01T00:00:00.123999Z") == iso_to_ms("2024-01-01T00:00:00.123Z")
    assert iso_to_ms("2024-01-01") == iso_to_ms("2024-01-01T00:00:00Z")


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01T00:00:00Z", "2024-01-01T00:00:00Zjunk"])
def test_invalid_text_names_the_value(text: str) -> None:
    with pytest.raises(ValueError, match="date-time"):
        iso_to_ms(text)
