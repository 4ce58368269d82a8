"""Batches of documents converted by forked processes beside the tap's own, results in order.

Why: one Python process converts one document at a time (decode, schema check, encoding, the
JSON line: 100-170 µs for a 1.6 KB document), so wherever the server sends batches faster
than that, the conversion is what a sync waits for, with the other cores idle. The GIL rules
out threads for this work; processes forked once the stream's schema is settled start with
everything the conversion needs (schema, codec, stream maps) already in memory, and pass
only bytes: a raw batch in, its lines (and positions) out.

Each worker takes batches from its own socket pair. A thread in the worker receives them as
they come, so the tap never blocks sending a batch to a worker that is itself blocked sending
a result the tap has not read yet. Batches are dealt to the workers in turn and their results
taken back in the same order, at most `DEPTH` batches a worker at once, which bounds the
memory held for batches in flight.

A worker's failure (an exception converting a batch) is raised in the tap where that batch's
documents would have been read, as the same exception; a worker that dies (killed by the
system) is an error naming its process. Workers never write to the tap's output: their
standard output goes to /dev/null before any conversion runs in them, and they keep no
descriptor of the tap's but their own socket. They write their error messages through a
standard error object of their own, which no thread of the tap's can have left locked.
"""

from __future__ import annotations

import collections
import contextlib
import gc
import io
import logging
import math
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
import typing as t
import warnings
from multiprocessing import Pipe
from pathlib import Path

if t.TYPE_CHECKING:
    from multiprocessing.connection import Connection

DEPTH = 2  # batches in flight per worker: one being converted, one waiting
MAX_PROCESSES = 4
MAX_POOLS_PER_READ = 8  # pools forked for one read (a new one after each schema change)
_EXIT_WAIT_SECONDS = 2.0
_LIVENESS_SECONDS = 1.0  # how often the tap, waiting for a result, checks that its worker lives
_SIGNALS = {signal.SIGINT, signal.SIGTERM}
_STOP = None  # what the receiving thread hands on once it ends
# A worker's receiving thread waits for the GIL after each chunk of a batch it reads from the
# socket (about 200 KB, the socket's buffer); at Python's default of 5 ms a switch, the tap sat
# 0.40-0.46 s in sending 19 batches of 1.6 MB (20,000 medium documents), not writing records
# meanwhile, and 0.16-0.23 s at this interval. The converting thread loses nothing: it is only
# asked to switch while a batch is being received.
_WORKER_SWITCH_SECONDS = 0.0005
_KEPT: list[t.Any] = []  # in a worker: the tap's stdout and stderr objects, never flushed there


class RecordProcessError(RuntimeError):
    """A worker ended without handing back the result of a batch it was given."""


class _Failed:
    """An exception a worker met converting a batch, handed back to be raised in the tap."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def can_fork() -> bool:
    """Fork is safe enough only on Linux (macOS frameworks break in forked children)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def default_count(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use, at most `MAX_PROCESSES`; 0 where that is one, or no fork.

    Both limits count: the CPUs it may run on, and a container's CPU quota (cgroup v2
    `cpu.max`, v1 `cpu.cfs_quota_us`), which a container on a large host often has alone.
    """
    if not can_fork():
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    quota = _cgroup_cpus(cgroup)
    if quota is not None:
        cpus = min(cpus, quota)
    return 0 if cpus < 2 else min(cpus, MAX_PROCESSES)


def _cgroup_cpus(root: Path) -> int | None:
    """Whole CPUs of the process's CPU quota, rounded up; None without one."""
    try:
        fields = (root / "cpu.max").read_text().split()
        quota, period = fields[0], fields[1]
    except (OSError, IndexError):
        try:
            quota = (root / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (root / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    if quota in {"max", "-1"}:
        return None
    try:
        return max(1, math.ceil(int(quota) / int(period)))
    except (ValueError, ZeroDivisionError):
        return None


class _Worker:
    def __init__(self, pid: int, connection: Connection) -> None:
        self.pid = pid
        self.connection = connection
        self.outstanding = 0
        self.exited = False
        self.status = 0  # as os.waitpid reports it, once exited


class RecordProcesses:
    """`count` forked workers applying `convert` to batches; results come back in submission order."""

    def __init__(self, count: int, convert: t.Callable[[bytes], t.Any], name: str) -> None:
        self.name = name
        self.retired = False
        self._order: collections.deque[_Worker] = collections.deque()
        self._workers: list[_Worker] = []
        self._next = 0
        sys.stdout.flush()  # nothing buffered in the tap's stdout object is copied into a child
        sys.stderr.flush()
        try:
            for _ in range(count):
                self._workers.append(self._fork(convert))
        except BaseException:
            self.close()
            raise

    def _fork(self, convert: t.Callable[[bytes], t.Any]) -> _Worker:
        ours, theirs = Pipe(duplex=True)
        # No interrupt reaches the new worker before it has its own handlers: the tap's SIGTERM
        # handler writes STATE to the tap's output.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            with warnings.catch_warnings():  # Python 3.12+ warns of forking with threads: see _serve
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:  # the worker: never returns
                _worker_main(theirs, convert)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        theirs.close()
        return _Worker(pid, ours)

    @property
    def has_room(self) -> bool:
        return not self.retired and self._workers[self._next].outstanding < DEPTH

    @property
    def outstanding(self) -> int:
        return len(self._order)

    def submit(self, batch: bytes) -> None:
        worker = self._workers[self._next]
        self._next = (self._next + 1) % len(self._workers)
        try:
            worker.connection.send_bytes(batch)
        except OSError as error:
            raise self._ended(worker) from error
        worker.outstanding += 1
        self._order.append(worker)

    def take(self) -> t.Any:
        """The result of the oldest batch submitted; its exception raised if it failed."""
        if not self._order:
            msg = f"stream {self.name!r}: no batch is waiting in these record processes (closed?)"
            raise RecordProcessError(msg)
        worker = self._order.popleft()
        try:
            while not worker.connection.poll(_LIVENESS_SECONDS):
                if _has_exited(worker):  # its result will never come
                    raise EOFError
            result = worker.connection.recv()
        except (EOFError, OSError) as error:
            raise self._ended(worker) from error
        worker.outstanding -= 1
        if self.retired and not self._order:
            self.close()
        if isinstance(result, _Failed):
            raise result.error
        return result

    def retire(self) -> None:
        """No new batches; closed once the results of those in flight are taken."""
        self.retired = True
        if not self._order:
            self.close()

    def close(self) -> None:
        """Stop every worker and wait for it: idle ones end on the closed socket, busy ones are killed.

        Closed processes are retired: results not taken are lost, so they can serve no later read.
        """
        self.retired = True
        for worker in self._workers:
            with contextlib.suppress(OSError):
                worker.connection.close()
            if worker.outstanding:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)
        deadline = time.monotonic() + _EXIT_WAIT_SECONDS
        for worker in self._workers:
            _reap(worker, deadline)
        self._workers = [worker for worker in self._workers if not worker.exited]
        self._order.clear()

    def _ended(self, worker: _Worker) -> RecordProcessError:
        _reap(worker, time.monotonic() + _EXIT_WAIT_SECONDS)
        self.close()
        if os.WIFSIGNALED(worker.status):
            how = f"was killed by signal {os.WTERMSIG(worker.status)} (by the system when out of memory?)"
        else:
            how = f"exited with status {os.waitstatus_to_exitcode(worker.status)} (see its error output above)"
        return RecordProcessError(
            f"stream {self.name!r}: the record process {worker.pid} {how} before handing back the batch it was "
            "given; set record_processes to 0 to convert in the tap's own process"
        )


def _has_exited(worker: _Worker) -> bool:
    if worker.exited:
        return True
    try:
        pid, status = os.waitpid(worker.pid, os.WNOHANG)
    except ChildProcessError:  # reaped by someone else
        pid, status = worker.pid, 0
    if pid:
        worker.exited, worker.status = True, status
    return worker.exited


def _reap(worker: _Worker, deadline: float) -> None:
    while not _has_exited(worker):
        if time.monotonic() >= deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGKILL)
            deadline = float("inf")  # a killed process ends: wait for it
        time.sleep(0.005)


def _keep_only_descriptors(connection: int) -> None:
    """In a new worker: standard output to /dev/null, and no descriptor of the tap's but its own socket.

    The tap's output is the Singer stream: nothing of a worker's may reach it, whether written
    to the descriptor or to the stdout object (which a harness may point elsewhere); that
    object is kept, not dropped, since dropping it would flush it here. A copy of any other
    descriptor (the tap's sockets to MongoDB, another worker's socket, an SSH tunnel's) would
    keep its connection open after the tap closed it: a peer would never see it closed.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)
    _KEPT.append(sys.stdout)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False))
    for name in os.listdir("/proc/self/fd"):
        descriptor = int(name)
        if descriptor > 2 and descriptor != connection:  # past stdin, stdout and stderr
            with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
                os.close(descriptor)


def _own_error_output() -> None:
    """In a new worker: a standard error object of its own, on the same descriptor.

    The inherited object may be locked for good: a thread of the tap's that was writing to it
    (a log line) when the tap forked holds its buffer's lock, and that thread exists in the
    tap only (CPython keeps that lock across fork: python/cpython#84579). The worker would
    hang at its first message, and the tap with it, since a live worker is waited for.
    Logging handlers writing to the inherited object write to the new one (their own locks
    are renewed by `logging` at fork).
    """
    inherited = sys.stderr
    try:
        descriptor = io.FileIO(2, "w", closefd=False)
    except OSError:  # the tap runs without standard error: nothing to write to anyway
        return
    _KEPT.append(inherited)
    encoding = getattr(inherited, "encoding", None) or "utf-8"
    own = io.TextIOWrapper(descriptor, encoding=encoding, errors="backslashreplace", line_buffering=True)
    sys.stderr = own
    for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
        for handler in getattr(logger, "handlers", ()):  # placeholders have none
            stream = getattr(handler, "stream", None)
            if stream is inherited or stream is sys.__stderr__:
                with contextlib.suppress(AttributeError):  # a handler whose stream cannot be set
                    handler.stream = own


def _portable(error: BaseException) -> BaseException:
    """The exception itself if the tap can rebuild it from its pickle, else one that says what it was."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:  # any exception class that does not round-trip
        return RecordProcessError(f"{type(error).__name__}: {error}")
    return error


def _worker_main(connection: Connection, convert: t.Callable[[bytes], t.Any]) -> t.NoReturn:
    """A new worker, from its first instruction to its exit, which never returns to the tap's code."""
    status = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the tap handles an interrupt and stops us
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the tap's handler, which writes STATE
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        # Objects copied from the tap are never collected here: a finalizer of the tap's
        # garbage (a client, a cursor) must not run in a worker.
        gc.freeze()
        sys.setswitchinterval(_WORKER_SWITCH_SECONDS)
        _own_error_output()
        _keep_only_descriptors(connection.fileno())
        _serve(connection, convert)
        status = 0
    except BaseException:  # said on stderr; the tap reports the exit status
        traceback.print_exc()
    finally:
        os._exit(status)


def _serve(connection: Connection, convert: t.Callable[[bytes], t.Any]) -> None:
    """A worker's life: convert each batch received, send back its result, until told to stop.

    It runs only its own code and the conversion's (pure Python, bson, orjson): no lock the
    tap's other threads may have held when it was forked (the driver's, logging's) is taken.
    """
    batches: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()

    def receive() -> None:
        try:
            while True:
                batches.put(connection.recv_bytes())
        except (EOFError, OSError):  # the tap closed the socket
            pass
        finally:  # whatever ended it (the tap, or no memory for a batch), the worker ends too
            batches.put(_STOP)

    threading.Thread(target=receive, name="record-process-input", daemon=True).start()
    while (batch := batches.get()) is not _STOP:
        try:
            result = convert(batch)
        except BaseException as error:  # handed back to be raised where the tap reads the batch
            result = _Failed(_portable(error))
        del batch
        try:
            connection.send(result)
        except (OSError, ValueError):  # the tap closed the socket: it needs no more
            return
        except Exception as error:  # a result that does not pickle
            connection.send(_Failed(RecordProcessError(f"a converted batch could not be handed back: {error!r}")))
