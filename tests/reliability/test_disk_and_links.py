"""Where the workbook lives (issue 26): a FIFO named like a workbook, a symbolic link, a
full disk and a read-only folder each end in a sentence or a correct save, never a
hang, a traceback or a broken link. The disk cases use real filesystems (a small tmpfs,
mounted read-only for the second), so the errors are the operating system's own."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

from tests.conftest import sha256, small_disk
from tests.reliability.commands import cli


def sheets(path: Path) -> set[str]:
    from openpyxl import load_workbook

    return set(load_workbook(path, read_only=True).sheetnames)


def test_a_fifo_is_refused_not_waited_on(tmp_path: Path):
    fifo = tmp_path / "book.xlsm"
    os.mkfifo(fifo)
    for command in ("validate", "rebalance"):
        run = cli(command, str(fifo), timeout=30)
        assert run.returncode == 1, run.stderr
        assert "not a regular file" in run.stderr and "Traceback" not in run.stderr


def test_a_symbolic_link_is_saved_through_to_its_target(demo_files, tmp_path: Path):
    book, prices = demo_files
    synced = tmp_path / "synced"
    synced.mkdir()
    target = synced / "household.xlsm"
    shutil.copyfile(book, target)
    link = tmp_path / "household.xlsm"
    link.symlink_to(target)
    run = cli("rebalance", str(link), "--prices", str(prices))
    assert run.returncode == 0, run.stderr
    assert link.is_symlink() and link.resolve() == target.resolve(), "the link was replaced"
    assert "Trades" in sheets(target), "the real workbook was not rebalanced"
    left = sorted(p.name for p in synced.iterdir() if not p.name.endswith(".lock"))
    assert left == ["household.xlsm"], "temporary files left"


def test_a_full_disk_is_a_sentence_and_the_workbook_is_unchanged(demo_files, tmp_path: Path):
    book, prices = demo_files
    with small_disk(tmp_path, "1m") as disk:
        copy = disk / "household.xlsm"
        shutil.copyfile(book, copy)
        before = sha256(copy)
        # Fill the disk but for a few kilobytes: reading works, a save cannot fit.
        free = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 16384))
        run = cli("rebalance", str(copy), "--prices", str(prices))
        assert run.returncode == 1, run.stdout + run.stderr
        assert "Traceback" not in run.stderr
        assert "the disk is full" in run.stderr and "workbook is unchanged" in run.stderr
        assert sha256(copy) == before
        assert zipfile.is_zipfile(copy)
        assert sorted(p.name for p in disk.iterdir() if not p.name.startswith(".~xlreb")) == [
            "filler",
            "household.xlsm",
        ], "a temporary file was left on the full disk"


def test_a_read_only_folder_is_a_sentence(demo_files, tmp_path: Path):
    book, prices = demo_files
    with small_disk(tmp_path, "4m") as disk:
        copy = disk / "household.xlsm"
        shutil.copyfile(book, copy)
        before = sha256(copy)
        subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
        ok = cli("validate", str(copy))
        assert ok.returncode == 0, ok.stderr  # reading a read-only workbook is fine
        run = cli("rebalance", str(copy), "--prices", str(prices), "--json")
        assert run.returncode == 1
        import json

        data = json.loads(run.stdout)
        assert "read-only" in data["error"] and "workbook is unchanged" in data["error"]
        assert "--out" in data["error"]
        assert sha256(copy) == before
        out = tmp_path / "elsewhere.xlsm"
        moved = cli("rebalance", str(copy), "--prices", str(prices), "--out", str(out))
        assert moved.returncode == 0, moved.stderr
        assert "Trades" in sheets(out)
