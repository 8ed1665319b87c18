"""Every failure is a sentence (issue 45): faults the reliability audit saw end in
`internal error: …` now end in one sentence that says what to do, exit 1, and leave
nothing behind. The file-system cases use real filesystems (a small tmpfs) and, for
file modes, a process without root's capabilities, so the errors are the kernel's own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.brokers.test_round_trip import FILES, start
from tests.conftest import sha256, small_disk
from tests.reliability.commands import cli


def one_sentence(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 1, run.stdout + run.stderr
    text = " ".join(run.stderr.split())
    assert "internal error" not in text and "Traceback" not in text, text
    assert "To fix:" in text or "run again" in text, text
    return text


def test_import_into_a_read_only_folder_is_a_sentence(tmp_path: Path):
    (tmp_path / "folder").mkdir()
    book = start(tmp_path / "folder")
    before = sha256(book)
    book.parent.chmod(0o555)
    try:
        run = cli(
            "import",
            str(book),
            str(FILES / "schwab_positions.csv"),
            "--account",
            "...1234=Joint",
            unprivileged=True,
        )
    finally:
        book.parent.chmod(0o755)
    text = one_sentence(run)
    assert "read-only" in text and "workbook is unchanged" in text and "--out" in text
    assert sha256(book) == before
    assert sorted(p.name for p in book.parent.iterdir()) == ["household.xlsm"]


def test_record_fills_on_a_full_disk_leaves_no_backup(household, tmp_path: Path):
    book, prices = household
    planned = cli("rebalance", str(book), "--prices", str(prices))
    assert planned.returncode == 0, planned.stderr
    with small_disk(tmp_path, "2m") as disk:
        copy = disk / "household.xlsm"
        shutil.copyfile(book, copy)
        before = sha256(copy)
        free = os.statvfs(disk)
        (disk / "filler").write_bytes(b"\0" * (free.f_bavail * free.f_frsize - 16384))
        run = cli("record-fills", str(copy), "--date", "2026-01-16")
        text = one_sentence(run)
        assert "the disk is full" in text and "workbook is unchanged" in text
        assert sha256(copy) == before
        left = sorted(p.name for p in disk.iterdir() if not p.name.startswith(".~xlreb"))
        assert left == ["filler", "household.xlsm"], "a backup was left on the full disk"


def test_prices_pointing_at_a_workbook_is_a_sentence(household):
    book, _ = household
    for args in (("rebalance", "--dry-run"), ("validate",)):
        run = cli(args[0], str(book), "--prices", str(book), *args[1:])
        assert run.returncode == 1, run.stdout + run.stderr
        text = " ".join(run.stderr.split())
        assert "internal error" not in text and "Traceback" not in text, text
        assert "is a workbook (or another zip file), not a CSV" in text, text


def test_prices_that_are_not_text_or_not_a_file_are_sentences(household, tmp_path: Path):
    book, _ = household
    binary = tmp_path / "prices.csv"
    binary.write_bytes(bytes(range(128, 256)) * 8)
    run = cli("rebalance", str(book), "--prices", str(binary), "--dry-run")
    assert "is not UTF-8 text: save it as CSV UTF-8" in " ".join(run.stderr.split())
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    run = cli("rebalance", str(book), "--prices", str(fifo), "--dry-run", timeout=60)
    assert run.returncode == 1
    assert "is not a regular file" in " ".join(run.stderr.split()), run.stderr


def test_import_of_a_csv_with_a_5_mb_field_is_a_sentence(tmp_path: Path):
    book = start(tmp_path)
    lines = (FILES / "schwab_positions.csv").read_text().splitlines()
    lines.insert(5, '"' + "x" * 5_000_000 + '",1,2')
    damaged = tmp_path / "positions.csv"
    damaged.write_text("\n".join(lines) + "\n")
    run = cli("import", str(book), str(damaged), "--dry-run")
    assert run.returncode == 1, run.stdout + run.stderr
    text = " ".join(run.stdout.split() + run.stderr.split())
    assert "internal error" not in text and "Traceback" not in text, text
    assert "positions.csv" in text and "line 6: not readable as CSV" in text, text


def test_import_refuses_devices_pipes_and_files_over_50_mb(tmp_path: Path):
    """`import book.xlsm /dev/zero --dry-run` read forever; the README promises 50 MB."""
    book = start(tmp_path)
    fifo = tmp_path / "positions.csv"
    os.mkfifo(fifo)
    huge = tmp_path / "huge.csv"
    with open(huge, "wb") as handle:  # sparse: 51 MiB on paper, no disk used
        handle.truncate(51 * 1024 * 1024)
    for name, said in (
        ("/dev/zero", "not a regular file"),
        (str(fifo), "not a regular file"),
        (str(huge), "more than a broker download"),
    ):
        run = cli("import", str(book), name, "--dry-run", timeout=60)
        assert run.returncode == 1, run.stdout + run.stderr
        text = " ".join(run.stdout.split() + run.stderr.split())
        assert said in text and "Traceback" not in text, (name, text)


def test_out_naming_a_fifo_leaves_the_fifo(household, tmp_path: Path):
    book, prices = household
    fifo = tmp_path / "out.xlsm"
    os.mkfifo(fifo)
    for extra in ((), ("--force",)):
        run = cli("rebalance", str(book), "--prices", str(prices), "--out", str(fifo), *extra)
        text = " ".join(run.stderr.split())
        assert run.returncode == 1, text
        assert "not a regular file" in text and "nothing was written" in text, text
        assert fifo.is_fifo(), "the FIFO was replaced by a regular file"
