"""Where the schema sample comes from: `$sample` in discovery, the sync's own read without a catalog."""

from __future__ import annotations

import logging
import typing as t

import pytest

from tap_mongodb import schema_sampling
from tap_mongodb.tap import SYNC_WITHOUT_CATALOG
from tests.support import command_counting
from tests.support.singer_io import last_state, records, run_tap

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.support.deployment import Deployment


@pytest.fixture
def cli_sync_without_catalog() -> Iterator[None]:
    """As `tap-mongodb --config ...` without `--catalog` runs (TapMongoDB.invoke)."""
    token = SYNC_WITHOUT_CATALOG.set(True)
    yield
    SYNC_WITHOUT_CATALOG.reset(token)


def _samples(counter: command_counting.CommandCounter) -> list[t.Any]:
    return [command for command in counter.named("aggregate") if "$sample" in str(command.get("pipeline"))]


def _schemas(messages: list[dict[str, t.Any]]) -> list[tuple[int, dict[str, t.Any]]]:
    """Each SCHEMA message's properties, with the number of RECORD messages written before it."""
    seen, found = 0, []
    for message in messages:
        if message["type"] == "RECORD":
            seen += 1
        elif message["type"] == "SCHEMA":
            found.append((seen, message["schema"]["properties"]))
    return found


@pytest.mark.usefixtures("cli_sync_without_catalog")
def test_a_sync_without_a_catalog_infers_from_the_first_documents_it_reads_and_reads_once(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    documents: list[dict[str, t.Any]] = [{"_id": i, "qty": i} for i in range(30)]
    documents[14]["note"] = "a field the first ten lack"
    documents[20]["qty"] = "twenty"  # another type, after the sample
    deployment.database("shop").orders.insert_many(documents)
    counter = command_counting.install(monkeypatch)
    with caplog.at_level(logging.INFO):
        messages = run_tap(deployment.config(schema_sample_size=10, cursor_batch_size=4))

    assert _samples(counter) == []
    assert [find["find"] for find in counter.named("find")] == ["orders"]
    # No count either: row counts are catalog metadata, and a read this short logs no progress.
    assert counter.by_name()["count"] == 0
    assert len(counter.named("getMore")) == 7  # 30 documents in batches of 4, once: the sample's are not read again
    rows = records(messages)
    assert [row["_id"] for row in rows] == list(range(30))
    assert rows[20] == {"_id": 20, "qty__string": "twenty"}  # split off, as the drift policy says
    schemas = _schemas(messages)
    first_seen, first = schemas[0]
    assert first_seen == 0
    assert first["qty"]["type"] == ["integer", "null"]
    assert "note" not in first
    assert any("qty__string" in later for seen, later in schemas[1:] if seen <= 20)
    logged = [r.getMessage() for r in caplog.records]
    assert any("from the first 10 documents of its full-table read" in line for line in logged)
    saved = last_state(messages)["bookmarks"]
    assert any("qty__string" in str(stream) for stream in saved.values())  # the next run starts from it


@pytest.mark.usefixtures("cli_sync_without_catalog")
def test_bookmarks_follow_what_was_emitted_not_what_the_sample_read(deployment: Deployment) -> None:
    """The sample reads ten documents ahead of the records; STATE must not claim them."""
    deployment.database("shop").orders.insert_many([{"_id": i, "qty": i} for i in range(12)])
    config = deployment.config(schema_sample_size=10, state_interval_records=2)
    first = run_tap(config, stop_after_records=5)
    emitted = [row["_id"] for row in records(first)]
    assert emitted == [0, 1, 2, 3, 4]
    bookmark = str(last_state(first))
    assert "'last_id': 3" in bookmark or "'last_id': 4" in bookmark, bookmark
    second = run_tap(config, state=last_state(first))
    resumed = [row["_id"] for row in records(second)]
    assert resumed[0] in {4, 5}
    assert resumed[-1] == 11
    assert sorted(set(emitted + resumed)) == list(range(12))


@pytest.mark.usefixtures("cli_sync_without_catalog")
def test_reads_from_a_bookmark_sample_with_sample_at_sync_and_first_reads_of_a_key_from_their_head(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i, "seq": 5 - i} for i in range(6)])
    counter = command_counting.install(monkeypatch)
    stream_id = f"{deployment.prefix}shop-orders"
    config = deployment.config(replication_keys={stream_id: "seq"}, schema_sample_size=4)
    first = run_tap(config)
    assert _samples(counter) == []  # INCREMENTAL from no bookmark reads every document, in key order
    assert [row["seq"] for row in records(first)] == list(range(6))
    counter.clear()
    again = run_tap(config, state=last_state(first))
    assert len(_samples(counter)) == 1  # from its bookmark: its read is no sample of the collection
    assert [row["seq"] for row in records(again)] == [5]

    # A resumed full-table read starts after its bookmark: no longer the collection's start.
    config = deployment.config(state_interval_records=2)
    first = run_tap(config, stop_after_records=3)
    counter.clear()
    run_tap(config, state=last_state(first))
    assert len(_samples(counter)) == 1


@pytest.mark.usefixtures("cli_sync_without_catalog")
def test_an_incremental_stream_whose_documents_lack_the_key_is_skipped_after_its_sample(
    deployment: Deployment, caplog: pytest.LogCaptureFixture
) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i} for i in range(5)])
    stream_id = f"{deployment.prefix}shop-orders"
    with caplog.at_level(logging.INFO):
        messages = run_tap(deployment.config(replication_keys={stream_id: "seq"}, schema_sample_size=2))
    assert records(messages) == []
    assert any("none of its documents has the replication key 'seq'" in r.getMessage() for r in caplog.records)


@pytest.mark.usefixtures("cli_sync_without_catalog")
def test_settings_that_shape_streams_from_the_schema_keep_discovery_sampling(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployment.database("shop").orders.insert_many([{"_id": i, "lines": [{"sku": "a"}]} for i in range(3)])
    counter = command_counting.install(monkeypatch)
    messages = run_tap(deployment.config(denest_arrays=True))
    assert len(_samples(counter)) == 1
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {
        f"{deployment.prefix}shop-orders",
        f"{deployment.prefix}shop-orders__lines",
    }


def test_a_tap_made_in_process_or_given_a_catalog_samples_in_discovery(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--discover`, `--test` and library use sample with `$sample`, as before."""
    deployment.database("shop").orders.insert_many([{"_id": i} for i in range(3)])
    counter = command_counting.install(monkeypatch)
    run_tap(deployment.config())
    assert len(_samples(counter)) == 1


@pytest.mark.usefixtures("cli_sync_without_catalog")
def test_the_sample_holds_at_most_its_bytes_of_documents(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Large documents are sampled fewer: the documents sampled are held until emitted."""
    monkeypatch.setattr(schema_sampling, "HELD_BYTES", 1000)
    deployment.database("shop").orders.insert_many([{"_id": i, "text": "x" * 300} for i in range(10)])
    with caplog.at_level(logging.INFO):
        messages = run_tap(deployment.config(schema_sample_size=1000))
    assert [row["_id"] for row in records(messages)] == list(range(10))
    # Each document is about 330 bytes of JSON: the fourth takes the sample past 1,000.
    assert any("from the first 4 documents of its full-table read" in r.getMessage() for r in caplog.records)
