"""One writer per workbook: an OS file lock held from read to save.

Two runs on one workbook (a nightly batch and a person at the command line, or two
batch workers given overlapping folders) would each read, compute and save, and the
second save would silently drop the first run's sheets, or base a trade list on
input the other run just changed. A run therefore holds a lock beside the workbook
for its whole read → compute → save, and a second run stops at once with a message.

The lock is an OS lock (flock on Linux and macOS, LockFileEx on Windows, through the
filelock library), so a run that is killed releases it with its process: there is no
stale lock to clear by hand. It sits beside the workbook rather than in a per-user
folder so that runs on two machines sharing a network folder see each other's (as far
as the share honours locks). On Windows the `.~xlreb.<name>.lock` file goes with the
lock; on Linux and macOS the empty hidden file stays, because deleting a lock file on
release lets a waiter lock a deleted inode while a third run locks a new one
(filelock #574); the next run reuses it.

Holding the lock also makes it safe to clear what a killed run left: the temporary
files of an interrupted save (`.~<name>.*`) belong to no live run once the lock is ours.
"""

from __future__ import annotations

import contextlib
import glob
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import WorkbookError


def lock_path(path: Path) -> Path:
    return path.with_name(f".~xlreb.{path.name}.lock")


def temp_prefix(path: Path) -> str:
    """The prefix of the atomic save's temporary files for `path` (see io.writer)."""
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
    lock = FileLock(lock_path(path), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise WorkbookError(
            f"{path}: another xl-rebalancer run is working on this workbook; "
            "wait for it to finish and run again"
        ) from None
    except OSError as exc:
        if os.access(path.parent, os.W_OK):
            raise WorkbookError(f"{path}: cannot take the workbook's lock ({exc})") from exc
        # A read-only folder: no run of ours can save there either, so nothing races.
        yield
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
