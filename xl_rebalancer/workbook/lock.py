"""One writer per workbook: an OS file lock held from read to save.

Two runs on one workbook (a nightly batch and a person at the command line, or two
batch workers given overlapping folders) would each read, compute and save, and the
second save would silently drop the first run's sheets, or base a trade list on
input the other run just changed. A run therefore holds a lock for its whole
read → compute → save, and a second run stops at once with a message.

The lock is an OS lock (flock on Linux and macOS, LockFileEx on Windows, through the
filelock library), so a run that is killed releases it with its process: there is no
stale lock to clear by hand. Its file lives in the user's state folder, beside the run
journal (`locks/<hash of the workbook's real path>.lock`), not beside the workbook:
nothing is left in the user's folders (deleting a lock file on release is unsafe on
Linux and macOS, filelock #574, so the small file stays and the next run reuses it).
The price: runs by two users, or on two machines sharing a network folder, do not see
each other's locks (OS locks over SMB and NFS were never reliable either); Excel's own
`~$` owner file is checked before a save (workbook.safety.may_replace).

Holding the lock also makes it safe to clear what a killed run left: the temporary
files of an interrupted save (`.~<name>.*`) belong to no live run once the lock is ours.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import WorkbookError


def lock_path(path: Path) -> Path:
    from ..journal import journal_path

    real = os.path.normcase(os.path.realpath(path))
    digest = hashlib.sha256(real.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return journal_path().parent / "locks" / f"{digest}.lock"


def temp_prefix(path: Path) -> str:
    """The prefix of the atomic save's temporary files for `path` (see workbook.writer)."""
    return f".~{path.name}."


@contextlib.contextmanager
def workbook_lock(path: Path) -> Iterator[None]:
    """Hold the lock of the workbook at `path` for the block, or stop with a message."""
    from filelock import FileLock, Timeout

    # Through a symbolic link, the lock is the target's: a run through the link and one
    # on the target itself must exclude each other (the save writes the target too).
    path = Path(os.path.realpath(path))
    if not path.parent.is_dir():
        yield  # nothing there yet to protect; the save will create the folder
        return
    where = lock_path(path)
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
    except OSError:
        yield  # no state folder to keep locks in (a read-only home): run unlocked
        return
    lock = FileLock(where, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise WorkbookError(
            f"{path}: another xl-rebalancer run is working on this workbook; "
            "wait for it to finish and run again"
        ) from None
    except OSError:
        yield  # the state folder cannot hold a lock file: run unlocked
        return
    try:
        clear_interrupted_saves(path)
        yield
    finally:
        lock.release()


def clear_interrupted_saves(path: Path) -> list[Path]:
    """Delete the temporary files a killed save of `path` left (only under its lock)."""
    removed = []
    for leftover in path.parent.glob(f"{glob.escape(temp_prefix(path))}*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            removed.append(leftover)
    return removed
