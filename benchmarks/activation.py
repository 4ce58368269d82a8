"""The daily cron case: a second FULL_TABLE sync into a destination that already holds the data.

    .venv/bin/python benchmarks/activation.py              # N = 2,000 and 20,000 documents
    .venv/bin/python benchmarks/activation.py --n 500      # a quick look

On a fresh SecantusServer, the `target-mongodb` command loads N small documents as one
FULL_TABLE sync (version 1, then ACTIVATE_VERSION), then a second sync (version 2) without
every tenth document, whose ACTIVATE_VERSION removes them. Prints both times and their
ratio at N and 10 x N. Linear activation keeps the ratio about the same at both sizes; a
quadratic one makes it grow with N. Times are wall clock on a possibly busy machine: compare
ratios, best of `--runs`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pymongo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.server import SecantusServer

STREAM = "shop-orders"
SCHEMA = {
    "type": "SCHEMA",
    "stream": STREAM,
    "schema": {
        "type": "object",
        "properties": {
            "_id": {"type": "integer"},
            "name": {"type": "string"},
            "city": {"type": "string"},
            "at": {"type": "string", "format": "date-time"},
        },
    },
    "key_properties": ["_id"],
}


def singer_input(version: int, ids: range | list[int]) -> str:
    lines = [json.dumps(SCHEMA)]
    lines += [
        json.dumps(
            {
                "type": "RECORD",
                "stream": STREAM,
                "version": version,
                "record": {"_id": i, "name": f"order {i}", "city": "Lyon", "at": "2024-05-01T10:00:00.000Z"},
            }
        )
        for i in ids
    ]
    lines.append(json.dumps({"type": "ACTIVATE_VERSION", "stream": STREAM, "version": version}))
    return "\n".join(lines) + "\n"


def load(command: str, config: Path, text: str) -> float:
    started = time.perf_counter()
    done = subprocess.run([command, "--config", str(config)], input=text.encode(), capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(done.stderr.decode(errors="replace")[-4000:])
    return elapsed


def measure(uri: str, command: str, work: Path, count: int, database: str) -> tuple[float, float]:
    config = work / f"{database}.json"
    config.write_text(json.dumps({"mongodb_uri": uri, "database": database}))
    first = load(command, config, singer_input(1, range(count)))
    second = load(command, config, singer_input(2, [i for i in range(count) if i % 10]))
    left = pymongo.MongoClient(uri)[database][STREAM].count_documents({})
    if left != count - count // 10:
        msg = f"{left} documents left after the second sync of {count}, expected {count - count // 10}"
        raise SystemExit(msg)
    return first, second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2_000, help="documents of the smaller run (the larger is 10x)")
    parser.add_argument("--runs", type=int, default=1, help="runs per size; the best ratio is printed")
    args = parser.parse_args()
    command = str(Path(sys.executable).with_name("target-mongodb"))
    print(f"{'documents':>10} {'first load s':>13} {'second load s':>14} {'second/first':>13}")
    with tempfile.TemporaryDirectory() as directory, SecantusServer() as server:
        for count in (args.n, 10 * args.n):
            best: tuple[float, float] | None = None
            for run in range(args.runs):
                first, second = measure(server.uri, command, Path(directory), count, f"bench_{count}_{run}")
                if best is None or second / first < best[1] / best[0]:
                    best = (first, second)
            assert best is not None
            print(f"{count:>10,} {best[0]:>13.1f} {best[1]:>14.1f} {best[1] / best[0]:>13.2f}")


if __name__ == "__main__":
    main()
