"""Record processes: results in submission order, failures raised in the tap, no process left behind."""

from __future__ import annotations

import io
import logging
import os
import signal
import socket
import sys
import threading
import time
import typing as t
from pathlib import Path

import pytest

from tap_mongodb import record_processes
from tap_mongodb.record_processes import RecordProcessError, RecordProcesses

pytestmark = pytest.mark.skipif(not record_processes.can_fork(), reason="record processes fork: Linux only")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _pids(processes: RecordProcesses) -> list[int]:
    return [worker.pid for worker in processes._workers]


def _tagged(batch: bytes) -> tuple[int, bytes]:
    return os.getpid(), batch.upper()


def _run_all(processes: RecordProcesses, batches: list[bytes]) -> list[t.Any]:
    """As read_ahead feeds them: submit while there is room, else take the oldest."""
    results: list[t.Any] = []
    pending = list(batches)
    while pending or processes.outstanding:
        if pending and processes.has_room:
            processes.submit(pending.pop(0))
        else:
            results.append(processes.take())
    return results


def test_results_come_back_in_submission_order_from_every_worker() -> None:
    processes = RecordProcesses(3, _tagged, "db-things")
    batches = [f"batch {n}".encode() for n in range(25)]
    try:
        results = _run_all(processes, batches)
        workers = set(_pids(processes))
    finally:
        processes.close()
    assert [converted for _, converted in results] == [batch.upper() for batch in batches]
    assert {pid for pid, _ in results} == workers
    assert len(workers) == 3
    assert os.getpid() not in workers


def test_at_most_two_batches_wait_for_each_worker() -> None:
    processes = RecordProcesses(2, _tagged, "db-things")
    try:
        submitted = 0
        while processes.has_room:
            processes.submit(b"x")
            submitted += 1
        assert submitted == 2 * record_processes.DEPTH
        processes.take()
        assert processes.has_room  # the worker whose batch was taken has room again
    finally:
        processes.close()


class _BatchError(ValueError):
    pass


def _failing_on_three(batch: bytes) -> bytes:
    if batch == b"3":
        msg = "cannot convert batch 3"
        raise _BatchError(msg)
    return batch


def test_a_conversion_error_is_raised_in_the_tap_at_its_batch_as_the_same_exception() -> None:
    processes = RecordProcesses(2, _failing_on_three, "db-things")
    try:
        for n in range(5):
            processes.submit(str(n).encode())
        assert [processes.take() for _ in range(3)] == [b"0", b"1", b"2"]
        with pytest.raises(_BatchError, match="cannot convert batch 3"):
            processes.take()
        assert processes.take() == b"4"  # the worker lives on: the tap decides to stop
    finally:
        processes.close()


class _UnpicklableError(Exception):
    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} and {second}")


def _raising_unpicklable(batch: bytes) -> bytes:
    raise _UnpicklableError("one", "two")


def test_an_exception_that_cannot_cross_processes_still_says_what_it_was() -> None:
    processes = RecordProcesses(1, _raising_unpicklable, "db-things")
    try:
        processes.submit(b"x")
        with pytest.raises(RecordProcessError, match="_UnpicklableError: one and two"):
            processes.take()
    finally:
        processes.close()


def _dying(batch: bytes) -> bytes:
    if batch == b"die":
        os.kill(os.getpid(), signal.SIGKILL)
    return batch


def test_a_worker_killed_by_the_system_is_an_error_naming_the_stream_and_the_signal() -> None:
    processes = RecordProcesses(1, _dying, "db-things")
    pid = _pids(processes)[0]
    processes.submit(b"fine")
    processes.submit(b"die")
    assert processes.take() == b"fine"
    with pytest.raises(RecordProcessError) as raised:
        processes.take()
    message = str(raised.value)
    assert "stream 'db-things'" in message
    assert f"record process {pid}" in message
    assert f"killed by signal {signal.SIGKILL.value}" in message
    assert "record_processes to 0" in message
    assert _gone(pid)


def _slow(batch: bytes) -> bytes:
    time.sleep(60)
    return batch


def test_closing_stops_busy_and_idle_workers_and_reaps_them() -> None:
    busy = RecordProcesses(1, _slow, "db-busy")
    idle = RecordProcesses(2, _tagged, "db-idle")
    pids = _pids(busy) + _pids(idle)
    busy.submit(b"x")
    busy.close()
    idle.close()
    assert all(_gone(pid) for pid in pids)  # reaped: not even zombies are left
    assert busy.retired
    assert not busy.has_room


def test_an_idle_worker_ends_on_its_closed_socket_even_with_later_workers_alive() -> None:
    """A worker forked later must not hold a copy of an earlier worker's socket, or that one
    would never see its socket close and would have to be killed."""
    first = RecordProcesses(1, _tagged, "db-first")
    later = RecordProcesses(1, _tagged, "db-later")
    try:
        (worker,) = first._workers
        first.close()
        assert worker.exited
        assert os.WIFEXITED(worker.status)
        assert os.waitstatus_to_exitcode(worker.status) == 0
    finally:
        later.close()


def test_workers_hold_no_copy_of_the_taps_connections() -> None:
    """A connection the tap closes is closed for its peer too (a server, a proxy, a tunnel),
    whatever workers exist: a copy of its descriptor in a worker would keep it open."""
    tap_side, peer_side = socket.socketpair()
    processes = RecordProcesses(2, _tagged, "db-things")
    try:
        tap_side.close()
        peer_side.settimeout(30)
        assert peer_side.recv(1) == b""  # end of stream, not a timeout
    finally:
        processes.close()
        peer_side.close()


def test_retired_processes_finish_their_batches_then_end() -> None:
    processes = RecordProcesses(2, _tagged, "db-things")
    pids = _pids(processes)
    processes.submit(b"a")
    processes.submit(b"b")
    processes.retire()
    assert not processes.has_room
    assert processes.take()[1] == b"A"
    assert not any(_gone(pid) for pid in pids)
    assert processes.take()[1] == b"B"
    assert all(_gone(pid) for pid in pids)
    with pytest.raises(RecordProcessError, match="no batch is waiting"):
        processes.take()


def _printing(batch: bytes) -> bytes:
    print("a line a worker must not write to the Singer stream")
    sys.stdout.flush()
    os.write(1, b"nor this\n")
    return batch


def test_workers_never_write_to_the_taps_output(capfd: pytest.CaptureFixture[str]) -> None:
    processes = RecordProcesses(1, _printing, "db-things")
    try:
        processes.submit(b"x")
        assert processes.take() == b"x"
    finally:
        processes.close()
    out = capfd.readouterr().out
    assert "must not write" not in out
    assert "nor this" not in out


class _LockedInChildren(io.TextIOBase):
    """Standard error as a fork may leave it: its lock held by a thread of the parent's that the
    child does not have, so any write or flush in the child waits forever."""

    def __init__(self) -> None:
        self._parent = os.getpid()
        self._held = threading.Lock()
        self._held.acquire()

    def write(self, text: str) -> int:
        if os.getpid() != self._parent:
            self._held.acquire()
        return len(text)

    def flush(self) -> None:
        if os.getpid() != self._parent:
            self._held.acquire()


def _failing_serve(*_args: t.Any) -> None:
    logging.getLogger("tap_mongodb.test_worker").warning("a worker's warning")
    msg = "the worker failed outside any conversion"
    raise RuntimeError(msg)


def test_a_worker_reports_its_failure_even_if_it_inherited_a_locked_error_output(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    locked = _LockedInChildren()
    handler = logging.StreamHandler(locked)
    logger = logging.getLogger("tap_mongodb.test_worker")
    logger.addHandler(handler)
    monkeypatch.setattr(sys, "stderr", locked)
    monkeypatch.setattr(record_processes, "_serve", _failing_serve)
    try:
        processes = RecordProcesses(1, _tagged, "db-things")
    finally:
        logger.removeHandler(handler)
    worker = processes._workers[0]
    deadline = time.monotonic() + 60  # it ends at once; a worker stuck on the lock never does
    while not record_processes._has_exited(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    exited = worker.exited
    processes.close()
    assert exited
    assert os.waitstatus_to_exitcode(worker.status) == 1
    err = capfd.readouterr().err
    assert "a worker's warning" in err
    assert "RuntimeError: the worker failed outside any conversion" in err


@pytest.mark.parametrize(
    ("cpus", "expected"),
    [({0}, 0), ({0, 1}, 2), ({0, 1, 2}, 3), (set(range(64)), record_processes.MAX_PROCESSES)],
)
def test_the_default_count_follows_the_cpus_the_tap_may_use(
    monkeypatch: pytest.MonkeyPatch, cpus: set[int], expected: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: cpus)
    assert record_processes.default_count(Path("/nonexistent")) == expected


def test_no_record_processes_where_fork_is_unsafe(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(8)))
    assert record_processes.default_count() == 0


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs of quota: two processes
        ({"cpu.max": "100000 100000\n"}, 0),  # one CPU: none
        ({"cpu.max": "max 100000\n"}, 4),  # no quota: the affinity decides
        ({"cpu/cpu.cfs_quota_us": "300000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 3),  # cgroup v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4),
        ({}, 4),  # no cgroup files
    ],
)
def test_the_default_count_follows_a_containers_cpu_quota(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, files: dict[str, str], expected: int
) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(16)))
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert record_processes.default_count(tmp_path) == expected
