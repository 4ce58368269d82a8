"""How much of a sync's first documents the schema sample may hold."""

from __future__ import annotations

from bson import Binary, Decimal128

from tap_mongodb.schema_sampling import HELD_BYTES, _json_size


def test_a_decimal_counts_about_as_much_as_its_longest_text() -> None:
    """Decimal128 values are measured without building their text, but not as nothing."""
    longest = Decimal128("-1.234567890123456789012345678901234E-6143")
    measured = _json_size({"prices": [longest] * 1000})
    assert 32 * 1000 <= measured <= 2 * len(str(longest)) * 1000


def test_binary_data_counts_by_its_length() -> None:
    assert _json_size({"blob": Binary(b"x" * 1_000_000)}) >= 1_000_000


def test_a_document_orjson_cannot_measure_counts_as_the_whole_allowance() -> None:
    deep: dict = {}
    node = deep
    for _ in range(300):  # orjson refuses more than 254 levels
        node["d"] = {}
        node = node["d"]
    assert _json_size(deep) == HELD_BYTES
