"""BSON dates (signed milliseconds since the Unix epoch) to and from ISO-8601 text.

BSON dates span about ±292 million years, Python's ``datetime`` only years 1 to 9999, and
JSON has no date type at all. These helpers work on the millisecond count with plain integer
arithmetic so that no date MongoDB can store ever fails to convert. Years outside 0000-9999
use the expanded form JavaScript (and so mongosh) prints: a sign and six digits.
"""

from __future__ import annotations

import datetime
import re

_MS_PER_DAY = 86_400_000
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_ONE_MS = datetime.timedelta(milliseconds=1)

_ISO_PATTERN = re.compile(
    r"^(?P<year>[+-]\d{4,}|\d{4})-(?P<month>\d{2})-(?P<day>\d{2})"
    r"(?:[T ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d+))?)?"
    r"(?P<zone>Z|z|[+-]\d{2}:?\d{2})?)?$"
)


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) for a day count since 1970-01-01.

    Howard Hinnant's algorithm, exact for any integer.
    """
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    year = year_of_era + era * 400
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    return (year + 1 if month <= 2 else year), month, day


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Inverse of :func:`_civil_from_days`."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


def ms_to_iso(milliseconds: int) -> str:
    """Render a BSON date as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (expanded year when needed)."""
    days, rest = divmod(int(milliseconds), _MS_PER_DAY)
    year, month, day = _civil_from_days(days)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, millis = divmod(rest, 1000)
    year_text = f"{year:04d}" if 0 <= year <= 9999 else f"{'+' if year > 0 else '-'}{abs(year):06d}"
    return f"{year_text}-{month:02d}-{day:02d}T{hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}Z"


def iso_to_ms(text: str) -> int:
    """Parse ISO-8601 date-time text (any year, any offset) to BSON milliseconds.

    Fractions finer than a millisecond are truncated, as MongoDB itself stores milliseconds.
    """
    match = _ISO_PATTERN.match(text.strip())
    if not match:
        msg = f"not an ISO-8601 date-time: {text!r}"
        raise ValueError(msg)
    parts = match.groupdict()
    month, day = int(parts["month"]), int(parts["day"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        msg = f"month or day out of range in date-time {text!r}"
        raise ValueError(msg)
    days = _days_from_civil(int(parts["year"]), month, day)
    fraction = (parts["fraction"] or "0")[:3].ljust(3, "0")
    total = (
        days * _MS_PER_DAY
        + int(parts["hour"] or 0) * 3_600_000
        + int(parts["minute"] or 0) * 60_000
        + int(parts["second"] or 0) * 1000
        + int(fraction)
    )
    zone = parts["zone"]
    if zone and zone not in {"Z", "z"}:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        total -= sign * (int(digits[:2]) * 3_600_000 + int(digits[2:]) * 60_000)
    return total


def datetime_to_ms(value: datetime.datetime) -> int:
    """Milliseconds since the epoch; a naive datetime is UTC, as pymongo treats it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return (value - _EPOCH) // _ONE_MS


def ms_to_datetime(milliseconds: int) -> datetime.datetime:
    """A UTC datetime; raises OverflowError outside years 1-9999 (callers fall back)."""
    return _EPOCH + datetime.timedelta(milliseconds=milliseconds)
