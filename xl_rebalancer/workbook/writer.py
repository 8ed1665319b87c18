"""Replace the engine's sheets in a workbook and save it atomically.

Everything else in the file (the user's sheets, formulas, defined names, the VBA
project, the ribbon) is kept: openpyxl keeps VBA and customUI parts when opened
with keep_vba, and the ribbon relationship it drops from `_rels/.rels` is put back.
The new file is written beside the target and renamed over it, so a crash never
leaves a half-written workbook.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import WorkbookError
from . import schema as s
from .edits import SheetOutput, WorkbookEdit
from .lock import temp_prefix
from .openpyxl_sheets import _code_name, _rewrite, replace_sheet
from .package import VBA_PART, dynamic_arrays, rewrite_package, ribbon_relationships
from .safety import check_package

MACRO_SUFFIXES = {".xlsm", ".xltm", ".xlam"}


def load_for_edit(path: Path) -> Any:
    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_workbook(
                path, keep_vba=path.suffix.lower() in MACRO_SUFFIXES, keep_links=True
            )
    except Exception as exc:
        raise WorkbookError(f"{path}: cannot open the workbook for writing ({exc})") from exc


def save_workbook(source: str | Path, edit: WorkbookEdit, out: str | Path | None = None) -> Path:
    """Apply `edit` to the workbook at `source` and save to `out` (default: in place)."""
    source = Path(source)
    # A workbook reached through a symbolic link (kept in a synced folder, say) is saved
    # to the link's target, atomically beside it; the link stays a link. A hard link
    # cannot be followed: the name given gets the new file and other names keep the old.
    dest = Path(os.path.realpath(out if out is not None else source))
    if dest.suffix.lower() != source.suffix.lower():
        raise WorkbookError(
            f"{dest}: keep the extension {source.suffix} (a workbook's type follows its extension)"
        )
    check_package(source)
    ribbon = ribbon_relationships(source)
    macro_enabled = dest.suffix.lower() in MACRO_SUFFIXES
    dest.parent.mkdir(parents=True, exist_ok=True)
    full_save = os.environ.get("XL_REBALANCER_FULL_SAVE") and not edit.doors
    if edit.recalc and not full_save and _spliced_recalc(source, dest, edit, macro_enabled, ribbon):
        return dest
    if not edit.recalc and not full_save:
        # Only engine sheets change: move them into the package and copy the rest as
        # it is (workbook/splice.py), in bounded memory, keeping what openpyxl cannot model.
        from .splice import splice_save
        from .splice_parts import NotSpliceable

        def splice(final: Path) -> None:
            edit.notes = splice_save(
                source,
                final,
                edit.sheets,
                macro_enabled=macro_enabled,
                ribbon=ribbon,
                doors=edit.doors,
                rewrites=edit.rewrites,
                patched=edit.patched,
            )

        try:
            _atomic_write(
                dest, splice, source, inputs=bool(edit.rewrites) or edit.doors, heads=edit.patched
            )
            return dest
        except NotSpliceable as exc:
            if edit.doors:  # a whole-workbook rewrite would lose what openpyxl cannot keep
                raise WorkbookError(
                    f"{source}: xl-rebalancer cannot add its sheets to this workbook without "
                    f"rewriting all of it ({exc}); nothing was changed. To fix: save it from "
                    "Excel as a regular .xlsx or .xlsm workbook and run again."
                ) from exc
    lost = whole_rewrite_losses(source)
    if lost:
        why = (
            "--recalc stores a value in every formula cell, so it rewrites the whole workbook"
            if edit.recalc
            else "a workbook in this form is rewritten whole"
        )
        raise WorkbookError(
            f"{source}: {why} through openpyxl, and that would lose its "
            f"{', '.join(lost)}; nothing was written and the workbook is unchanged. "
            "To fix: run without --recalc (Excel computes every formula when it opens the "
            "file), or keep those in a workbook of their own that links to this one."
        )
    extra = _ribbon_parts(source) if ribbon else {}
    dynamic = dynamic_arrays(source)
    wb = load_for_edit(source)
    for rewrite in edit.rewrites:
        _rewrite(wb, rewrite)
    for output in edit.sheets:
        replace_sheet(wb, output)
    cached: dict[str, dict[str, Any]] = {}
    if edit.recalc:
        cached = _recalculate(wb, edit, dynamic)
    elif _has_formulas(wb):
        # openpyxl saves formulas without their cached values, so a workbook an earlier
        # --recalc stamped "computed" (no fullCalcOnLoad) would open in Excel with blank
        # or stale results: Excel must compute them on open.
        wb.calculation.fullCalcOnLoad = True
    replaced = _code_names(wb) if macro_enabled else {}

    def produce(final: Path) -> None:
        # openpyxl's save first, then the package fixes it cannot make (ribbon, cached
        # values, dynamic arrays, the edited VBA project, shared strings).
        raw = final.with_name(final.name + ".raw")
        try:
            _write_openpyxl(wb, raw)
            rewrite_package(
                raw,
                final,
                ribbon=ribbon,
                extra_parts=extra,
                macro_enabled=macro_enabled,
                cached=cached,
                dynamic=dynamic,
                replaced_parts=replaced,
            )
        finally:
            with contextlib.suppress(OSError):
                raw.unlink()

    try:
        _atomic_write(dest, produce, source, inputs=True)
    finally:
        # openpyxl keeps the macro parts in a ZipFile over a BytesIO; left to the garbage
        # collector, the buffer can be finalized first and the ZipFile's own finalizer
        # then prints "Exception ignored ... I/O operation on closed file" to stderr, in
        # a long-lived process (Excel's Python, a batch worker) long after the save.
        if wb.vba_archive is not None:
            wb.vba_archive.close()
    return dest


# Parts openpyxl's whole-workbook rewrite drops or damages, by where they live.
_REWRITE_LOSES = (
    ("xl/threadedComments/", "threaded comments"),
    ("xl/slicers/", "slicers"),
    ("xl/timelines/", "timelines"),
    ("xl/pivotTables/", "pivot tables"),
    ("xl/ctrlProps/", "form controls"),
    ("xl/activeX/", "ActiveX controls"),
    ("xl/model/", "data model"),
    ("customXml/", "custom XML"),
)


_SHAPE = re.compile(rb"<(?:\w+:)?sp[\s>]")


def whole_rewrite_losses(source: Path) -> list[str]:
    """What a whole-workbook rewrite through openpyxl would lose of this package: the
    splice keeps every part, openpyxl only those it models (pictures only with Pillow,
    no shapes or text boxes in drawings)."""
    import importlib.util

    with zipfile.ZipFile(source) as archive:
        names = archive.namelist()
        lost = [what for folder, what in _REWRITE_LOSES if any(n.startswith(folder) for n in names)]
        if importlib.util.find_spec("PIL") is None and any(
            n.startswith("xl/media/") for n in names
        ):
            lost.append("pictures")
        drawings = [n for n in names if re.fullmatch(r"xl/drawings/[^/]+\.xml", n)]
        if any(_SHAPE.search(archive.read(n)) for n in drawings):
            lost.append("shapes and text boxes")
    return lost


def _code_names(wb: Any) -> dict[str, bytes]:
    """Give every sheet of a macro workbook a codeName with its document module, and drop
    modules of sheets that are gone: Excel ties each sheet to the module of its codeName,
    and a sheet without one or a module without its sheet is a damaged macro workbook.
    Returns the VBA project part to install when it had to change."""
    from ..excel.vbaproject import Project

    archive = wb.vba_archive
    if archive is None or VBA_PART not in archive.namelist():
        return {}
    original = archive.read(VBA_PART)
    sheets = [*wb.worksheets, *wb.chartsheets]
    charts = {id(ws) for ws in wb.chartsheets}
    try:
        project = Project(original)
    except (ValueError, OSError):  # ProjectNotEditable too: a project with forms
        return {}  # left exactly as it was
    taken = {name.lower() for name in project.module_names}
    taken |= {code.lower() for ws in sheets if (code := _code_name(ws))}
    # A sheet without a codeName (LibreOffice saves none) keeps its own module.
    own = project.modules_for(
        [ws.title for ws in sheets if not _code_name(ws)],
        [code for ws in sheets if (code := _code_name(ws))],
    )
    number = 1
    for ws in sheets:
        if _code_name(ws):
            continue
        if ws.title in own:
            _properties(ws).codeName = own[ws.title]
            continue
        while f"sheet{number}" in taken:
            number += 1
        _properties(ws).codeName = f"Sheet{number}"
        taken.add(f"sheet{number}")
    codes = [_code_name(ws) or "" for ws in sheets]
    chart_codes = {_code_name(ws) or "" for ws in sheets if id(ws) in charts}
    try:
        edited = project.with_sheet_modules(codes, charts=chart_codes)
    except (ValueError, OSError):
        return {}
    return {} if edited == original else {VBA_PART: edited}


def _properties(ws: Any) -> Any:
    """A sheet's properties element, where its codeName is: openpyxl names it
    `sheet_properties` on a worksheet and `sheetPr` on a chart sheet (None until set)."""
    if hasattr(ws, "sheet_properties"):
        return ws.sheet_properties
    if ws.sheetPr is None:
        from openpyxl.chartsheet.properties import ChartsheetProperties

        ws.sheetPr = ChartsheetProperties()
    return ws.sheetPr


def _has_formulas(wb: Any) -> bool:
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    for ws in wb.worksheets:
        for cell in ws._cells.values():
            value = cell._value
            if cell.data_type == "f" or isinstance(value, ArrayFormula | DataTableFormula):
                return True
    return False


def _spliced_recalc(
    source: Path,
    dest: Path,
    edit: WorkbookEdit,
    macro_enabled: bool,
    ribbon: list[tuple[str, str, str]],
) -> bool:
    """--recalc by splice (workbook/recalc_save.py): openpyxl computes, the splice saves, and
    only the cells whose values changed are patched, so nothing openpyxl cannot model is
    lost. False when the package cannot be edited so (the whole rewrite is tried)."""
    import datetime as dt

    from ..excel.headless import worksheet_functions
    from ..formulas import recalc, results
    from .recalc_save import CannotPatch, apply_patch, cell_patch
    from .splice import splice_save
    from .splice_parts import NotSpliceable

    dynamic = dynamic_arrays(source)
    wb = load_for_edit(source)
    try:
        for rewrite in edit.rewrites:
            _rewrite(wb, rewrite)
        for output in edit.sheets:
            replace_sheet(wb, output)
        titles = {t.lower(): t for t in wb.sheetnames}
        anchors = {titles[t.lower()]: c for t, c in dynamic.items() if t.lower() in titles}
        result = recalc.recalculate(wb, dynamic=anchors, functions=worksheet_functions())
        patch = cell_patch(wb, result, results.EXCEL_CALC_ID)
        now = dt.datetime.now().replace(microsecond=0)
        log = SheetOutput(s.LOG, results.merge_log(_log_sheet(wb), results.log_rows(result, now)))
    finally:
        if wb.vba_archive is not None:
            wb.vba_archive.close()
    edit.recalculated = result
    outputs = [o for o in edit.sheets if o.spec.name != s.LOG.name] + [log]

    def produce(final: Path) -> None:
        spliced = final.with_name(final.name + ".spliced")
        try:
            edit.notes = splice_save(
                source,
                spliced,
                outputs,
                macro_enabled=macro_enabled,
                ribbon=ribbon,
                doors=edit.doors,
                rewrites=edit.rewrites,
            )
            apply_patch(spliced, final, patch)
        finally:
            with contextlib.suppress(OSError):
                spliced.unlink()

    try:
        _atomic_write(dest, produce, source, inputs=True)
    except (NotSpliceable, CannotPatch):
        edit.recalculated = None
        return False
    return True


def _log_sheet(wb: Any) -> Any:
    log = next((ws for ws in wb.worksheets if s.LOG.table in ws.tables), None)
    if log is None:
        log = next((wb[t] for t in wb.sheetnames if t.lower() == s.LOG.name.lower()), None)
    return log


def _recalculate(wb: Any, edit: WorkbookEdit, dynamic: dict[str, set[str]]) -> dict:
    """Compute every formula of the edited workbook; list what was not in the Log."""
    import datetime as dt

    from ..formulas import results

    titles = {t.lower(): t for t in wb.sheetnames}
    dynamic = {titles[t.lower()]: cells for t, cells in dynamic.items() if t.lower() in titles}
    result = results.recalculate_workbook(wb, dynamic)
    edit.recalculated = result
    now = dt.datetime.now().replace(microsecond=0)
    rows = results.merge_log(_log_sheet(wb), results.log_rows(result, now))
    replace_sheet(wb, SheetOutput(s.LOG, rows))
    return results.cached_values(result)


def _ribbon_parts(source: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(source) as archive:
        return {n: archive.read(n) for n in archive.namelist() if n.startswith("customUI")}


def _atomic_write(
    dest: Path,
    produce: Callable[[Path], None],
    source: Path | None = None,
    inputs: bool = False,
    heads: set[str] | None = None,
) -> None:
    """`produce` writes the new file beside `dest` under a temporary name; it is read back
    (workbook.gate, against `source`; with `inputs`, the input sheets are read too), flushed to
    disk and renamed over `dest`, so a crash leaves the old file or the new one, and a
    damaged package never replaces a good one."""
    folder = dest.parent
    prefix = temp_prefix(dest)  # a killed save's leftovers are cleared under the lock
    final: Path | None = None
    try:
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=dest.suffix, dir=folder)
        os.close(fd)
        final = Path(name)
        produce(final)
        _gate(final, dest, source, inputs, heads or set())
        with open(final, "rb+") as handle:
            os.fsync(handle.fileno())
        if dest.exists():
            with contextlib.suppress(OSError):
                os.chmod(final, dest.stat().st_mode & 0o777)
        os.replace(final, dest)
    except OSError as exc:
        raise save_failed(dest, exc) from exc
    finally:
        if final is not None:
            with contextlib.suppress(OSError):
                final.unlink()


def _gate(new: Path, dest: Path, source: Path | None, inputs: bool, heads: set[str]) -> None:
    """Refuse a package that would not open cleanly; keep it beside the workbook under a
    name of its own, for a bug report, and leave the workbook as it was."""
    from .gate import PackageDamaged, check_inputs, check_save

    try:
        check_save(new, source, heads)
        if inputs and source is not None:
            check_inputs(new, source)
    except PackageDamaged as exc:
        import datetime as dt

        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        kept, number = dest.with_name(f"{dest.stem}.rejected-{stamp}{dest.suffix}"), 2
        while kept.exists():
            kept = dest.with_name(f"{dest.stem}.rejected-{stamp}-{number}{dest.suffix}")
            number += 1
        try:
            os.replace(new, kept)
            where = f"the rejected file is kept at {kept} for a bug report"
        except OSError:
            where = "the rejected file could not be kept"
        raise WorkbookError(
            f"{dest}: xl-rebalancer's check of the file it was about to save failed ({exc}); "
            f"the workbook is unchanged and {where}. Please report it with that file."
        ) from None


def _write_openpyxl(wb: Any, path: Path) -> None:
    """openpyxl's own save (writer.excel.save_workbook), with the zip closed when writing
    fails: left open, its finalizer retries on a full disk and prints a traceback."""
    import datetime as dt

    from openpyxl.writer.excel import ExcelWriter

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        wb.properties.modified = dt.datetime.now(tz=dt.UTC).replace(tzinfo=None)
        ExcelWriter(wb, archive).save()


def save_failed(dest: Path, exc: OSError) -> WorkbookError:
    """What failed, that the workbook is as it was, and what to do: a full disk or a
    read-only folder is the user's to fix, and deserves a sentence, not a traceback."""
    unchanged = "nothing was written and the workbook is unchanged"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        advice = "free some space on that disk (or save elsewhere with --out) and run again"
        what = "the disk is full"
    elif isinstance(exc, PermissionError) or exc.errno == errno.EROFS:
        advice = (
            "close the workbook if it is open in Excel, or save elsewhere with --out PATH "
            "in a folder you can write to"
        )
        what = "the file or its folder is read-only or locked"
    else:
        advice = "check the folder and run again, or save elsewhere with --out"
        what = exc.strerror or str(exc)
    return WorkbookError(f"{dest}: cannot save: {what}; {unchanged}. To fix: {advice}.")
