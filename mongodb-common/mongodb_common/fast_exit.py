"""A command that succeeded ends without the interpreter's teardown of its modules.

The Singer SDK imports numpy, joblib, fsspec, requests and more; tearing those modules down
at exit took 0.2-0.6 s of a 7 s tap run over 20,000 documents (benchmarks/run.py, "tap end
to end"), about as long as the sync's own lead over a bare cursor loop. Everything a run
promises is done before: its output written and flushed, its clients closed, its threads
ended, the exit functions registered with `atexit` run (logging's flush among them). What
teardown would still do, freeing memory and closing descriptors, the operating system does
for a process that exits. A run that failed exits the ordinary way, whatever it costs.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading


def exit_succeeded() -> None:
    """Exit 0 now, once every exit function has run and standard output is flushed.

    Returns (and the caller exits the ordinary way) if standard output cannot be flushed,
    since that failure must still reach the exit status, and under a profiler or a tracer.
    """
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return  # under a profiler or coverage, which write their results after the command returns
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        return
    run_exit_functions = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_functions is None:  # not CPython: keep the ordinary exit
        return
    for thread in threading.enumerate():  # as the interpreter would: non-daemon threads finish first
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    run_exit_functions()
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.flush()
    os._exit(0)
