"""Running the tap in process and reading what it wrote."""

from __future__ import annotations

import io
import json
import sys
import typing as t

from tap_mongodb.tap import TapMongoDB


class SimulatedKillError(Exception):
    """Raised by the writer to simulate the tap being killed after some records."""


def parse_messages(text: str) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def run_tap(
    config: dict[str, t.Any],
    *,
    catalog: dict[str, t.Any] | None = None,
    state: dict[str, t.Any] | None = None,
    stop_after_records: int | None = None,
) -> list[dict[str, t.Any]]:
    """Sync and return the Singer messages; with `stop_after_records`, die after that many."""
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    tap = TapMongoDB(config=config, catalog=catalog, state=state)
    if stop_after_records is not None:
        _interrupt_after(tap, stop_after_records)
    previous, sys.stdout = sys.stdout, stdout
    try:
        tap.sync_all()
    except SimulatedKillError:
        pass
    finally:
        stdout.flush()
        sys.stdout = previous
    return parse_messages(raw.getvalue().decode())


def _interrupt_after(tap: TapMongoDB, limit: int) -> None:
    writer = tap.message_writer
    original = writer.write_message
    written = {"records": 0}

    def write_message(message: t.Any) -> None:
        if message.type == "RECORD":
            if written["records"] >= limit:
                raise SimulatedKillError
            written["records"] += 1
        original(message)

    writer.write_message = write_message  # type: ignore[method-assign]


def discover(config: dict[str, t.Any]) -> dict[str, t.Any]:
    return TapMongoDB(config=config).catalog_dict


def records(messages: list[dict[str, t.Any]], stream: str | None = None) -> list[dict[str, t.Any]]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and (stream is None or m["stream"] == stream)]


def last_state(messages: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return states[-1] if states else {}


def select_streams(
    catalog: dict[str, t.Any],
    stream_ids: t.Iterable[str],
    *,
    replication_method: str | None = None,
    replication_key: str | None = None,
    deselect_fields: t.Iterable[str] = (),
) -> dict[str, t.Any]:
    """A copy of the catalog with only `stream_ids` selected, as Meltano would write it."""
    wanted = set(stream_ids)
    catalog = json.loads(json.dumps(catalog))
    for stream in catalog["streams"]:
        chosen = stream["tap_stream_id"] in wanted
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = chosen
                if chosen and replication_method:
                    entry["metadata"]["forced-replication-method"] = replication_method
                if chosen and replication_key:
                    entry["metadata"]["replication-key"] = replication_key
            elif entry["breadcrumb"][-1] in set(deselect_fields):
                entry["metadata"]["selected"] = False
    return catalog
