"""Decimal text to BSON Decimal128 without pymongo's bit-by-bit Python loop.

``bson.Decimal128(str)`` builds the 128-bit BID encoding one bit at a time (about 15 µs a
value); a medium document with a few prices spent more time there than in the rest of its
restoration. Every finite decimal with at most 34 digits and an exponent inside Decimal128's
range has the simple BID form (sign, biased exponent, coefficient), computed here directly;
anything else (NaN, infinities, clamping, rounding errors) goes through pymongo unchanged.
"""

from __future__ import annotations

import decimal
import typing as t

from bson import Decimal128

_EXPONENT_MIN, _EXPONENT_MAX, _EXPONENT_BIAS = -6176, 6111, 6176
_MAX_DIGITS = 34
_COEFFICIENT_LIMIT = 10**_MAX_DIGITS
_LOW_MASK = (1 << 64) - 1
# One digit more than Decimal128 holds: longer coefficients round to >= 10**34 and fall back.
_SHIFT_CONTEXT = decimal.Context(prec=35)


def _bid(negative: bool, exponent: int, coefficient: int) -> Decimal128:
    high = (negative << 63) | ((exponent + _EXPONENT_BIAS) << 49) | (coefficient >> 64)
    return Decimal128((high, coefficient & _LOW_MASK))


def _from_plain_text(text: str) -> Decimal128 | None:
    """`-123.45`-shaped text (what JSON writers print), read without the decimal module."""
    negative = text[:1] == "-"
    whole, dot, fraction = (text[1:] if negative else text).partition(".")
    digits = whole + fraction
    if not (whole and len(digits) <= _MAX_DIGITS and digits.isascii() and digits.isdigit() and (fraction or not dot)):
        return None
    return _bid(negative, -len(fraction), int(digits))  # 34 digits or fewer: the exponent is in range


def decimal128_from(value: str | decimal.Decimal) -> Decimal128:
    """Same result (and errors) as ``bson.Decimal128(value)``."""
    if isinstance(value, str):
        simple = _from_plain_text(value)
        if simple is not None:
            return simple
    if isinstance(value, decimal.Decimal):
        number = value
    elif "_" in value or value != value.strip():
        return Decimal128(value)  # pymongo refuses these (Context.create_decimal); so do we
    else:
        number = decimal.Decimal(value)
    if number.is_finite():
        exponent = t.cast(int, number.as_tuple().exponent)
        coefficient = abs(int(number.scaleb(-exponent, _SHIFT_CONTEXT)))
        if coefficient < _COEFFICIENT_LIMIT and _EXPONENT_MIN <= exponent <= _EXPONENT_MAX:
            return _bid(number.is_signed(), exponent, coefficient)
    return Decimal128(value)


_SPECIAL_OR_LARGE_FORM = 0x6000000000000000  # both bits set: infinity, NaN, or the "11" form
_COEFFICIENT_HIGH_MASK = (1 << 49) - 1


def _finite_parts(value: Decimal128) -> tuple[bool, int, int] | None:
    """(negative, coefficient, exponent) read from the BID bits of a finite canonical value.

    None for NaN, the infinities and non-canonical encodings (which the specification reads
    as zero): pymongo's own conversion handles those.
    """
    high, low = value.__getstate__()
    if high & _SPECIAL_OR_LARGE_FORM == _SPECIAL_OR_LARGE_FORM:
        return None
    coefficient = ((high & _COEFFICIENT_HIGH_MASK) << 64) | low
    if coefficient >= _COEFFICIENT_LIMIT:
        return None
    return bool(high >> 63), coefficient, ((high >> 49) & 0x3FFF) - _EXPONENT_BIAS


def decimal_from(value: Decimal128) -> decimal.Decimal:
    """Same result as ``value.to_decimal()``, without its byte-by-byte Python loop."""
    parts = _finite_parts(value)
    if parts is None:
        return value.to_decimal()
    negative, coefficient, exponent = parts
    return decimal.Decimal(f"{'-' if negative else ''}{coefficient}E{exponent}")


def decimal128_text(value: Decimal128) -> str:
    """Same result as ``str(value)`` (NaN without sign or payload, as MongoDB prints it)."""
    number = decimal_from(value)
    return "NaN" if number.is_nan() else str(number)


def in_double_range(value: Decimal128) -> bool:
    """Finite, and zero or with a decimal exponent within ±308 (a JSON number every reader takes).

    Decided from the exponent bits alone when that is enough (a coefficient has at most 34
    digits, so exponents between -308 and 275 always qualify), else from the exact value.
    """
    high = value.__getstate__()[0]
    if high & _SPECIAL_OR_LARGE_FORM != _SPECIAL_OR_LARGE_FORM:
        exponent = ((high >> 49) & 0x3FFF) - _EXPONENT_BIAS
        if -308 <= exponent <= 308 - (_MAX_DIGITS - 1):
            return True
    number = decimal_from(value)
    return number.is_finite() and (not number or -308 <= number.adjusted() <= 308)


def plain_number_text(value: Decimal128) -> str | None:
    """The JSON number plain encoding writes for `value`, straight from its BID bits.

    The same text as ``str`` of its Decimal (``-0E+0`` for a negative zero, which ``-0``
    would read back as the integer 0), without building the Decimal: a medium document's
    nine prices spent a quarter of the tap's record path in that round trip. None where plain
    encoding writes text instead (NaN, the infinities, an exponent beyond ±308) and for
    non-canonical encodings, which the Decimal path handles.
    """
    parts = _finite_parts(value)
    if parts is None:
        return None
    negative, coefficient, exponent = parts
    digits = str(coefficient)
    adjusted = exponent + len(digits) - 1
    if coefficient and not -308 <= adjusted <= 308:
        return None
    if exponent <= 0 and adjusted >= -6:  # Decimal's plain notation
        point = len(digits) + exponent
        if exponent == 0:
            text = digits
        elif point > 0:
            text = f"{digits[:point]}.{digits[point:]}"
        else:
            text = f"0.{'0' * -point}{digits}"
    else:  # its scientific notation
        text = f"{digits[0]}.{digits[1:]}E{adjusted:+d}" if len(digits) > 1 else f"{digits}E{adjusted:+d}"
    if negative:
        return "-0E+0" if text == "0" else f"-{text}"
    return text
