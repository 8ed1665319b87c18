"""Third-party libraries keep quiet unless the user asks (`--verbose` or `--debug`).

Why a module of its own: HiGHS prints a banner from C whenever a solver object is made
(highspy 1.16 does it before any option can be set), yfinance logs a line per symbol
when Yahoo cannot be reached, and pandas and others raise deprecation warnings. All of
that reaches the terminal past our own output, and `--json` promises that standard
output holds one JSON document and nothing else. Every door calls `configure()` once;
batch workers inherit the choice through the environment.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator

ENV = "XL_REBALANCER_VERBOSE"

# Loggers of the libraries we call (and of what they call) that write to the terminal
# through logging's last-resort handler when nobody configured logging.
LIBRARY_LOGGERS = (
    "yfinance",
    "peewee",
    "urllib3",
    "curl_cffi",
    "formulas",
    "schedula",
    "highspy",
    "distributed",
    "asyncio",
)


def verbose() -> bool:
    return os.environ.get(ENV, "").strip().lower() in {"1", "true", "yes"}


def set_verbose(on: bool) -> None:
    """Record the user's choice where child processes (batch workers) see it too."""
    if on:
        os.environ[ENV] = "1"
    else:
        os.environ.pop(ENV, None)
    configure()


def configure() -> None:
    """Silence (or, when verbose, let through to standard error) the libraries' own
    warnings and log lines. Our own findings travel as Problems, never as warnings, so
    nothing the user needs is lost."""
    level = logging.INFO if verbose() else logging.CRITICAL + 1
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(level)
    if verbose():
        if not logging.getLogger().handlers:
            logging.basicConfig(stream=sys.stderr, format="%(name)s: %(message)s")
        warnings.simplefilter("default")
    else:
        warnings.simplefilter("ignore")


@contextlib.contextmanager
def native_output() -> Iterator[None]:
    """What a C library writes to file descriptor 1 goes to the null device (or, when
    verbose, to standard error), so standard output keeps only what we print."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no standard output at all (a GUI host such as Excel)
        yield
        return
    target = os.dup(2) if verbose() else os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(target, 1)
        yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(target)


def _flush_c_stdio() -> None:
    """C's stdio buffers what it prints when fd 1 is a pipe; flush it while fd 1 is still
    redirected, or the buffered bytes would reach the real output at exit."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # Windows: no global libc by that name
        pass
