"""What checking every document against the declared schema costs, on a corpus without drift.

Prints, for each document shape and encoding, the tap's record path with the schema check
and without it, and the ratio (issue 14: at most 1.10). The path is the one streams.py runs:
raw batches as a `find_raw_batches` cursor hands them over, `bson.decode_iter` with the
tap's codec options (read_ahead.py), then the codec alone (unchecked) or
`DriftGuard.admit_encoded` (checked: the check and the codec in one walk), the SDK's RECORD message
(version and extraction time) and the tap's orjson writer. CPU time of this process (other
users of the machine do not count); the two variants alternate round by round, so a change
in the machine's load reaches both; best of several rounds. Never a timed test.

    .venv/bin/python -m benchmarks.schema_conformance
"""

from __future__ import annotations

import random
import time
import typing as t

import bson
from bson.codec_options import CodecOptions, DatetimeConversion
from singer_sdk.helpers._util import utc_now
from singer_sdk.singerlib import RecordMessage

from benchmarks.documents import large, medium, nested, small
from mongodb_common.bson_codec import get_encoder
from tap_mongodb.schema_drift import SPLIT, WIDEN, DriftGuard
from tap_mongodb.schema_inference import ValueObserver, infer_schema
from tap_mongodb.schema_tree import parse
from tap_mongodb.singer_writer import serialize

CODEC = CodecOptions(tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
ROUNDS = 7
BATCH_BYTES = 16 * 1024 * 1024  # the server's limit for one reply
SHAPES = (("small", small, 20_000), ("medium", medium, 5_000), ("large", large, 300), ("nested", nested, 2_000))


def _batches(make: t.Callable[[random.Random, int], dict], count: int) -> list[bytes]:
    """The corpus as raw batches: concatenated documents, as a raw-batch cursor returns them."""
    rng = random.Random(7)
    batches: list[bytes] = []
    current = bytearray()
    for n in range(count):
        data = bson.encode(make(rng, n))
        if current and len(current) + len(data) > BATCH_BYTES:
            batches.append(bytes(current))
            current = bytearray()
        current += data
    batches.append(bytes(current))
    return batches


def _record_path(batches: list[bytes], encoding: str, guard: DriftGuard | None) -> float:
    encode = get_encoder(encoding)
    decode_iter = bson.decode_iter
    started = time.process_time()
    for batch in batches:
        for document in decode_iter(batch, CODEC):
            record = encode(document) if guard is None else guard.admit_encoded(document)[0]
            message = RecordMessage(stream="bench-docs", record=record, version=1, time_extracted=utc_now())
            serialize(message.to_dict())
    return time.process_time() - started


def main() -> None:
    print(f"{'shape':<8}{'encoding':<15}{'docs':>6}{'unchecked µs':>14}{'checked µs':>12}{'ratio':>8}")
    for name, make, count in SHAPES:
        batches = _batches(make, count)
        for encoding in ("plain", "extended_json"):
            sample = [document for batch in batches for document in bson.decode_iter(batch, CODEC)][:1000]
            policy = SPLIT if encoding == "plain" else WIDEN
            guard = DriftGuard("bench", parse(infer_schema(sample, encoding)), ValueObserver(encoding), policy)
            for batch in batches:  # settle the remembered verdicts, as the first records of a run do
                for document in bson.decode_iter(batch, CODEC):
                    guard.admit(document)
            unchecked = checked = float("inf")
            for _ in range(ROUNDS):
                unchecked = min(unchecked, _record_path(batches, encoding, None))
                checked = min(checked, _record_path(batches, encoding, guard))
            print(
                f"{name:<8}{encoding:<15}{count:>6}{unchecked / count * 1e6:>14.1f}"
                f"{checked / count * 1e6:>12.1f}{checked / unchecked:>8.3f}"
            )


if __name__ == "__main__":
    main()
