"""The headless door: `xl-rebalancer COMMAND WORKBOOK [options]`.

Exit codes: 0 success, 1 invalid input or a failed run (errors printed with their
cells), 2 usage errors (click's own). Tracebacks only with --debug.

With `--json` every command prints exactly one JSON document on standard output, on
success and on failure alike (`"ok"` says which), and nothing else: a script can pipe
it to `jq` or `json.loads` whatever happened. Libraries' own output is silenced unless
`--verbose` (quiet.py).

The group `main` is in group.py, what commands share in common.py, and each group of
commands in a module of its own, which registers them on `main` when imported here:
workbook (init, build-template, validate, demo), runs (refresh-prices, drift, optimize,
rebalance, harvest, realized, run, recalc), trading (import, export-orders,
record-fills, approve, apply-actions), batch, report, journal and addin. Commands only
translate arguments and results; the work is app's, trading's, batch's and desk's.
"""

from __future__ import annotations

import os
import sys
from typing import Any

# Imported for their commands, which register on main.
from . import addin, batch, journal, report, runs, trading, workbook  # noqa: F401
from .group import main


def run() -> None:
    """The `xl-rebalancer` command (and `python -m xl_rebalancer`): `main`, then a quick exit.

    Once a command has finished, the interpreter's own exit would free every object
    the run made, one by one: 0.15-0.2 s of a 20,000-lot household's cold run. So the
    exit handlers run (logging, temporary files, multiprocessing, anything registered
    with atexit), the output is flushed, and the process ends without that teardown.
    Only the command does this; `main` called in-process (tests, scripts) returns or
    raises SystemExit as click's commands do.

    The cyclic garbage collector is off for the command too: a run's objects live until
    it ends, and the collector's repeated passes over the growing heap (the 20,000 lots,
    their rows, the trades) took 0.5-0.6 s of that household's 3.4 s cold run, while the
    peak memory is the same without it (180 MB either way: nothing the run makes is
    garbage only a cycle collection would free). `batch` turns it back on.
    """
    import atexit
    import gc

    gc.disable()
    try:
        main()
        code: Any = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("text"), as the interpreter does it
        print(code, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): the interpreter's 120
            status = status or 120
    os._exit(status)
