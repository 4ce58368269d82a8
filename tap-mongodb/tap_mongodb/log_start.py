"""`start_date`: where LOG_BASED streams without state begin reading the log."""

from __future__ import annotations

import datetime
import re

from bson import Timestamp

from mongodb_common.cli_errors import ConnectorError

_CLUSTER_TIME = re.compile(r"^\s*(\d+):(\d+)\s*$")


class StartDateError(ConnectorError):
    """`start_date` is neither a date-time nor a cluster time."""


def parse_start_time(value: str | None) -> Timestamp | None:
    """An ISO 8601 date-time (UTC when it names no zone) or `<seconds>:<increment>`."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    cluster_time = _CLUSTER_TIME.match(text)
    if cluster_time:
        return Timestamp(int(cluster_time.group(1)), int(cluster_time.group(2)))
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        msg = (
            f"setting start_date: {value!r} is neither an ISO 8601 date-time (2024-05-01T00:00:00Z) "
            "nor a cluster time <seconds>:<increment>"
        )
        raise StartDateError(msg) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return Timestamp(max(0, int(moment.timestamp())), 0)
