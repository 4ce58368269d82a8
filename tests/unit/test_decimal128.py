"""The fast Decimal128 builder must give pymongo's exact bits, or pymongo's exact error."""

from __future__ import annotations

import decimal
import random

import pytest
from bson import Decimal128

from mongodb_common.bson_codec.decimal128 import decimal128_from, decimal128_text, decimal_from, plain_number_text
from mongodb_common.bson_codec.singer_encoding import _plain_decimal128

EDGES = [
    "0", "-0", "0.00", "-0.000", "1.50", "-123.456", "1E+6111", "1E-6176", "0E-6200", "0E+7000", "-0E+3",
    "9" * 34, "9" * 35, "9" * 34 + "E-6176", "9" * 34 + "E+6111", "1E+6144", "1E+6145", "1E-6177",
    "12345678901234567890123456789012345", "NaN", "-NaN", "sNaN", "Infinity", "-Infinity",
    "1_000", " 7.5 ", "1e10", "-1e-10", "abc", "", "+5", "1.", ".5", "-.5", "-0.00", "00012.3400", "1.2.3",
    "\u0661\u0662", "\u00b2", "-", "0." + "0" * 6177 + "1", "1" + "0" * 6200, "0." + "0" * 33 + "1", "-" + "9" * 34,
]  # fmt: skip


def _outcome(build, value):
    try:
        return build(value).bid
    except Exception as exc:  # the error type is what is compared
        return type(exc)


@pytest.mark.parametrize("text", EDGES)
def test_edge_cases_match_pymongo(text: str) -> None:
    assert _outcome(decimal128_from, text) == _outcome(Decimal128, text)


def test_random_decimals_match_pymongo_bit_for_bit() -> None:
    rng = random.Random(20261122)
    texts = [
        f"{rng.choice(['', '-'])}{rng.randint(0, 10 ** rng.randint(1, 36))}E{rng.randint(-6220, 6220)}"
        for _ in range(3000)
    ]
    texts += [f"{rng.randint(0, 10**9) / 100:.2f}" for _ in range(500)]
    for text in texts:
        assert _outcome(decimal128_from, text) == _outcome(Decimal128, text), text
        number = decimal.Decimal(text)
        assert _outcome(decimal128_from, number) == _outcome(Decimal128, number), text


def test_reading_any_128_bits_matches_pymongo() -> None:
    """Every bit pattern, canonical or not (NaN payloads, the "11" form, oversized coefficients)."""
    rng = random.Random(1122)
    values = [Decimal128(text) for text in EDGES if not isinstance(_outcome(Decimal128, text), type)]
    values += [Decimal128((rng.getrandbits(64), rng.getrandbits(64))) for _ in range(3000)]
    for value in values:
        expected = value.to_decimal()
        got = decimal_from(value)
        assert (str(got), got.as_tuple()) == (str(expected), expected.as_tuple()), value.bid.hex()
        assert decimal128_text(value) == str(value)


def _plain_text_the_slow_way(value: Decimal128) -> str | None:
    """What the tap wrote before plain_number_text: the codec's Decimal, as the writer prints it."""
    encoded = _plain_decimal128(value)
    if not isinstance(encoded, decimal.Decimal):
        return None
    text = str(encoded)
    return "-0E+0" if text == "-0" else text


def test_plain_number_text_is_the_decimal_path_text_for_every_exponent_and_sign() -> None:
    rng = random.Random(7)
    values = [Decimal128(text) for text in EDGE_TEXTS_FOR_PLAIN]
    for _ in range(5000):
        digits = rng.randint(1, 34)
        coefficient = rng.randrange(10**digits)
        exponent = rng.choice([rng.randint(-6176, 6111), rng.randint(-40, 10), rng.randint(-340, 300)])
        values.append(Decimal128(f"{'-' if rng.random() < 0.5 else ''}{coefficient}E{exponent}"))
    for value in values:
        assert plain_number_text(value) == _plain_text_the_slow_way(value), value


EDGE_TEXTS_FOR_PLAIN = [
    "0", "-0", "0E+2", "-0E+2", "0E-8", "0.00", "-0.00", "1", "-1.5", "0.000001", "1E-7", "123",
    "1.23E+5", "1E+308", "1E+309", "9.999999999999999999999999999999999E+308", "1E-308", "1E-309",
    "1E-6176", "9.999999999999999999999999999999999E+6144", "NaN", "-NaN", "Infinity", "-Infinity",
    "1234567890.123456789012345678901234", "-0.000000", "100E-2",
]  # fmt: skip


def test_a_non_canonical_encoding_is_left_to_the_decimal_path() -> None:
    high = (0x3040 << 48) | ((1 << 49) - 1)  # exponent 0, a coefficient over 10**34 (read as zero)
    too_many_digits = Decimal128.from_bid((high << 64 | ((1 << 64) - 1)).to_bytes(16, "little"))
    assert plain_number_text(too_many_digits) is None
