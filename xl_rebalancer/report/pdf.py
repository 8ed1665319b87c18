"""The Report page as a PDF to send a client: LibreOffice prints a copy holding only it.

The client's workbook is never opened for writing: the page is drawn into a workbook of
our own (from a run's result, as `batch --pdf` does, or copied out of a saved workbook's
Report sheet, as `xl-rebalancer report BOOK --pdf` does) in a temporary folder, and
LibreOffice headless (`soffice --convert-to pdf`) prints that. The page setup is the
Report sheet's own (landscape, fitted to one page), so the PDF is the printed page.
Each conversion gets a private LibreOffice profile, so batch workers converting at
once never share (and lock) one.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from ..errors import XlRebalancerError
from ..workbook import schema as s

CONVERT_SECONDS = 180
NO_LIBREOFFICE = (
    "a PDF needs LibreOffice (soffice), which was not found on this machine's PATH; "
    "install it from libreoffice.org, or leave out --pdf"
)


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def report_workbook(report: Any, target: Path) -> Path:
    """A new .xlsx holding only the Report page of `report` (report.page.Report)."""
    from openpyxl import Workbook

    from .page import draw_file

    wb = Workbook()
    ws = wb.active
    ws.title = s.REPORT.name
    draw_file(ws, report)
    wb.save(target)
    return target


def report_only_copy(book: Path, target: Path) -> Path:
    """A copy of `book`'s Report sheet alone (its charts and page setup kept), saved as
    `target`; `book` is only read."""
    from openpyxl import load_workbook

    wb = load_workbook(book)
    if s.REPORT.name not in wb.sheetnames:
        raise XlRebalancerError(
            f"{book.name}: has no {s.REPORT.name} sheet yet; run `xl-rebalancer run` on it "
            "first (the Report is the proposal's page)"
        )
    for ws in list(wb.worksheets) + list(wb.chartsheets):
        if ws.title != s.REPORT.name:
            wb.remove(ws)
    # Names pointing at the removed sheets would only confuse the printer.
    for name in list(wb.defined_names):
        del wb.defined_names[name]
    report = wb[s.REPORT.name]
    report.sheet_state = "visible"
    wb.active = 0
    wb.save(target)
    return target


def to_pdf(xlsx: Path, pdf: Path) -> Path:
    """LibreOffice headless prints `xlsx` to `pdf` (written whole or not at all)."""
    office = soffice()
    if office is None:
        raise XlRebalancerError(NO_LIBREOFFICE)
    with tempfile.TemporaryDirectory(prefix="xlrb-pdf-") as tmp:
        work = Path(tmp)
        profile = work / "profile"
        run = subprocess.run(
            [
                office,
                f"-env:UserInstallation={profile.as_uri()}",
                "--headless",
                "--norestore",
                "--convert-to",
                "pdf",
                "--outdir",
                str(work),
                str(xlsx),
            ],
            capture_output=True,
            text=True,
            timeout=CONVERT_SECONDS,
            check=False,
        )
        made = work / f"{xlsx.stem}.pdf"
        if run.returncode != 0 or not made.exists():
            detail = (run.stderr or run.stdout).strip().splitlines()
            raise XlRebalancerError(
                f"LibreOffice could not print {xlsx.name} to PDF"
                + (f" ({detail[-1]})" if detail else "")
            )
        pdf.parent.mkdir(parents=True, exist_ok=True)
        partial = pdf.with_name(f".~{pdf.name}")
        shutil.copyfile(made, partial)
        partial.replace(pdf)
    return pdf


def report_pdf(report: Any, pdf: Path) -> Path:
    """A run's Report page (report.page.Report) as `pdf`."""
    with tempfile.TemporaryDirectory(prefix="xlrb-page-") as tmp:
        page = report_workbook(report, Path(tmp) / f"{pdf.stem}.xlsx")
        return to_pdf(page, pdf)


def workbook_report_pdf(book: Path, pdf: Path) -> Path:
    """A saved workbook's Report sheet as `pdf`, the workbook untouched."""
    if soffice() is None:
        raise XlRebalancerError(NO_LIBREOFFICE)
    with tempfile.TemporaryDirectory(prefix="xlrb-page-") as tmp:
        page = report_only_copy(book, Path(tmp) / f"{pdf.stem}.xlsx")
        return to_pdf(page, pdf)


def pdf_path(workbook: Path) -> Path:
    """Where batch --pdf puts a client's page: beside its saved workbook."""
    return workbook.with_name(f"{workbook.stem}.proposal.pdf")
