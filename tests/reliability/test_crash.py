"""Kill a run at many points of its save: the workbook is always whole, and never lost.

The demo household (VBA, ribbon, charts) is rebalanced by the real command line in a
child process that SIGKILLs itself at a chosen point (see crash_driver.py), or is
killed from outside after a chosen delay. After each kill the workbook must be either
byte-for-byte the original or the complete new one, open cleanly, and a second run
must succeed and leave no temporary file behind.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import sha256
from tests.test_cli import cli
from xl_rebalancer.workbook.lock import lock_path, temp_prefix
from xl_rebalancer.workbook.reader import read_workbook

DRIVER = Path(__file__).with_name("crash_driver.py")
REPO = Path(__file__).resolve().parents[2]


def driver(point: str, n: int, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(DRIVER), point, str(n), "--", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        **kwargs,  # type: ignore[call-overload]
    )


def check_whole(book: Path, original: str) -> str:
    """The file is the original, or the complete new workbook; say which."""
    if sha256(book) == original:
        return "original"
    with zipfile.ZipFile(book) as archive:
        assert archive.testzip() is None
        names = set(archive.namelist())
    assert {"xl/vbaProject.bin", "customUI/customUI14.xml"} <= names
    from openpyxl import load_workbook

    assert "Trades" in load_workbook(book, read_only=True).sheetnames
    return "new"


def check_recovers(book: Path, prices: Path) -> None:
    read_workbook(book)  # opens and validates
    again = cli("rebalance", str(book), "--prices", str(prices))
    assert again.returncode == 0, again.stderr
    leftovers = list(book.parent.glob(temp_prefix(book) + "*"))
    assert leftovers == [], leftovers


def writes_per_save(book: Path, prices: Path, tmp_path: Path) -> int:
    probe = tmp_path / "probe.xlsm"
    shutil.copy2(book, probe)
    proc = driver("count", 0, "rebalance", str(probe), "--prices", str(prices))
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    return int(out.strip().splitlines()[-1].removeprefix("writes="))


KILL_POINTS = ["read", "fsync", "replace", "replaced"]


@pytest.mark.parametrize("point", KILL_POINTS)
def test_killed_at_a_named_point(household: tuple[Path, Path], point: str):
    book, prices = household
    original = sha256(book)
    proc = driver(point, 0, "rebalance", str(book), "--prices", str(prices))
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    state = check_whole(book, original)
    assert state == ("new" if point == "replaced" else "original")
    check_recovers(book, prices)


WRITE_KILLS = 10


def test_killed_while_writing_the_zip(household: tuple[Path, Path], tmp_path: Path):
    """Killed at evenly spaced zip members over both halves of the save."""
    book, prices = household
    total = writes_per_save(book, prices, tmp_path)
    assert total > 40  # openpyxl's save, then the package rewrite
    original = sha256(book)
    points = sorted({1 + round(i * (total - 1) / (WRITE_KILLS - 1)) for i in range(WRITE_KILLS)})
    for n in points:
        proc = driver("write", n, "rebalance", str(book), "--prices", str(prices))
        proc.communicate(timeout=120)
        assert proc.returncode == -signal.SIGKILL, n
        assert check_whole(book, original) == "original", n
        assert sha256(book) == original
    check_recovers(book, prices)


TIMED_KILLS = [0.3, 0.6, 0.9, 1.2, 1.5, 1.8, 2.1, 2.4]


def test_killed_from_outside_at_random_moments(household: tuple[Path, Path]):
    book, prices = household
    for delay in TIMED_KILLS:
        before = sha256(book)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "xl_rebalancer",
                "rebalance",
                str(book),
                "--prices",
                str(prices),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        check_whole(book, before)
        read_workbook(book)
    check_recovers(book, prices)


def test_a_second_run_is_turned_away_while_one_holds_the_lock(household: tuple[Path, Path]):
    book, prices = household
    original = sha256(book)
    holder = driver("hold", 30, str(book))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        run = cli("rebalance", str(book), "--prices", str(prices))
        assert run.returncode == 1
        assert "another xl-rebalancer run is working on this workbook" in " ".join(
            run.stderr.split()
        )
        assert sha256(book) == original
        assert lock_path(book.resolve()).exists()
        assert not [p for p in book.parent.iterdir() if p.name.startswith(".~xlreb")]
        dry = cli("rebalance", str(book), "--prices", str(prices), "--dry-run")
        assert dry.returncode == 0, dry.stderr  # reading needs no lock
    finally:
        holder.kill()
        holder.communicate()
    # The holder was killed, not closed: its OS lock went with it.
    check_recovers(book, prices)
