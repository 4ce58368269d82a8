"""Throughput and memory of tap-mongodb and target-mongodb against the floor. Prints one table.

    .venv/bin/python benchmarks/run.py            # full run
    .venv/bin/python benchmarks/run.py --quick    # smaller counts, for a smoke check

Rows:
- tap record path: BSON bytes -> decode -> the tap's per-record path (codec, shaping,
  Singer message, orjson) for documents already fetched; flattening off and on;
- floor: `bson.decode` + `orjson.dumps` of the same documents; ratio = tap time / floor time;
- tap end to end: a whole sync on the embedded stand-in (its SQLite storage dominates);
- target: a Singer file into the stand-in, against `insert_many` of the same documents (as
  dicts, and as the raw BSON the target sends), and the target's own work per record with
  the stand-in's writes discarded;
- peak RSS of the tap and the target at N and 10 x N documents (separate processes).

With `--peer PATH` (the `tap-mongodb` executable of meltanolabs-tap-mongodb, installed in a
virtualenv of its own), both taps sync the same stand-in data as separate processes, the peer
through benchmarks/peer_shim (it builds its own pymongo.MongoClient, which the shim points at
the stand-in).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import bson
import orjson
from bson.raw_bson import RawBSONDocument

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.documents import generate
from mongodb_common.standin import CODEC_OPTIONS, connect

RAW_CODEC_OPTIONS = CODEC_OPTIONS.with_options(document_class=RawBSONDocument)

COUNTS = {"small": 20_000, "medium": 5_000, "large": 200}
QUICK = {"small": 2_000, "medium": 500, "large": 20}


def _best_of(runs: int, action: t.Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def _stream(uri: str, shape_docs: list[dict], settings: dict[str, t.Any]) -> t.Any:
    from tap_mongodb.tap import TapMongoDB

    client = connect(uri)
    client["bench"]["docs"].insert_many(shape_docs[:200])
    tap = TapMongoDB(config={"mongodb_uri": uri, "database_includes": ["bench"], "schema_sample_size": 200, **settings})
    stream = tap.streams["bench-docs"]
    stream._stream_version = 1
    return tap, stream


def tap_record_path(raws: list[bytes], docs: list[dict], settings: dict[str, t.Any], workdir: Path) -> float:
    uri = f"litemongo://{tempfile.mkdtemp(dir=workdir)}"
    tap, stream = _stream(uri, docs, settings)
    writer = tap.message_writer

    def run() -> None:
        for raw in raws:
            record = stream._to_record(bson.decode(raw, codec_options=CODEC_OPTIONS))
            for message in stream._generate_record_messages(record):
                writer.format_message(message)

    return _best_of(3, run)


def floor(raws: list[bytes]) -> float:
    def run() -> None:
        for raw in raws:
            orjson.dumps(bson.decode(raw), default=str)

    return _best_of(3, run)


def tap_end_to_end(docs: list[dict], workdir: Path) -> tuple[float, bytes]:
    from tap_mongodb.tap import TapMongoDB

    uri = f"litemongo://{tempfile.mkdtemp(dir=workdir)}"
    connect(uri)["bench"]["docs"].insert_many(docs)
    config = {"mongodb_uri": uri, "database_includes": ["bench"], "bson_encoding": "extended_json"}
    raw = io.BytesIO()
    wrapper = io.TextIOWrapper(raw)
    stdout, sys.stdout = sys.stdout, wrapper
    try:
        started = time.perf_counter()
        TapMongoDB(config=config).sync_all()
        elapsed = time.perf_counter() - started
        wrapper.flush()
        output = raw.getvalue()
    finally:
        sys.stdout = stdout
    return elapsed, output


def _load(singer_text: str, uri: str, load_method: str) -> float:
    from target_mongodb.target import TargetMongoDB

    stdout, sys.stdout = sys.stdout, io.StringIO()
    try:
        started = time.perf_counter()
        config = {"mongodb_uri": uri, "database": "dst", "load_method": load_method}
        TargetMongoDB(config=config).listen(io.StringIO(singer_text))
        return time.perf_counter() - started
    finally:
        sys.stdout = stdout


def target(singer_output: bytes, docs: list[dict], workdir: Path, load_method: str) -> tuple[float, float]:
    """Best of two loads into fresh stand-in directories, and best of three insert_many floors."""
    text = singer_output.decode()
    target_seconds = min(_load(text, f"litemongo://{tempfile.mkdtemp(dir=workdir)}", load_method) for _ in range(2))
    return target_seconds, insert_many_floor([dict(d) for d in docs], workdir)


def insert_many_floor(documents: list[t.Any], workdir: Path) -> float:
    """Best of three `insert_many` calls into fresh stand-in directories."""
    seconds = []
    for _ in range(3):
        collection = connect(f"litemongo://{tempfile.mkdtemp(dir=workdir)}")["dst"]["docs"]
        started = time.perf_counter()
        collection.insert_many(list(documents))
        seconds.append(time.perf_counter() - started)
    return min(seconds)


def raw_documents(docs: list[dict]) -> list[RawBSONDocument]:
    """The documents as the BSON bytes a client sends, the form target-mongodb writes."""
    return [RawBSONDocument(bson.encode(d), codec_options=RAW_CODEC_OPTIONS) for d in docs]


def target_without_writes(singer_output: bytes, workdir: Path) -> float:
    """The target's own work (parse, validate, restore types, encode, batch): the stand-in's
    bulk_write is replaced by one that discards, so no storage cost is counted."""
    from litemongo._vendor.mongomock import collection as mongomock_collection

    original = mongomock_collection.Collection.bulk_write
    mongomock_collection.Collection.bulk_write = lambda _self, _requests, *_args, **_kwargs: None
    try:
        text = singer_output.decode()
        return min(_load(text, f"litemongo://{tempfile.mkdtemp(dir=workdir)}", "upsert") for _ in range(2))
    finally:
        mongomock_collection.Collection.bulk_write = original


def seed_for_rss(count: int, workdir: Path) -> None:
    """Seeds (in this process) what the measured child process then reads."""
    client = connect(f"litemongo://{workdir / f'rss-{count}'}")
    for start in range(0, count, 1000):
        client["bench"]["docs"].insert_many(generate("medium", min(1000, count - start), seed=start))
    client.close()


def _without_binary(document: dict) -> dict:
    """A medium document without its binary UUID field, which the peer cannot emit."""
    customer = {key: value for key, value in document["customer"].items() if key != "external_id"}
    return {**document, "customer": customer}


def _run_tap(command: str, config_file: Path, env: dict[str, str], count: int) -> str:
    """Best of two runs, as docs/s, or why the run failed."""
    best = None
    for _ in range(2):
        started = time.perf_counter()
        result = subprocess.run(
            [command, "--config", str(config_file)],
            capture_output=True,
            text=True,
            env={**os.environ, **env},
            check=False,
        )
        elapsed = time.perf_counter() - started
        emitted = result.stdout.count('"type":"RECORD"') + result.stdout.count('"type": "RECORD"')
        if result.returncode != 0 or emitted < count:
            error = next((line for line in reversed(result.stderr.splitlines()) if "Error" in line), "failed")
            return f"FAILED after {emitted} records ({error.strip()[:80]})"
        best = elapsed if best is None else min(best, elapsed)
    return f"{count / best:,.0f} docs/s"


def compare_with_peer(peer: str, workdir: Path, counts: dict[str, int]) -> list[str]:
    """Both taps, as processes, over the same stand-in data; returns table rows."""
    ours = str(Path(sys.executable).with_name("tap-mongodb"))
    shim = str(Path(__file__).resolve().parent / "peer_shim")
    rows = ["", "tap end to end as processes on the stand-in (ours: plain encoding; peer: its default layout)"]
    cases = []
    for shape, full in counts.items():
        count = full if shape == "large" else full // 5  # enough documents to outweigh start-up
        cases.append((shape, generate(shape, count)))
        if shape == "medium":
            cases.append(("medium without binary", [_without_binary(d) for d in generate(shape, count)]))
    for label, documents in cases:
        directory = workdir / f"peer-{label.replace(' ', '-')}"
        connect(f"litemongo://{directory}")["bench"]["docs"].insert_many(documents)
        uri = f"litemongo://{directory}"
        results = []
        for name, command, config, env in (
            ("ours", ours, {"mongodb_uri": uri, "database_includes": ["bench"]}, {}),
            ("peer", peer, {"mongodb_connection_string": uri, "database": "bench"}, {"PYTHONPATH": shim}),
        ):
            config_file = workdir / f"{name}-{directory.name}.json"
            config_file.write_text(json.dumps(config))
            results.append(f"{name}: {_run_tap(command, config_file, env, len(documents))}")
        rows.append(f"  {label:<22}{len(documents):>6} docs: " + "; ".join(results))
    return rows


def peak_rss_mb(role: str, count: int, workdir: Path) -> float:
    if role == "tap":
        seed_for_rss(count, workdir)
    result = subprocess.run(
        [sys.executable, __file__, "--rss-child", role, str(count), str(workdir)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


def rss_child(role: str, count: int, workdir: Path) -> None:
    """Runs in its own process: one sync (or one load) of `count` medium documents."""
    singer_file = workdir / f"rss-{count}.singer"
    if role == "tap":
        uri = f"litemongo://{workdir / f'rss-{count}'}"
        from tap_mongodb.tap import TapMongoDB

        with singer_file.open("wb") as output:
            stdout, sys.stdout = sys.stdout, io.TextIOWrapper(output)
            TapMongoDB(
                config={"mongodb_uri": uri, "database_includes": ["bench"], "bson_encoding": "extended_json"}
            ).sync_all()
            sys.stdout.flush()
            sys.stdout = stdout
    else:
        uri = f"litemongo://{workdir / f'rss-target-{count}'}"
        from target_mongodb.target import TargetMongoDB

        stdout, sys.stdout = sys.stdout, io.StringIO()
        with singer_file.open() as handle:
            # Batches of 1,000 rows, so 10 x N spans many batches and shows the bound.
            TargetMongoDB(config={"mongodb_uri": uri, "database": "dst", "batch_size_rows": 1000}).listen(handle)
        sys.stdout = stdout
    print(f"{_high_water_mark_kb() / 1024:.1f}")


def _high_water_mark_kb() -> float:
    """Peak RSS of this process only (ru_maxrss can carry the forking parent's size)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rss-child", nargs=3, metavar=("ROLE", "COUNT", "WORKDIR"))
    parser.add_argument("--peer", help="path of meltanolabs-tap-mongodb's tap-mongodb executable")
    args = parser.parse_args()
    if args.rss_child:
        role, count, workdir = args.rss_child
        rss_child(role, int(count), Path(workdir))
        return
    counts = QUICK if args.quick else COUNTS
    workdir = Path(tempfile.mkdtemp(prefix="mongodb-bench-"))
    rows: list[str] = []
    try:
        header = (
            f"{'shape':<7}{'docs':>7}{'KB/doc':>8} | {'floor docs/s':>13}{'tap docs/s':>12}{'MB/s':>7}"
            f"{'tap/floor':>10} | {'flat docs/s':>12}{'flat/floor':>11}"
        )
        rows += [
            f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "",
            "tap record path (documents already fetched)",
            header,
            "-" * len(header),
        ]
        for shape, count in counts.items():
            docs = [bson.decode(bson.encode(d), codec_options=CODEC_OPTIONS) for d in generate(shape, count)]
            raws = [bson.encode(d) for d in docs]
            megabytes = sum(map(len, raws)) / 1e6
            floor_s = floor(raws)
            plain_s = tap_record_path(raws, docs, {}, workdir)
            flat_s = tap_record_path(raws, docs, {"flattening_enabled": True, "flattening_max_depth": 3}, workdir)
            rows.append(
                f"{shape:<7}{count:>7}{megabytes * 1000 / count:>8.1f} | {count / floor_s:>13,.0f}"
                f"{count / plain_s:>12,.0f}{megabytes / plain_s:>7.1f}{plain_s / floor_s:>10.2f} | "
                f"{count / flat_s:>12,.0f}{flat_s / floor_s:>11.2f}"
            )
        medium_count = counts["medium"]
        docs = generate("medium", medium_count)
        e2e_s, singer_output = tap_end_to_end(docs, workdir)
        target_s, insert_s = target(singer_output, docs, workdir, "upsert")
        append_s, _ = target(singer_output, docs, workdir, "append-only")
        own_s = target_without_writes(singer_output, workdir)
        raw_floor_s = insert_many_floor(raw_documents(docs), workdir)
        rows += [
            "",
            f"tap end to end on the stand-in, {medium_count} medium documents: {medium_count / e2e_s:,.0f} docs/s",
            f"target into the stand-in, {medium_count} medium records: {medium_count / target_s:,.0f} records/s; "
            f"floor insert_many: {medium_count / insert_s:,.0f} docs/s; ratio {target_s / insert_s:.2f}",
            f"target with load_method append-only (inserts, like the floor): {medium_count / append_s:,.0f} records/s; "
            f"ratio {append_s / insert_s:.2f}",
            f"floor insert_many of the same documents as raw BSON (what target-mongodb sends): "
            f"{medium_count / raw_floor_s:,.0f} docs/s; upsert ratio {target_s / raw_floor_s:.2f}",
            f"target's own work, writes discarded: {medium_count / own_s:,.0f} records/s "
            f"({own_s / medium_count * 1e6:,.0f} µs per record)",
        ]
        if args.peer:
            rows += compare_with_peer(args.peer, workdir, counts)
        small_n = max(200, medium_count // 5)
        rss = {
            role: (peak_rss_mb(role, small_n, workdir), peak_rss_mb(role, small_n * 10, workdir))
            for role in ("tap", "target")
        }
        for role, (at_n, at_10n) in rss.items():
            rows.append(
                f"peak RSS of the {role}: {at_n:.0f} MB at {small_n} docs, {at_10n:.0f} MB at {small_n * 10} docs "
                f"(+{(at_10n / at_n - 1) * 100:.0f}%)"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
