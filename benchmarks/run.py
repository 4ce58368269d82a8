"""tap-mongodb and target-mongodb against what they are built on, side by side in one run.

    .venv/bin/python benchmarks/run.py                 # everything, 25-40 minutes on a busy 2-core machine
    .venv/bin/python benchmarks/run.py --no-peers      # offline: skip the peer taps
    .venv/bin/python benchmarks/run.py --quick         # smaller counts, for a smoke check
    .venv/bin/python benchmarks/run.py --only record,tap  # some sections only

Everything runs against a real MongoDB wire-protocol server started here (SecantusServer,
tests/support/server.py), or the server of `MONGODB_URI` when set (the benchmark then
works in databases named `bench_*` and drops them). The machine is shared and noisy, so
only ratios measured side by side in the same run are printed as results; each side is
the best of several alternating runs.

Sections (see docs/performance.md for what each row means):
- record: raw BSON in, a Singer RECORD line out, in process, against python-bsonjs
  (MongoDB's C converter, raw BSON straight to Relaxed Extended JSON) on the same bytes;
- tap: the installed `tap-mongodb` command, FULL_TABLE and INCREMENTAL, output to
  /dev/null, against a bare pymongo cursor loop (RawBSONDocument, same batch size, same
  sort) run as a process too, and FULL_TABLE also against the loop asking for no order;
- peers: other MongoDB taps, each in a virtualenv of its own installed from the package
  index (cached under the temporary directory), on the same collection;
- incremental: the tap's INCREMENTAL query (probes included) against a plain range
  query on the same key, from a bookmark half way;
- target: the installed `target-mongodb` command against `insert_many` of the same
  documents as raw BSON (append-only), and its upserts against `bulk_write` of
  `ReplaceOne(upsert=True)`;
- rss: the peak resident memory of the tap and the target at N and 10 x N documents.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import typing as t
from pathlib import Path

import bson
import bsonjs
import pymongo
from bson.raw_bson import RawBSONDocument

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.documents import generate  # noqa: E402
from benchmarks.process_memory import peak_rss_mb  # noqa: E402
from tap_mongodb.read_ahead import DEFAULT_BATCH_DOCUMENTS  # noqa: E402
from tests.support.server import SecantusServer  # noqa: E402

BIN = Path(sys.executable).parent
SECTIONS = ("record", "tap", "peers", "incremental", "target", "rss")
RECORD_COUNTS = {"small": 20_000, "medium": 5_000, "large": 200, "nested": 2_000}
PEER_CACHE = Path(tempfile.gettempdir()) / "tap-mongodb-bench-peers"
# package to install, its command, and how it is configured (see _peer_config)
PEERS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("meltanolabs-tap-mongodb", "tap-mongodb", "sdk", ()),
    # its loose singer-sdk requirement resolves to releases without `singer_sdk._singerlib`
    ("z3-tap-mongodb", "tap-mongodb", "z3", ("singer-sdk<0.30",)),
    ("pipelinewise-tap-mongodb", "tap-mongodb", "singer", ()),
    ("tap-mongodb", "tap-mongodb", "singer", ()),
)
E2E_DB = "bench_e2e"
E2E_COLLECTION = "docs"


def _best(runs: int, *actions: t.Callable[[], t.Any], clock: t.Callable[[], float] = time.perf_counter) -> list[float]:
    """Best time of each action over `runs` rounds, the actions alternating within a round."""
    best = [float("inf")] * len(actions)
    for _ in range(runs):
        for index, action in enumerate(actions):
            started = clock()
            action()
            best[index] = min(best[index], clock() - started)
    return best


def _raw(collection: pymongo.collection.Collection) -> pymongo.collection.Collection:
    return collection.with_options(codec_options=collection.codec_options.with_options(document_class=RawBSONDocument))


def _seed(collection: pymongo.collection.Collection, shape: str, count: int, seed: int = 42) -> None:
    collection.drop()
    for start in range(0, count, 1000):
        documents = generate(shape, min(1000, count - start), seed=seed + start)
        for number, document in enumerate(documents, start):
            document["seq"] = number  # unique and ascending across chunks: the INCREMENTAL key
        collection.insert_many(documents)


# -- record path --------------------------------------------------------------------------


def record_lines(stream: t.Any, writer: t.Any, raws: list[bytes]) -> t.Iterator[bytes]:
    """What a sync does with each fetched document, up to the bytes of its RECORD line."""
    options = stream.collection.codec_options
    for raw in raws:
        record = stream._to_record(bson.decode(raw, codec_options=options))
        for message in stream._generate_record_messages(record):
            yield writer.format_message(message)


def record_section(uri: str, quick: bool) -> list[str]:
    from tap_mongodb.tap import TapMongoDB

    client = pymongo.MongoClient(uri)
    lines = [
        "record path: raw BSON -> Singer RECORD line vs python-bsonjs dumps(RELAXED) of the same bytes "
        "(in process, CPU time, best of 5)",
        f"{'shape':8} {'encoding':14} {'docs':>6} {'KB/doc':>7} | "
        f"{'bsonjs doc/s':>12} {'ours doc/s':>11} {'ours/bsonjs':>11}",
    ]
    for shape, full_count in RECORD_COUNTS.items():
        count = full_count // 10 if quick else full_count
        documents = generate(shape, count)
        raws = [bson.encode(document) for document in documents]
        collection = client["bench_record"][shape]
        collection.drop()
        collection.insert_many(documents[:200])
        kilobytes = sum(map(len, raws)) / len(raws) / 1000
        for encoding in ("plain", "extended_json"):
            config = {
                "mongodb_uri": uri,
                "database_includes": ["bench_record"],
                "collection_includes": [shape],
                "schema_sample_size": 200,
                "bson_encoding": encoding,
            }
            tap = TapMongoDB(config=config, setup_mapper=True)
            stream = tap.streams[f"bench_record-{shape}"]
            stream._stream_version = 1
            stream._adopt_record_schema()

            def ours(stream: t.Any = stream, writer: t.Any = tap.message_writer, raws: list[bytes] = raws) -> None:
                for _ in record_lines(stream, writer, raws):
                    pass

            def theirs(raws: list[bytes] = raws) -> None:
                dumps, mode = bsonjs.dumps, bsonjs.RELAXED
                for raw in raws:
                    dumps(raw, mode=mode)

            # CPU time of this process: in-process work, so other users of the machine do not count
            bsonjs_s, ours_s = _best(5, theirs, ours, clock=time.process_time)
            lines.append(
                f"{shape:8} {encoding:14} {count:6} {kilobytes:7.1f} | {count / bsonjs_s:12,.0f} "
                f"{count / ours_s:11,.0f} {ours_s / bsonjs_s:11.2f}"
            )
    client.drop_database("bench_record")
    return lines


# -- tap end to end -----------------------------------------------------------------------

CURSOR_LOOP = """
import sys, pymongo
from bson.raw_bson import RawBSONDocument
uri, database, name, key, batch = sys.argv[1:6]
collection = pymongo.MongoClient(uri, document_class=RawBSONDocument)[database][name]
if key == "$natural":  # the order the server stores them in: no sort asked for
    cursor = collection.find({})
else:
    cursor = collection.find({}, sort=[(key, 1)] if key == "_id" else [(key, 1), ("_id", 1)])
if int(batch):
    cursor = cursor.batch_size(int(batch))
count = 0
for document in cursor:
    count += 1
print(count)
"""


def _run(command: list[str], stdout: t.Any = subprocess.DEVNULL) -> None:
    result = subprocess.run(command, stdout=stdout, stderr=subprocess.PIPE, text=True, check=False)
    if result.returncode:
        msg = f"{command[0]} failed ({result.returncode}): {result.stderr[-2000:]}"
        raise RuntimeError(msg)


def _tap_config(workdir: Path, uri: str, name: str, **settings: t.Any) -> Path:
    config = {
        "mongodb_uri": uri,
        "database_includes": [E2E_DB],
        "collection_includes": [E2E_COLLECTION],
        **settings,
    }
    path = workdir / f"{name}.json"
    path.write_text(json.dumps(config))
    return path


def _discovered_catalog(tap: str, config: Path, workdir: Path) -> Path:
    """What `meltano run` hands the tap: the catalog of a `--discover` run made beforehand."""
    path = workdir / f"catalog-{config.stem}.json"
    with path.open("w") as output:
        _run([tap, "--config", str(config), "--discover"], stdout=output)
    return path


def tap_section(uri: str, workdir: Path, count: int, batch: int) -> list[str]:
    tap = str(BIN / "tap-mongodb")
    batch_setting = {"cursor_batch_size": batch}
    full = _tap_config(workdir, uri, "full", **batch_setting)
    incremental = _tap_config(
        workdir, uri, "incremental", replication_keys={f"{E2E_DB}-{E2E_COLLECTION}": "seq"}, **batch_setting
    )
    full_catalog = _discovered_catalog(tap, full, workdir)
    loop_id = [sys.executable, "-c", CURSOR_LOOP, uri, E2E_DB, E2E_COLLECTION, "_id", str(batch)]
    loop_seq = [sys.executable, "-c", CURSOR_LOOP, uri, E2E_DB, E2E_COLLECTION, "seq", str(batch)]
    loop_natural = [sys.executable, "-c", CURSOR_LOOP, uri, E2E_DB, E2E_COLLECTION, "$natural", str(batch)]
    loop, ours_full, ours_cataloged, natural, loop_key, ours_incremental = _best(
        3,
        lambda: _run(loop_id),
        lambda: _run([tap, "--config", str(full)]),
        lambda: _run([tap, "--config", str(full), "--catalog", str(full_catalog)]),
        lambda: _run(loop_natural),
        lambda: _run(loop_seq),
        lambda: _run([tap, "--config", str(incremental)]),
    )
    shown_batch = f"{batch} documents" if batch else "the server's"
    return [
        f"tap end to end, {count} medium documents, processes, output to /dev/null, batch size {shown_batch}",
        f"  cursor loop (RawBSONDocument, sort _id): {loop:6.2f} s",
        f"  tap-mongodb FULL_TABLE, no catalog:      {ours_full:6.2f} s   ratio {ours_full / loop:.2f}"
        "   (lists collections, infers from its own first reads)",
        f"  tap-mongodb FULL_TABLE, with catalog:    {ours_cataloged:6.2f} s   ratio {ours_cataloged / loop:.2f}"
        "   (as `meltano run` starts it, after its --discover)",
        f"  cursor loop (RawBSONDocument, no sort):  {natural:6.2f} s   the tap with catalog / this: "
        f"{ours_cataloged / natural:.2f}   (the order the server stores them in)",
        f"  cursor loop (sort seq, _id):             {loop_key:6.2f} s",
        f"  tap-mongodb INCREMENTAL (key seq):       {ours_incremental:6.2f} s   "
        f"ratio {ours_incremental / loop_key:.2f}",
    ]


# -- peers --------------------------------------------------------------------------------

PEER_USER = "bench_peer"  # classic Singer taps build their URI from a user and a password


def _peer_executable(package: str, command: str, pins: tuple[str, ...]) -> Path | str:
    """The peer's command in its cached virtualenv, installed on first use; or why not."""
    venv = PEER_CACHE / package
    executable = venv / "bin" / command
    if executable.exists():
        return executable
    PEER_CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", package, *pins], capture_output=True, text=True, check=False
    )
    if result.returncode or not executable.exists():
        lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR")] or ["no command installed"]
        return lines[-1][:100]
    return executable


def _peer_config(style: str, uri: str, workdir: Path, package: str, database: str) -> Path:
    parsed = pymongo.uri_parser.parse_uri(uri)
    host, port = parsed["nodelist"][0]
    if style == "sdk":
        config: dict[str, t.Any] = {"mongodb_connection_string": uri, "database": database}
    elif style == "z3":  # MongoClient keyword arguments under `mongo`
        config = {"mongo": {"host": uri}, "database_includes": [database]}
    else:
        user, password = parsed.get("username"), parsed.get("password")
        auth_database = parsed["options"].get("authsource", "admin")
        if not user:
            # A user of the database itself: singer-io's tap authenticates against `database`
            # whatever `auth_database` says (pipelinewise's follows `auth_database`).
            client = pymongo.MongoClient(uri)
            with contextlib.suppress(pymongo.errors.OperationFailure):
                client[database].command("dropUser", PEER_USER)
            client[database].command("createUser", PEER_USER, pwd=PEER_USER, roles=[{"role": "read", "db": database}])
            user = password = PEER_USER
            auth_database = database
        config = {
            "host": host,
            "port": str(port),
            "user": user,
            "password": password,
            "database": database,
            "auth_database": auth_database,
        }
    path = workdir / f"peer-{package}-{database}.json"
    path.write_text(json.dumps(config))
    return path


def _selected_catalog(executable: Path, config: Path, workdir: Path, package: str) -> Path:
    """A classic Singer tap's discovered catalog with the benchmark's stream selected, FULL_TABLE."""
    result = subprocess.run(
        [str(executable), "--config", str(config), "--discover"], capture_output=True, text=True, check=False
    )
    if result.returncode:
        error = next((line for line in reversed(result.stderr.splitlines()) if "rror" in line), "failed")
        raise RuntimeError(error.strip()[:90])
    catalog = json.loads(result.stdout)
    for stream in catalog["streams"]:
        for entry in stream.get("metadata", []):
            if not entry.get("breadcrumb"):
                entry["metadata"]["selected"] = stream.get("table_name", stream.get("stream")) == E2E_COLLECTION
                entry["metadata"]["replication-method"] = "FULL_TABLE"
    path = workdir / f"catalog-{package}.json"
    path.write_text(json.dumps(catalog))
    return path


def _race(ours: list[str], peer: list[str], count: int) -> tuple[float, float | str]:
    """Ours and the peer alternately, best of two each: seconds, or why the peer failed."""
    best_ours = best_peer = float("inf")
    for _ in range(2):
        started = time.perf_counter()
        _run(ours)
        best_ours = min(best_ours, time.perf_counter() - started)
        started = time.perf_counter()
        result = subprocess.run(peer, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - started
        emitted = sum(1 for line in result.stdout.splitlines() if '"RECORD"' in line)
        if result.returncode or emitted < count:
            error = next((line for line in reversed(result.stderr.splitlines()) if "rror" in line), "failed")
            return best_ours, f"FAILED after {emitted} records ({error.strip()[:90]})"
        best_peer = min(best_peer, elapsed)
    return best_ours, best_peer


def _peer_arguments(uri: str, workdir: Path, *, package: str, style: str, executable: Path, database: str) -> t.Any:
    """The peer's command line for the database, or why it cannot run."""
    config = _peer_config(style, uri, workdir, package, database)
    arguments = [str(executable), "--config", str(config)]
    if style in {"singer", "z3"}:  # nothing selected without a catalog
        try:
            arguments += ["--catalog", str(_selected_catalog(executable, config, workdir, package))]
        except (RuntimeError, json.JSONDecodeError, KeyError) as error:
            return f"discovery failed: {str(error)[:90]}"
    return arguments


def _without_binary(uri: str, count: int) -> str:
    """The same documents without their binary UUID field, which some peers cannot emit."""
    database = f"{E2E_DB}_nobinary"
    client = pymongo.MongoClient(uri)
    target = client[database][E2E_COLLECTION]
    if target.estimated_document_count() != count:
        target.drop()
        source = client[E2E_DB][E2E_COLLECTION]
        batch = []
        for document in source.find(sort=[("_id", 1)]):
            document["customer"].pop("external_id", None)
            batch.append(document)
            if len(batch) == 1000:
                target.insert_many(batch)
                batch = []
        if batch:
            target.insert_many(batch)
    return database


def peers_section(uri: str, workdir: Path, count: int) -> list[str]:
    lines = [
        f"peers, FULL_TABLE of the same {count} medium documents, processes, output counted, "
        "each alternating with ours (best of 2); where a peer is given a discovered catalog, so is ours"
    ]
    for package, command, style, pins in PEERS:
        executable = _peer_executable(package, command, pins)
        if not isinstance(executable, Path):
            lines.append(f"  {package:34} not installable: {executable}")
            continue
        shown = subprocess.run(
            [str(executable.parent / "pip"), "show", package], capture_output=True, text=True, check=False
        ).stdout
        name = f"{package} {next((x.split()[-1] for x in shown.splitlines() if x.startswith('Version')), '?')}"
        for attempt, label in enumerate((name, "  without the binary field")):
            database = _without_binary(uri, count) if attempt else E2E_DB
            arguments = _peer_arguments(
                uri, workdir, package=package, style=style, executable=executable, database=database
            )
            if isinstance(arguments, str):
                lines.append(f"  {label:34} {arguments}")
                break
            tap = str(BIN / "tap-mongodb")
            config = _tap_config(workdir, uri, database, database_includes=[database])
            ours = [tap, "--config", str(config)]
            if "--catalog" in arguments:  # a peer given a discovered catalog: ours too, alike
                ours += ["--catalog", str(_discovered_catalog(tap, config, workdir))]
            ours_seconds, outcome = _race(ours, arguments, count)
            if isinstance(outcome, float):
                lines.append(
                    f"  {label:34} {outcome:6.2f} s, ours {ours_seconds:6.2f} s, ours/peer {ours_seconds / outcome:.2f}"
                )
                break
            lines.append(f"  {label:34} {outcome}")
            if not outcome.startswith("FAILED after 0"):
                break
    client = pymongo.MongoClient(uri)
    for database in (E2E_DB, f"{E2E_DB}_nobinary"):
        with contextlib.suppress(pymongo.errors.OperationFailure):
            client[database].command("dropUser", PEER_USER)
    client.drop_database(f"{E2E_DB}_nobinary")
    return lines


# -- incremental query --------------------------------------------------------------------


def incremental_section(uri: str, count: int) -> list[str]:
    from tap_mongodb.tap import TapMongoDB

    client = pymongo.MongoClient(uri)
    collection = client[E2E_DB][E2E_COLLECTION]
    collection.create_index("seq")
    config = {
        "mongodb_uri": uri,
        "database_includes": [E2E_DB],
        "collection_includes": [E2E_COLLECTION],
        "replication_keys": {f"{E2E_DB}-{E2E_COLLECTION}": "seq"},
        "schema_sample_size": 50,
    }
    stream = TapMongoDB(config=config).streams[f"{E2E_DB}-{E2E_COLLECTION}"]
    bookmark = count // 2
    raw = _raw(collection)
    sort = [("seq", 1), ("_id", 1)]
    found: dict[str, int] = {}

    def ours() -> None:
        query = stream._incremental_query("seq", bookmark)
        found["ours"] = sum(1 for _ in raw.find(query, sort=sort))

    def plain() -> None:
        found["plain"] = sum(1 for _ in raw.find({"seq": {"$gte": bookmark}}, sort=sort))

    plain_s, ours_s = _best(3, plain, ours)
    collection.drop_index("seq_1")
    if found["ours"] != found["plain"]:
        msg = f"the INCREMENTAL query found {found['ours']} documents, the range {found['plain']}"
        raise RuntimeError(msg)
    return [
        f"INCREMENTAL query from a bookmark half way ({found['plain']} of {count} documents), index on the key",
        f"  plain range {{seq: {{$gte: b}}}}: {plain_s:6.2f} s",
        f"  the tap's query (probes included): {ours_s:6.2f} s   ratio {ours_s / plain_s:.2f}",
    ]


# -- target -------------------------------------------------------------------------------


def _singer_file(workdir: Path, uri: str, name: str, count: int) -> Path:
    """The tap's own Extended JSON output for `count` medium documents, as the target reads it."""
    database = f"bench_src_{name}"
    client = pymongo.MongoClient(uri)
    _seed(client[database]["docs"], "medium", count)
    config = workdir / f"src-{name}.json"
    config.write_text(
        json.dumps({"mongodb_uri": uri, "database_includes": [database], "bson_encoding": "extended_json"})
    )
    output = workdir / f"{name}.singer"
    with output.open("w") as handle:
        _run([str(BIN / "tap-mongodb"), "--config", str(config)], stdout=handle)
    client.drop_database(database)
    return output


def _target_config(workdir: Path, uri: str, load_method: str) -> Path:
    path = workdir / f"target-{load_method}.json"
    path.write_text(json.dumps({"mongodb_uri": uri, "database": "bench_dst", "load_method": load_method}))
    return path


def _load(workdir: Path, uri: str, singer: Path, load_method: str, *, fresh: bool = True) -> None:
    if fresh:
        pymongo.MongoClient(uri).drop_database("bench_dst")
    with singer.open() as handle:
        result = subprocess.run(
            [str(BIN / "target-mongodb"), "--config", str(_target_config(workdir, uri, load_method))],
            stdin=handle,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    if result.returncode:
        raise RuntimeError(result.stderr[-2000:])


PYMONGO_WRITER = """
import sys, bson, pymongo
from bson.raw_bson import RawBSONDocument
uri, path, mode = sys.argv[1:4]
data = open(path, "rb").read()
documents = [RawBSONDocument(bson.encode(d)) for d in bson.decode_all(data)]
collection = pymongo.MongoClient(uri)["bench_dst"]["docs"]
if mode == "upsert":
    for start in range(0, len(documents), 1000):
        chunk = documents[start:start + 1000]
        collection.bulk_write([pymongo.ReplaceOne({"_id": d["_id"]}, d, upsert=True) for d in chunk])
else:
    for start in range(0, len(documents), 1000):
        collection.insert_many(documents[start:start + 1000])
"""


def target_section(uri: str, workdir: Path, count: int) -> list[str]:
    singer = _singer_file(workdir, uri, "target", count)
    bson_file = workdir / "target.bson"
    bson_file.write_bytes(b"".join(bson.encode(document) for document in generate("medium", count)))
    client = pymongo.MongoClient(uri)

    def raw_writer(mode: str) -> t.Callable[[], None]:
        def write() -> None:
            client.drop_database("bench_dst")
            _run([sys.executable, "-c", PYMONGO_WRITER, uri, str(bson_file), mode])

        return write

    def ours(load_method: str) -> t.Callable[[], None]:
        return lambda: _load(workdir, uri, singer, load_method)

    inserts, appends = _best(3, raw_writer("insert"), ours("append-only"))
    replaces, upserts = _best(3, raw_writer("upsert"), ours("upsert"))
    client.drop_database("bench_dst")
    return [
        f"target-mongodb, {count} medium records (Extended JSON from the tap), processes; "
        "the pymongo writers in batches of 1000",
        f"  insert_many of the same documents as raw BSON:      {inserts:6.2f} s",
        f"  target-mongodb load_method append-only:             {appends:6.2f} s   ratio {appends / inserts:.2f}",
        f"  bulk_write of ReplaceOne(upsert=True), raw BSON:    {replaces:6.2f} s",
        f"  target-mongodb load_method upsert (default):        {upserts:6.2f} s   ratio {upserts / replaces:.2f}",
    ]


# -- memory -------------------------------------------------------------------------------


def rss_section(uri: str, workdir: Path, small: int) -> list[str]:
    client = pymongo.MongoClient(uri)
    lines = [f"peak RSS (VmHWM of the largest process: the command or a record process), medium documents, N = {small}"]
    tap_mb, target_mb = [], []
    for count in (small, small * 10):
        database = f"bench_rss_{count}"
        _seed(client[database]["docs"], "medium", count)
        config = workdir / f"rss-{count}.json"
        config.write_text(json.dumps({"mongodb_uri": uri, "database_includes": [database]}))
        tap_mb.append(peak_rss_mb([str(BIN / "tap-mongodb"), "--config", str(config)]))
        client.drop_database(database)
        singer = _singer_file(workdir, uri, f"rss{count}", count)
        client.drop_database("bench_dst")
        with singer.open() as handle:
            target_config = _target_config(workdir, uri, "upsert")
            target_mb.append(peak_rss_mb([str(BIN / "target-mongodb"), "--config", str(target_config)], handle))
    client.drop_database("bench_dst")
    for name, (at_n, at_10n) in (("tap-mongodb", tap_mb), ("target-mongodb", target_mb)):
        lines.append(f"  {name:15} {at_n:6.0f} MB at N, {at_10n:6.0f} MB at 10 x N ({(at_10n / at_n - 1) * 100:+.0f}%)")
    return lines


# -- main ---------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, pymongo {pymongo.version}, python-bsonjs {bsonjs.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tenth of the documents")
    parser.add_argument("--no-peers", action="store_true", help="skip the peer taps (no package index needed)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections of {SECTIONS}")
    parser.add_argument("--count", type=int, default=20_000, help="documents for the end-to-end sections")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=DEFAULT_BATCH_DOCUMENTS,
        help=f"cursor batch size of both sides (default {DEFAULT_BATCH_DOCUMENTS}, the tap's; 0: the server's)",
    )
    args = parser.parse_args()
    sections = set(args.only.split(","))
    if args.no_peers:
        sections.discard("peers")
    count = args.count // 10 if args.quick else args.count
    print(machine(), flush=True)
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory(prefix="bench-") as directory:
        workdir = Path(directory)
        uri = os.environ.get("MONGODB_URI") or stack.enter_context(SecantusServer()).uri
        print(f"server: {'MONGODB_URI' if os.environ.get('MONGODB_URI') else 'SecantusDB (tests/support/server.py)'}")
        if "record" in sections:
            print("\n".join(["", *record_section(uri, args.quick)]), flush=True)
        if sections & {"tap", "peers", "incremental"}:
            _seed(pymongo.MongoClient(uri)[E2E_DB][E2E_COLLECTION], "medium", count)
        if "tap" in sections:
            print("\n".join(["", *tap_section(uri, workdir, count, args.batch_size)]), flush=True)
        if "peers" in sections:
            print("\n".join(["", *peers_section(uri, workdir, count)]), flush=True)
        if "incremental" in sections:
            print("\n".join(["", *incremental_section(uri, count)]), flush=True)
        if "target" in sections:
            print("\n".join(["", *target_section(uri, workdir, count // 4)]), flush=True)
        if "rss" in sections:
            print("\n".join(["", *rss_section(uri, workdir, max(count // 10, 200))]), flush=True)
        pymongo.MongoClient(uri).drop_database(E2E_DB)


if __name__ == "__main__":
    main()
