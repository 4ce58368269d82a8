"""Peak RSS of the `target-mongodb` process loading large documents, and of `tap-mongodb` reading them back.

    .venv/bin/python benchmarks/target_memory.py                   # the default sizes below
    .venv/bin/python benchmarks/target_memory.py --sizes 0.9x300   # MB x count, repeatable
    .venv/bin/python benchmarks/target_memory.py --batch-size-bytes 16000000

For each size, writes a Singer file of `count` Extended JSON records of about that many MB of
BSON each (half a text body, half a history array of small subdocuments, the expensive
shape in Python), loads it with the target command into a fresh SecantusServer, and prints
the target process's peak resident memory (VmHWM, see process_memory.py: its own, not this
process's), then syncs the loaded collection with the tap command, without a catalog
(output discarded), and prints its peak too. No time is measured.
"""

from __future__ import annotations

import argparse
import datetime
import json
import random
import sys
import tempfile
from pathlib import Path

import bson
from bson import Int64, ObjectId

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.process_memory import peak_rss_mb
from mongodb_common.bson_codec import encode_extended_json
from tests.support.server import SecantusServer

STREAM = "shop-archive"
DEFAULT_SIZES = ("0.9x300", "8.8x12", "15.5x6")
UTC = datetime.timezone.utc
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
_EVENT_BYTES = 83  # BSON size of one history entry below, in its array
_WORD_BYTES = 6.3  # average length of a body word and its space


def large_document(rng: random.Random, number: int, megabytes: float) -> dict:
    target = int(megabytes * 1_000_000)
    events = target // 2 // _EVENT_BYTES
    body_words = int((target - events * _EVENT_BYTES) / _WORD_BYTES)
    document = {
        "_id": number,
        "body": " ".join(rng.choice(WORDS) for _ in range(body_words)),
        "history": [
            {
                "at": datetime.datetime(2024, 1, 1, tzinfo=UTC) + datetime.timedelta(seconds=i),
                "event": rng.choice(WORDS),
                "value": rng.random(),
                "count": Int64(i),
                "by": ObjectId(),
            }
            for i in range(events)
        ],
    }
    size = len(bson.encode(document))
    if size > 16 * 1024 * 1024 - 1024:
        msg = f"a {megabytes} MB document came out at {size:,} bytes, over MongoDB's limit"
        raise SystemExit(msg)
    return document


def write_singer_file(path: Path, megabytes: float, count: int) -> int:
    """Returns the BSON size of the first document."""
    rng = random.Random(7)
    schema = {
        "type": "object",
        "properties": {"_id": {"type": "integer"}, "body": {"type": "string"}, "history": {"type": "array"}},
    }
    first_size = 0
    with path.open("w", encoding="utf-8") as output:
        output.write(json.dumps({"type": "SCHEMA", "stream": STREAM, "schema": schema, "key_properties": ["_id"]}))
        output.write("\n")
        for number in range(count):
            document = large_document(rng, number, megabytes)
            first_size = first_size or len(bson.encode(document))
            record = {"type": "RECORD", "stream": STREAM, "record": encode_extended_json(document)}
            output.write(json.dumps(record, separators=(",", ":")))
            output.write("\n")
        output.write(json.dumps({"type": "STATE", "value": {"loaded": count}}))
        output.write("\n")
    return first_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", action="append", help="MBxCOUNT, e.g. 0.9x300 (repeatable)")
    parser.add_argument("--batch-size-bytes", type=int, help="target setting (default: the target's default)")
    args = parser.parse_args()
    target = str(Path(sys.executable).with_name("target-mongodb"))
    tap = str(Path(sys.executable).with_name("tap-mongodb"))
    print(f"{'document MB':>11} {'count':>6} {'input MB':>9} {'target peak RSS MB':>19} {'tap peak RSS MB':>16}")
    with tempfile.TemporaryDirectory() as directory, SecantusServer() as server:
        for number, spec in enumerate(args.sizes or DEFAULT_SIZES):
            megabytes, count = float(spec.split("x")[0]), int(spec.split("x")[1])
            singer_file = Path(directory) / f"input-{number}.singer"
            size = write_singer_file(singer_file, megabytes, count)
            settings: dict = {"mongodb_uri": server.uri, "database": f"memory_{number}"}
            if args.batch_size_bytes:
                settings["batch_size_bytes"] = args.batch_size_bytes
            config = Path(directory) / f"config-{number}.json"
            config.write_text(json.dumps(settings))
            with singer_file.open("rb") as records:
                target_rss = peak_rss_mb([target, "--config", str(config)], records)
            # The tap reading back what the target wrote: the same documents, from the server.
            tap_config = Path(directory) / f"tap-{number}.json"
            tap_config.write_text(json.dumps({"mongodb_uri": server.uri, "database_includes": [f"memory_{number}"]}))
            tap_rss = peak_rss_mb([tap, "--config", str(tap_config)])
            input_mb = singer_file.stat().st_size / 1e6
            print(f"{size / 1e6:>11.1f} {count:>6} {input_mb:>9.0f} {target_rss:>19.0f} {tap_rss:>16.0f}")
            singer_file.unlink()


if __name__ == "__main__":
    main()
