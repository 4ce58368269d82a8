"""What checking every document against the declared schema costs, on a corpus without drift.

Prints, for each document shape and encoding, the tap's record path (raw BSON in, Singer
RECORD line out) with the schema check and without it, measured side by side in one run,
and the ratio (issue: at most 1.10). Best of several rounds; never a timed test.

    .venv/bin/python -m benchmarks.schema_conformance
"""

from __future__ import annotations

import random
import time
import typing as t

import bson
from bson.codec_options import CodecOptions, DatetimeConversion

from benchmarks.documents import large, medium, small
from mongodb_common.bson_codec import get_encoder
from tap_mongodb.schema_drift import SPLIT, WIDEN, DriftGuard
from tap_mongodb.schema_inference import ValueObserver, infer_schema
from tap_mongodb.schema_tree import parse
from tap_mongodb.singer_writer import serialize

CODEC = CodecOptions(tz_aware=True, datetime_conversion=DatetimeConversion.DATETIME_AUTO)
ROUNDS = 5


def _corpus(make: t.Callable[[random.Random, int], dict], count: int) -> list[bytes]:
    rng = random.Random(7)
    return [bson.encode(make(rng, n)) for n in range(count)]


def _record_path(raw: list[bytes], encoding: str, guard: DriftGuard | None) -> float:
    encode = get_encoder(encoding)
    decode = bson.decode
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for data in raw:
            document = decode(data, codec_options=CODEC)
            if guard is not None:
                document, _ = guard.admit(document)
            serialize({"type": "RECORD", "stream": "bench-docs", "record": encode(document)})
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    print(f"{'shape':<8}{'encoding':<15}{'docs':>6}{'unchecked µs':>14}{'checked µs':>12}{'ratio':>8}")
    for name, make, count in (("small", small, 20_000), ("medium", medium, 5_000), ("large", large, 300)):
        raw = _corpus(make, count)
        for encoding in ("plain", "extended_json"):
            sample = [bson.decode(data, codec_options=CODEC) for data in raw[:1000]]
            policy = SPLIT if encoding == "plain" else WIDEN
            guard = DriftGuard("bench", parse(infer_schema(sample, encoding)), ValueObserver(encoding), policy)
            for data in raw:  # settle the remembered verdicts, as the first records of a run do
                guard.admit(bson.decode(data, codec_options=CODEC))
            unchecked = _record_path(raw, encoding, None)
            checked = _record_path(raw, encoding, guard)
            print(
                f"{name:<8}{encoding:<15}{count:>6}{unchecked / count * 1e6:>14.1f}"
                f"{checked / count * 1e6:>12.1f}{checked / unchecked:>8.3f}"
            )


if __name__ == "__main__":
    main()
