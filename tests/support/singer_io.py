"""Running the tap in process and reading what it wrote."""

from __future__ import annotations

import decimal
import io
import json
import sys
import typing as t

from tap_mongodb.singer_writer import serialize
from tap_mongodb.tap import TapMongoDB
from tests.support.schema_invariant import assert_records_fit_their_schemas


class SimulatedKillError(Exception):
    """Raised by the writer to simulate the tap being killed after some records."""


def parse_messages(text: str) -> list[dict[str, t.Any]]:
    """As a Singer target reads them: non-integral numbers as Decimal, no digit lost."""
    # Lines end at "\n" only: str.splitlines would also split inside strings holding U+0085 or U+2028.
    return [json.loads(line, parse_float=decimal.Decimal) for line in text.split("\n") if line.strip()]


def run_tap(
    config: dict[str, t.Any],
    *,
    catalog: dict[str, t.Any] | None = None,
    state: dict[str, t.Any] | None = None,
    stop_after_records: int | None = None,
    messages_out: list[dict[str, t.Any]] | None = None,
    after_record: t.Callable[[int], None] | None = None,
) -> list[dict[str, t.Any]]:
    """Sync and return the Singer messages; with `stop_after_records`, die after that many.

    `messages_out` receives the messages written, even when the tap fails. `after_record`
    is called with the count of RECORD messages written so far, after each one (to break
    something at a chosen point of the sync). Every RECORD is checked against its stream's
    latest SCHEMA (tests/support/schema_invariant.py).
    """
    raw = io.BytesIO()
    stdout = io.TextIOWrapper(raw, encoding="utf-8")
    tap = TapMongoDB(config=config, catalog=catalog, state=state)
    if stop_after_records is not None:
        _interrupt_after(tap, stop_after_records)
    if after_record is not None:
        _call_after_each_record(tap, after_record)
    previous, sys.stdout = sys.stdout, stdout
    try:
        tap.sync_all()
    except SimulatedKillError:
        pass
    finally:
        stdout.flush()
        sys.stdout = previous
        messages = parse_messages(raw.getvalue().decode())
        if messages_out is not None:
            messages_out.extend(messages)
    assert_records_fit_their_schemas(messages)
    return messages


def _interrupt_after(tap: TapMongoDB, limit: int) -> None:
    written = {"records": 0}

    def before_record() -> None:
        if written["records"] >= limit:
            raise SimulatedKillError
        written["records"] += 1

    _around_records(tap, before=before_record)


def _call_after_each_record(tap: TapMongoDB, callback: t.Callable[[int], None]) -> None:
    written = {"records": 0}

    def after_record() -> None:
        written["records"] += 1
        callback(written["records"])

    _around_records(tap, after=after_record)


def _around_records(
    tap: TapMongoDB, *, before: t.Callable[[], None] | None = None, after: t.Callable[[], None] | None = None
) -> None:
    """`before`/`after` each RECORD line the tap writes: its own messages, and the lines record processes made."""
    writer = tap.message_writer
    write_message, write_record_lines = writer.write_message, writer.write_record_lines

    def each_message(message: t.Any) -> None:
        if message.type == "RECORD" and before is not None:
            before()
        write_message(message)
        if message.type == "RECORD" and after is not None:
            after()

    def each_line(stream: str, lines: bytes) -> None:
        for line in lines.splitlines(keepends=True):
            if before is not None:
                before()
            write_record_lines(stream, line)
            if after is not None:
                after()

    writer.write_message = each_message  # type: ignore[method-assign]
    writer.write_record_lines = each_line  # type: ignore[method-assign]


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


def singer_lines(messages: t.Iterable[dict[str, t.Any] | str]) -> str:
    """Singer input text; strings are taken as raw lines (for malformed input)."""
    return "".join(m + "\n" if isinstance(m, str) else serialize(m).decode() for m in messages)


def run_target(
    config: dict[str, t.Any],
    messages: t.Iterable[dict[str, t.Any] | str],
    *,
    states_out: list[dict[str, t.Any]] | None = None,
) -> list[dict[str, t.Any]]:
    """Feed messages to target-mongodb in process; returns the STATE values it emitted.

    `states_out` receives them too, even when the target fails.
    """
    from target_mongodb.target import TargetMongoDB

    output = io.StringIO()
    states = states_out if states_out is not None else []
    previous, sys.stdout = sys.stdout, output
    try:
        TargetMongoDB(config=config).listen(io.StringIO(singer_lines(messages)))
    finally:
        sys.stdout = previous
        states.extend(json.loads(line) for line in output.getvalue().splitlines() if line.strip())
    return states


def schema_message(stream: str, properties: dict[str, t.Any], key_properties: list[str]) -> dict[str, t.Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": key_properties,
    }


def record_message(stream: str, record: dict[str, t.Any], version: int | None = None) -> dict[str, t.Any]:
    message: dict[str, t.Any] = {"type": "RECORD", "stream": stream, "record": record}
    if version is not None:
        message["version"] = version
    return message


def state_message(value: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"type": "STATE", "value": value}
