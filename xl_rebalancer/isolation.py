"""The trade program solved in a worker process, so a crash in native code is a message.

HiGHS is C++; a household that drives it into a segmentation fault would kill the
process that asked (no message, no Log, the user's terminal or Excel left guessing).
The command line therefore hands each program (engine.program.search.Program: plain arrays) to
one worker process started with `spawn` when the run begins, so its start-up (importing
numpy, scipy and highspy, about 0.3 s) overlaps the reading of the workbook and prices.
A worker that dies becomes SolverCrashed for this run only: nothing is written, the
workbook is unchanged, and the message says so. `batch` does not use it: each of its
workers is already a process of its own, and a dead one marks only its workbook.

XL_REBALANCER_SOLVER=inprocess solves in the calling process (no worker); the tests'
fault injection XL_REBALANCER_CRASH_SOLVER=1 makes the worker die the way a native crash
does (SIGSEGV), to prove the message.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .errors import XlRebalancerError


class SolverCrashed(XlRebalancerError):
    """The native solver died on this household; nothing was written."""


def _follow_parent() -> None:
    """End the worker when the run that started it ends, however it ends: a run killed
    from outside (SIGKILL, Task Manager) must not leave a solver process behind, holding
    the terminal's pipes open."""
    import threading

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="xlrb-parent-watch").start()


def _warm() -> None:
    import highspy  # noqa: F401
    import numpy  # noqa: F401


def _solve(program: Any) -> Any:
    if os.environ.get("XL_REBALANCER_CRASH_SOLVER") == "1":
        import ctypes

        ctypes.string_at(0)  # a read at address 0: SIGSEGV, as a native crash
    from .engine.program.search import solve_program

    return solve_program(program)


@contextlib.contextmanager
def isolated_solver() -> Iterator[None]:
    """Solve every trade program of the block in one worker process."""
    if os.environ.get("XL_REBALANCER_SOLVER", "").lower() == "inprocess":
        yield
        return
    from .engine.program import search

    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_follow_parent,
    )
    warming = pool.submit(_warm)  # imports while the workbook is read

    def run(program: search.Program) -> Any:
        try:
            warming.result()
            return pool.submit(_solve, program).result()
        except BrokenProcessPool as exc:
            raise SolverCrashed(
                "the optimizer (HiGHS) crashed while solving this household's trades; "
                "nothing was written and the workbook is unchanged. Check for extreme "
                "prices, shares or cash (`xl-rebalancer validate` names values out of range); "
                "if there are none, please report the workbook"
            ) from exc

    previous = search.set_runner(run)
    try:
        yield
    finally:
        search.set_runner(previous)
        # Wait for the worker to leave (it is idle, or finishing its imports): left to
        # the interpreter's exit, concurrent.futures may write to its closed wake-up
        # pipe and print "Exception ignored ... Bad file descriptor" (CPython 3.11).
        pool.shutdown(wait=True, cancel_futures=True)
