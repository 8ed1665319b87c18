"""Files the user did not mean to be replaced (issue 24): a workbook Excel holds open,
a read-only workbook, an .xlsm renamed .xlsx; and no lock file left in the user's
folders. Each through the command line, with the message the user sees."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.conftest import sha256
from tests.test_cli import cli


def _demo(tmp_path: Path, demo_files: tuple[Path, Path], name: str = "book.xlsm") -> Path:
    book = tmp_path / name
    shutil.copy(demo_files[0], book)
    return book


def _said(run) -> str:
    return " ".join((run.stderr + run.stdout).split())


def test_a_workbook_open_in_excel_is_not_replaced(tmp_path: Path, demo_files):
    book = _demo(tmp_path, demo_files)
    prices = str(demo_files[1])
    (tmp_path / "~$book.xlsm").write_bytes(b"\x0bExcel user")  # Excel's owner file
    before = sha256(book)
    run = cli("rebalance", str(book), "--prices", prices)
    assert run.returncode == 1
    assert "the workbook is open in Excel (~$book.xlsm is beside it)" in _said(run)
    assert "pass --force" in _said(run)
    assert sha256(book) == before
    assert cli("rebalance", str(book), "--prices", prices, "--dry-run").returncode == 0
    forced = cli("rebalance", str(book), "--prices", prices, "--force")
    assert forced.returncode == 0, forced.stderr
    assert sha256(book) != before


def test_a_read_only_workbook_is_not_replaced(tmp_path: Path, demo_files):
    book = _demo(tmp_path, demo_files)
    os.chmod(book, 0o444)
    before = sha256(book)
    run = cli("rebalance", str(book), "--prices", str(demo_files[1]))
    assert run.returncode == 1
    assert "the workbook is read-only (or on a read-only disk); nothing was written" in _said(run)
    assert sha256(book) == before
    elsewhere = tmp_path / "copy.xlsm"
    out = cli("rebalance", str(book), "--prices", str(demo_files[1]), "--out", str(elsewhere))
    assert out.returncode == 0, out.stderr
    forced = cli("rebalance", str(book), "--prices", str(demo_files[1]), "--force")
    assert forced.returncode == 0, forced.stderr
    assert sha256(book) != before
    assert not os.stat(book).st_mode & 0o222  # still read-only, as the user had it


def test_an_xlsm_renamed_xlsx_keeps_its_macros(tmp_path: Path, demo_files):
    book = _demo(tmp_path, demo_files, "renamed.xlsx")
    before = sha256(book)
    run = cli("rebalance", str(book), "--prices", str(demo_files[1]))
    assert run.returncode == 1
    assert "holds macros (a VBA project) but the name ends in .xlsx" in _said(run)
    assert "Rename it .xlsm" in _said(run)
    assert sha256(book) == before
    book.rename(tmp_path / "renamed.xlsm")
    fixed = cli("rebalance", str(tmp_path / "renamed.xlsm"), "--prices", str(demo_files[1]))
    assert fixed.returncode == 0, fixed.stderr


def test_no_lock_file_is_left_beside_the_workbook(tmp_path: Path, demo_files):
    book = _demo(tmp_path, demo_files)
    run = cli("rebalance", str(book), "--prices", str(demo_files[1]))
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.xlsm"]
    books, out = tmp_path / "books", tmp_path / "out"
    books.mkdir()
    shutil.copy(demo_files[0], books / "a.xlsm")
    batch = cli("batch", str(books), "--out", str(out), "--prices", str(demo_files[1]))
    assert batch.returncode == 0, batch.stderr
    assert sorted(p.name for p in books.iterdir()) == ["a.xlsm"]
    assert not [p for p in out.rglob(".~*")]
