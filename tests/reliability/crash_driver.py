"""Run the real command line and kill this very process (SIGKILL, no cleanup) at one
named point of a run, the way a power cut, the OOM killer or Task Manager would.

    python crash_driver.py POINT N -- xl-rebalancer arguments...

POINT is where to die: `read` (after the input was read, lock held), `write` (at the
N-th zip member written: openpyxl's save of the temporary copy, then the package
rewrite that restores the ribbon), `fsync` (before the temporary file is flushed),
`replace` (just before the rename over the workbook), `replaced` (just after it),
`count` (do not die: print how many zip members a save writes), `hold` (take the
workbook's lock, print "held", sleep N seconds).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import zipfile
from pathlib import Path


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    point, n = sys.argv[1], int(sys.argv[2])
    args = sys.argv[sys.argv.index("--") + 1 :]
    if point == "hold":
        from xl_rebalancer.workbook.lock import workbook_lock

        with workbook_lock(Path(args[0])):
            print("held", flush=True)
            time.sleep(n)
        return
    calls = {"write": 0}
    real_writestr = zipfile.ZipFile.writestr

    def writestr(self: zipfile.ZipFile, *a: object, **k: object) -> None:
        calls["write"] += 1
        if point == "write" and calls["write"] == n:
            die()
        real_writestr(self, *a, **k)

    zipfile.ZipFile.writestr = writestr  # type: ignore[method-assign]
    if point == "read":
        from xl_rebalancer import door

        real_read = door.FileDoor.read

        def read(self: door.FileDoor, options: door.RunOptions) -> object:
            book = real_read(self, options)
            die()
            return book

        door.FileDoor.read = read  # type: ignore[method-assign]
    if point == "fsync":
        os.fsync = lambda fd: die()  # type: ignore[assignment]
    real_replace = os.replace
    if point in {"replace", "replaced"}:

        def replace(src: object, dst: object) -> None:
            if point == "replace":
                die()
            real_replace(src, dst)  # type: ignore[arg-type]
            die()

        os.replace = replace  # type: ignore[assignment]
    from xl_rebalancer.cli import main as cli_main

    try:
        cli_main(args, standalone_mode=False)
    finally:
        if point == "count":
            print(f"writes={calls['write']}", flush=True)


if __name__ == "__main__":
    main()
