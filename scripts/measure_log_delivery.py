"""Measures what LOG_BASED delivers on a live, busy server (issue 15's scenario), both log methods.

A quiet followed database `shop` and a busy database nobody follows (a writer inserting
without pause). Then: an initial sync; N short runs, with changes (inserts, updates,
replaces, deletes) made before each run and while it reads, each run's state feeding the
next; a final run; a continuous run with a concurrent writer of inserts. Prints changes
delivered against expected and how the copy (target-mongodb) differs from the source.

    .venv/bin/python scripts/measure_log_delivery.py [RUNS]
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import typing as t
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.deployment import Deployment  # noqa: E402
from tests.support.server import SecantusServer  # noqa: E402
from tests.support.singer_io import discover, records, run_tap, run_target, select_streams  # noqa: E402


class Busy:
    def __init__(self, deployment: Deployment) -> None:
        self.events = deployment.database("busy").events
        self.written = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            self.events.insert_many([{"n": self.written + i} for i in range(50)])
            self.written += 50


def measure(uri: str, log_method: str, runs: int) -> None:  # noqa: PLR0915 - one scenario, read top to bottom
    deployment = Deployment(uri)
    orders = deployment.database("shop").orders
    orders.insert_many([{"_id": i, "v": 0} for i in range(100)])
    stream = f"{deployment.prefix}shop-orders"
    tap = deployment.config(
        database_includes=[deployment.db_name("shop")], bson_encoding="extended_json", log_method=log_method
    )
    target = deployment.config(
        database=deployment.db_name("dst"), collection_naming="strip_database_prefix", max_state_age_seconds=0
    )
    catalog = select_streams(discover(tap), [stream], replication_method="LOG_BASED")
    state: dict[str, t.Any] = {}

    def run(**overrides: t.Any) -> list[dict[str, t.Any]]:
        nonlocal state
        messages = run_tap({**tap, **overrides}, catalog=catalog, state=state or None)
        confirmed: list[dict[str, t.Any]] = []
        run_target(target, messages, states_out=confirmed)
        state = confirmed[-1] if confirmed else state
        return messages

    run()
    busy = Busy(deployment)
    busy.thread.start()
    made = {"n": 1000}

    def changes(count: int) -> None:
        for _ in range(count):
            n = made["n"] = made["n"] + 1
            orders.insert_one({"_id": n, "v": 0})
            orders.update_one({"_id": n % 100}, {"$inc": {"v": 1}})
            if n % 3 == 0:
                orders.replace_one({"_id": (n + 7) % 100}, {"v": -n})
            if n % 5 == 0:
                orders.delete_one({"_id": n - 4})

    started = time.monotonic()
    delivered_before_writes = 0
    for _ in range(runs):
        changes(4)
        during = threading.Thread(target=changes, args=(4,))
        during.start()
        delivered_before_writes += len(records(run(), stream))
        during.join()
    final = len(records(run(), stream))
    source = {d["_id"]: d for d in orders.find()}
    copied = {d["_id"]: d for d in deployment.database("dst").orders.find()}
    missing = len(source.keys() - copied.keys())
    extra = len(copied.keys() - source.keys())
    stale = sum(1 for key in source.keys() & copied.keys() if source[key] != copied[key])
    print(
        f"{log_method}: {runs} runs + 1 while {busy.written} unfollowed writes went on: "
        f"{delivered_before_writes + final} records; copy vs source: {missing} missing, {extra} extra, {stale} stale "
        f"({time.monotonic() - started:.0f} s)"
    )

    inserted = []

    def writer() -> None:
        for n in range(219):
            orders.insert_one({"_id": 50_000 + n, "v": 0})
            inserted.append(50_000 + n)

    thread = threading.Thread(target=writer)
    thread.start()
    continuous = records(run(continuous=True, max_run_seconds=10), stream)
    thread.join()
    rest = records(run(), stream)
    got = [r["_id"] for r in continuous + rest if isinstance(r["_id"], int) and r["_id"] >= 50_000]
    print(
        f"{log_method}: continuous run with a concurrent writer: {len(set(got))} of {len(inserted)} inserts "
        f"({len([g for g in got if g >= 0]) - len(set(got))} duplicates; {len(continuous)} in the continuous run)"
    )
    busy.stop.set()
    busy.thread.join()
    deployment.cleanup()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as directory, SecantusServer(storage=Path(directory) / "data") as server:
        for log_method in ("change_streams", "oplog"):
            measure(server.uri, log_method, runs)


if __name__ == "__main__":
    main()
