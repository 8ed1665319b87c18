"""`xl-rebalancer report BOOK --pdf FILE`: a rebalanced workbook's Report page as a PDF.

Its own module: it only reads a workbook, and needs LibreOffice.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import XlRebalancerError
from .common import JSON_OPTION, _console, emit_json, handle_errors
from .group import main


@main.command()
@click.argument("book", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--pdf",
    "pdf",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the workbook's Report page to this PDF file.",
)
@JSON_OPTION
@handle_errors
def report(book: Path, pdf: Path, as_json: bool) -> None:
    """Print the Report page of a rebalanced workbook to a PDF for the client (needs
    LibreOffice); the workbook is only read."""
    from ..report.pdf import workbook_report_pdf

    if pdf.suffix.lower() != ".pdf":
        raise XlRebalancerError(f"{pdf}: give --pdf a file name ending in .pdf")
    written = workbook_report_pdf(book, pdf)
    if as_json:
        emit_json({"ok": True, "command": "report", "output": str(written), "warnings": []})
        return
    _console().print(f"Wrote {written}")
