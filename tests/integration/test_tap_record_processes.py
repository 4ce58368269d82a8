"""Record processes (record_processes.py) change how fast a read is converted, never what it emits.

Each test runs the same sync with `record_processes` 0 (everything in the tap's process) and 2,
and compares the messages: same records in the same order, same SCHEMA messages at the same
places (a schema widened mid-read included), same bookmarks. Only `time_extracted` and the
table version (the time of the run) may differ.
"""

from __future__ import annotations

import json
import typing as t

import bson
import pytest

from tap_mongodb import record_processes, streams
from tap_mongodb.batch_conversion import batch_converter
from tap_mongodb.raw_documents import split_batch
from tests.support.bson_samples import every_type_document, storable_on_test_server
from tests.support.singer_io import discover, last_state, records, run_tap, select_streams

if t.TYPE_CHECKING:
    from tests.support.deployment import Deployment

pytestmark = pytest.mark.skipif(not record_processes.can_fork(), reason="record processes fork: Linux only")

BATCH = 30  # documents per cursor batch: many batches, so most go to the processes


class _CountedProcesses(record_processes.RecordProcesses):
    started = 0

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        type(self).started += 1
        super().__init__(*args, **kwargs)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> type[_CountedProcesses]:
    _CountedProcesses.started = 0
    monkeypatch.setattr(streams, "RecordProcesses", _CountedProcesses)
    return _CountedProcesses


def _comparable(messages: list[dict[str, t.Any]]) -> list[str]:
    """The messages as text, without what differs between any two runs (times, table versions,
    where in the log a LOG_BASED run starts)."""
    out = []
    for message in messages:
        kept = json.loads(json.dumps(message, default=str))  # a copy: the messages stay as they were
        kept.pop("time_extracted", None)
        kept.pop("version", None)
        if kept["type"] == "STATE":
            for bookmark in kept["value"].get("bookmarks", {}).values():
                bookmark.pop("version", None)
                bookmark.pop("log_position", None)
        out.append(json.dumps(kept, sort_keys=True, default=str))
    return out


def _varied(n: int) -> dict[str, t.Any]:
    document = storable_on_test_server(every_type_document(n))
    document.update(double=n / 7, string=f"row {n} \u2603", int64=bson.Int64(n * 3), decimal=bson.Decimal128(f"{n}.25"))
    return document


@pytest.mark.parametrize("encoding", ["plain", "extended_json"])
def test_full_table_with_record_processes_emits_exactly_what_the_tap_alone_does(
    deployment: Deployment, counted: type[_CountedProcesses], encoding: str
) -> None:
    deployment.database("shop").things.insert_many([_varied(n) for n in range(400)])
    alone = run_tap(deployment.config(bson_encoding=encoding, cursor_batch_size=BATCH, record_processes=0))
    assert counted.started == 0
    together = run_tap(deployment.config(bson_encoding=encoding, cursor_batch_size=BATCH, record_processes=2))
    assert counted.started == 1
    assert len(records(together)) == 400
    assert _comparable(together) == _comparable(alone)


def test_a_schema_widened_mid_read_is_declared_before_its_records_as_without_processes(
    deployment: Deployment, counted: type[_CountedProcesses]
) -> None:
    collection = deployment.database("shop").events
    collection.insert_many([{"_id": n, "n": n} for n in range(100)])
    catalog = discover(deployment.config())
    collection.insert_many([{"_id": n, "n": n if n < 250 else f"text {n}"} for n in range(100, 300)])
    collection.insert_many([{"_id": n, "n": str(n), "added": {"deep": [n]}} for n in range(300, 400)])
    settings = {"cursor_batch_size": BATCH, "schema_drift": "widen"}
    alone = run_tap(deployment.config(record_processes=0, **settings), catalog=catalog)
    together = run_tap(deployment.config(record_processes=2, **settings), catalog=catalog)
    assert _comparable(together) == _comparable(alone)
    schemas = [m for m in together if m["type"] == "SCHEMA"]
    assert len(schemas) == 3  # the catalog's, then widened for the strings, then for the new field
    assert counted.started >= 2  # forked anew after a widening, with the schema as it then stood
    assert records(together)[-1] == {"_id": 399, "n": "399", "added": {"deep": [399]}}


def test_a_schema_widening_in_every_batch_forks_a_bounded_number_of_times(
    deployment: Deployment, counted: type[_CountedProcesses]
) -> None:
    collection = deployment.database("shop").events
    collection.insert_many([{"_id": n, "n": n} for n in range(BATCH)])
    catalog = discover(deployment.config())
    # From the second batch on, every batch brings a field of its own.
    collection.insert_many([{"_id": n, "n": n, f"field_{n // BATCH}": n} for n in range(BATCH, 60 * BATCH)])
    settings = {"cursor_batch_size": BATCH, "schema_drift": "widen"}
    alone = run_tap(deployment.config(record_processes=0, **settings), catalog=catalog)
    together = run_tap(deployment.config(record_processes=2, **settings), catalog=catalog)
    assert _comparable(together) == _comparable(alone)
    assert len([m for m in together if m["type"] == "SCHEMA"]) == 60
    assert counted.started == record_processes.MAX_POOLS_PER_READ  # then the tap converts the rest itself


def test_a_read_of_one_batch_starts_no_process(deployment: Deployment, counted: type[_CountedProcesses]) -> None:
    deployment.database("shop").things.insert_many([{"_id": n} for n in range(BATCH)])
    rows = records(run_tap(deployment.config(cursor_batch_size=BATCH, record_processes=2)))
    assert len(rows) == BATCH
    assert counted.started == 0


def test_incremental_with_record_processes_bookmarks_the_last_key_written(
    deployment: Deployment, counted: type[_CountedProcesses]
) -> None:
    collection = deployment.database("shop").orders
    collection.insert_many([{"_id": n, "seq": n % 250, "v": f"v{n}"} for n in range(500)])
    collection.create_index("seq")
    stream_id = f"{deployment.prefix}shop-orders"
    catalog = select_streams(
        discover(deployment.config()), [stream_id], replication_method="INCREMENTAL", replication_key="seq"
    )
    alone = run_tap(deployment.config(cursor_batch_size=BATCH, record_processes=0), catalog=catalog)
    together = run_tap(deployment.config(cursor_batch_size=BATCH, record_processes=2), catalog=catalog)
    assert counted.started == 1
    assert _comparable(together) == _comparable(alone)
    assert [r["seq"] for r in records(together)] == sorted(n % 250 for n in range(500))
    assert last_state(together)["bookmarks"][stream_id]["replication_key_value"] == 249


def test_an_interrupted_read_with_record_processes_resumes_after_the_last_record_written(
    deployment: Deployment, counted: type[_CountedProcesses]
) -> None:
    deployment.database("shop").things.insert_many([{"_id": n, "n": n} for n in range(600)])
    config = deployment.config(cursor_batch_size=BATCH, record_processes=2, state_interval_records=50)
    first = run_tap(config, stop_after_records=333)
    assert counted.started == 1
    state = last_state(first)
    resume_after = state["bookmarks"][f"{deployment.prefix}shop-things"]["last_id"]
    assert resume_after == 299  # the last STATE came after record 300, and says so
    second = run_tap(config, state=state)
    assert [r["_id"] for r in records(second)] == list(range(300, 600))
    assert [r["_id"] for r in records(first)] == list(range(333))


def test_streams_with_stream_maps_are_converted_by_the_tap_itself(
    deployment: Deployment, counted: type[_CountedProcesses]
) -> None:
    """A map expression may draw random values (`fake`), which forked processes would repeat."""
    deployment.database("shop").things.insert_many([{"_id": n, "n": n} for n in range(100)])
    stream_id = f"{deployment.prefix}shop-things"
    config = deployment.config(
        cursor_batch_size=BATCH, record_processes=2, stream_maps={stream_id: {"label": "'n=' + str(n)"}}
    )
    rows = records(run_tap(config))
    assert counted.started == 0
    assert [(row["n"], row["label"]) for row in rows] == [(n, f"n={n}") for n in range(100)]


def test_a_system_that_refuses_to_fork_gets_the_same_records_from_the_tap_alone(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    deployment.database("shop").things.insert_many([{"_id": n, "n": n} for n in range(200)])

    def refuse() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(record_processes.os, "fork", refuse)
    rows = records(run_tap(deployment.config(cursor_batch_size=BATCH, record_processes=2)))
    assert [row["_id"] for row in rows] == list(range(200))
    refusals = [r.getMessage() for r in caplog.records if "could not start record processes" in r.getMessage()]
    assert len(refusals) == 1  # asked once per read, not at every batch
    assert "Resource temporarily unavailable" in refusals[0]


class _ConversionFailedError(RuntimeError):
    pass


def test_a_conversion_failure_in_a_process_stops_the_sync_where_its_batch_begins(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment.database("shop").things.insert_many([{"_id": n, "n": n} for n in range(300)])

    def failing_converter(*args: t.Any) -> t.Callable[[bytes], t.Any]:
        convert = batch_converter(*args)

        def failing(batch: bytes) -> t.Any:
            if any(bson.decode(raw)["_id"] == 200 for raw in split_batch(batch)):
                msg = "document 200 cannot be converted"
                raise _ConversionFailedError(msg)
            return convert(batch)

        return failing

    monkeypatch.setattr(streams, "batch_converter", failing_converter)
    written: list[dict[str, t.Any]] = []
    config = deployment.config(cursor_batch_size=BATCH, record_processes=2, state_interval_records=BATCH)
    with pytest.raises(_ConversionFailedError, match="document 200"):
        run_tap(config, messages_out=written)
    emitted = [r["_id"] for r in records(written)]
    assert emitted == list(range(180))  # every batch before the failed one, none after it
    assert last_state(written)["bookmarks"][f"{deployment.prefix}shop-things"]["last_id"] == 179


@pytest.mark.parametrize("log_method", ["change_streams", "oplog"])
def test_a_log_based_initial_sync_with_record_processes_then_follows_the_log_as_without(
    deployment: Deployment, counted: type[_CountedProcesses], log_method: str
) -> None:
    collection = deployment.database("shop").things
    collection.insert_many([_varied(n) for n in range(200)])
    stream_id = f"{deployment.prefix}shop-things"
    config = deployment.config(log_method=log_method)
    catalog = select_streams(discover(config), [stream_id], replication_method="LOG_BASED")
    settings = {
        processes: deployment.config(log_method=log_method, cursor_batch_size=BATCH, record_processes=processes)
        for processes in (0, 2)
    }
    initial = {processes: run_tap(settings[processes], catalog=catalog) for processes in (0, 2)}
    assert counted.started == 1  # the initial sync's read with processes; none with 0
    assert len(records(initial[2])) == 200
    assert _comparable(initial[2]) == _comparable(initial[0])
    collection.update_one({"_id": 7}, {"$set": {"string": "changed"}})
    collection.insert_one({"_id": 1000, "n": 1000})
    changes = {
        processes: run_tap(settings[processes], catalog=catalog, state=last_state(initial[processes]))
        for processes in (0, 2)
    }
    assert [r["_id"] for r in records(changes[2])] == [7, 1000]
    assert _comparable(changes[2]) == _comparable(changes[0])


def test_deselected_fields_stay_out_of_records_written_by_record_processes(
    deployment: Deployment, counted: type[_CountedProcesses]
) -> None:
    deployment.database("shop").things.insert_many(
        [{"_id": n, "n": n, "secret": f"s{n}", "inner": {"keep": n, "hidden": -n}} for n in range(300)]
    )
    stream_id = f"{deployment.prefix}shop-things"
    catalog = select_streams(discover(deployment.config()), [stream_id], deselect_fields=["secret", "hidden"])
    alone = run_tap(deployment.config(cursor_batch_size=BATCH, record_processes=0), catalog=catalog)
    together = run_tap(deployment.config(cursor_batch_size=BATCH, record_processes=2), catalog=catalog)
    assert counted.started == 1
    assert _comparable(together) == _comparable(alone)
    assert records(together)[-1] == {"_id": 299, "n": 299, "inner": {"keep": 299}}
