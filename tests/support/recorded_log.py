"""Recorded server documents (tests/fixtures/log): what mongod writes that the test server cannot.

Each fixture names the MongoDB manual page it follows; `load` returns its documents with
types restored (Timestamps, ObjectIds, dates).
"""

from __future__ import annotations

import datetime
import json
import typing as t
from pathlib import Path

from bson import json_util
from bson.codec_options import DatetimeConversion

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "log"
_OPTIONS = json_util.JSONOptions(
    tz_aware=True, tzinfo=datetime.timezone.utc, datetime_conversion=DatetimeConversion.DATETIME_AUTO
)


def load(name: str) -> t.Any:
    recorded = json_util.loads((FIXTURES / name).read_text(encoding="utf-8"), json_options=_OPTIONS)
    return recorded["documents"]


def documentation(name: str) -> str:
    return str(json.loads((FIXTURES / name).read_text(encoding="utf-8"))["documentation"])
