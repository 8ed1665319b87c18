"""A workbook as each door reaches it, and what a run is asked and answers: RunOptions,
RunReport, the Door protocol and FileDoor (the open workbook's door is excel/adapter.py),
and what every command that saves does around its work: the lock from read to save, the
backup, the run journal's line (journaled).

Apart from app.py's run functions (read, validate, prices, engine, write) because
trading.py, desk.py, batch.py and the ribbon's macros need only this part: they reach a
workbook, save it and journal it without the engine's pipeline, and app.py is one more
reader of this module rather than the place every door imports.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from . import __version__
from .errors import Problem, WorkbookError, XlRebalancerError
from .models.results import RebalanceResult
from .prices.base import Quote
from .workbook import schema as s
from .workbook.edits import WorkbookEdit
from .workbook.reader import WorkbookInput, read_workbook


@dataclass(frozen=True)
class RunOptions:
    as_of: dt.date | None = None
    prices_file: Path | None = None
    out: Path | None = None
    dry_run: bool = False
    today: dt.date | None = None
    cache: Path | None = None
    network: bool = True
    # Compute every formula cell (ours included) before saving, so cached values are
    # current for Excel without Python, LibreOffice and readers of cached values (formulas/recalc.py).
    recalc: bool = False
    # Replace a workbook Excel seems to hold open, or one marked read-only.
    force: bool = False
    # batch: the household's other workbooks' purchases and loss sales (a spouse's,
    # engine.wash.HouseholdActivity), checked for wash sales with this one's.
    household: Any = None


@dataclass
class RunReport:
    """What a door shows the user after a run."""

    command: str
    workbook: Path
    output: Path | None = None
    result: RebalanceResult | None = None
    warnings: list[Problem] = field(default_factory=list)
    quotes: dict[str, Quote] = field(default_factory=dict)
    input_hash: str = ""
    seconds: float = 0.0
    optimized: Any = None  # engine.allocation.OptimizedTargets when a strategy ran
    actions: Any = None  # engine.actions.ActionsResult for apply-actions
    backup: Path | None = None
    # Seconds per phase (read, prices, solve, write): where a batch spends its time.
    timings: dict[str, float] = field(default_factory=dict)
    # What the engine consumed, hashed (every validated table and setting), and the
    # settings themselves: with the prices, enough to reproduce the run (journal.py).
    inputs_hash: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    recalculated: Any = None  # formulas.recalc.Recalculated when the save computed formulas

    @property
    def trades_hash(self) -> str:
        from .journal import digest

        if self.result is None:
            return ""
        return digest([t.model_dump(mode="json") for t in self.result.trades])

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": True,  # a report exists only for a run that succeeded (cli --json)
            "command": self.command,
            "workbook": str(self.workbook),
            "output": str(self.output) if self.output else None,
            "input_hash": self.input_hash,
            "warnings": [w.to_json() for w in self.warnings],
            "prices": {
                sym: {
                    "price": q.price,
                    "as_of": q.as_of.isoformat() if q.as_of else None,
                    "source": q.source,
                }
                for sym, q in self.quotes.items()
            },
        }
        if self.result is not None:
            data["summary"] = {i.name: i.value for i in self.result.summary}
            data["trades"] = [t.model_dump(mode="json") for t in self.result.trades]
            data["drift"] = [r.model_dump(mode="json") for r in self.result.drift]
            data["realized"] = [r.model_dump(mode="json") for r in self.result.realized]
        if self.recalculated is not None:
            r = self.recalculated
            data["recalc"] = {
                "formulas": r.formulas,
                "computed": r.formulas - len(r.uncomputed),
                "uncomputed": [
                    {"sheet": u.sheet, "cell": u.cell, "formula": u.formula, "reason": u.reason}
                    for u in r.uncomputed
                ],
            }
        if self.optimized is not None:
            a = self.optimized.allocation
            data["optimized"] = {
                "weights": {
                    sym: float(w) * (1.0 - self.optimized.cash_weight)
                    for sym, w in zip(self.optimized.symbols, a.weights, strict=True)
                },
                "expected_return": a.portfolio_return,
                "volatility": a.portfolio_volatility,
                "sharpe": a.sharpe,
            }
        return data


class Door(Protocol):
    """A workbook as one door reaches it: a file (command line, batch) or a book open in
    Excel (the ribbon's macros, through xlwings). The run functions (app.py, trading.py)
    read, save and back up only through this, so every door runs the same code."""

    path: Path

    def digest(self) -> str: ...

    def read(self, options: RunOptions) -> WorkbookInput: ...

    def read_raw(self, specs: Sequence[s.SheetSpec] = s.INPUT_SHEETS) -> dict[str, Any]: ...

    def save(self, edit: WorkbookEdit, out: Path | None) -> Path: ...

    def backup(self, stamp: dt.datetime, kind: str = "actions") -> Path | None: ...

    def lock(self, out: Path | None) -> AbstractContextManager[None]: ...


@dataclass
class FileDoor:
    """A workbook file: read with openpyxl, saved atomically beside itself."""

    path: Path

    def digest(self) -> str:
        if not self.path.exists():
            return ""
        from .workbook.safety import regular_file

        regular_file(self.path)  # before the first read: a FIFO would block it forever
        return file_hash(self.path)

    def read(self, options: RunOptions) -> WorkbookInput:
        return read_workbook(
            self.path,
            as_of=options.as_of,
            today=options.today,
            priced_elsewhere=file_symbols(options.prices_file),
        )

    def read_raw(self, specs: Sequence[s.SheetSpec] = s.INPUT_SHEETS) -> dict[str, Any]:
        from .workbook.rows import read_raw_sheets

        return read_raw_sheets(self.path, specs)

    def save(self, edit: WorkbookEdit, out: Path | None) -> Path:
        from .workbook.writer import save_workbook

        return save_workbook(self.path, edit, out)

    def backup(self, stamp: dt.datetime, kind: str = "actions") -> Path | None:
        """A copy beside the workbook, or a sentence: a copy cut short by a full disk or
        refused by a read-only folder is removed, so no half a backup is left."""
        import shutil

        from .workbook.writer import save_failed

        backup = backup_path(self.path, stamp, kind)
        try:
            shutil.copy2(self.path, backup)
        except OSError as exc:
            with contextlib.suppress(OSError):
                backup.unlink()
            raise save_failed(self.path, exc) from exc
        return backup

    def lock(self, out: Path | None) -> AbstractContextManager[None]:
        """The file this run will write (the workbook, or --out) locked from read to save,
        see workbook/lock.py. A source saved elsewhere is only read, and a rival's atomic save
        never shows it half-written, so its folder gets no lock file."""
        from .workbook.lock import workbook_lock

        return workbook_lock(self.path if out is None else out)


def save_backed_up(door: Door, edit: WorkbookEdit, out: Path | None, backup: Path | None) -> Path:
    """Save, and if the save fails take the backup made for it away too: the workbook is
    unchanged, so a backup of it would only be a stray copy (on a full disk, in the way)."""
    try:
        return door.save(edit, out)
    except BaseException:
        if backup is not None:
            with contextlib.suppress(OSError):
                backup.unlink()
        raise


def file_symbols(prices_file: Path | None) -> frozenset[str]:
    """The symbols a --prices file prices, so validation knows what the sheet need not
    (the file is parsed once per run; the prices are taken from the same parse)."""
    if prices_file is None:
        return frozenset()
    from .prices.file import FilePriceProvider
    from .prices.service import file_provider

    provider = file_provider(Path(prices_file))
    return frozenset(provider.closes) if isinstance(provider, FilePriceProvider) else frozenset()


def backup_path(path: Path, stamp: dt.datetime, kind: str = "actions") -> Path:
    """Where apply-actions (import, record-fills) keeps the workbook as it was, whichever
    door ran it: a name no file has yet, so two saves in one second never keep only the
    second's backup (`….before-import-20261207-041254-2.xlsm`)."""
    base = f"{path.stem}.before-{kind}-{stamp:%Y%m%d-%H%M%S}"
    candidate, number = path.with_name(f"{base}{path.suffix}"), 2
    while candidate.exists():
        candidate = path.with_name(f"{base}-{number}{path.suffix}")
        number += 1
    return candidate


# A backup (backup_path), or a package the write gate refused, kept for a bug report
# (workbook/writer._gate): `book.before-import-20261207-031500.xlsm`, `book.rejected-….xlsm`.
_BACKUP_STEM = re.compile(r"\.(?:before-[a-z]+|rejected)-\d{8}-\d{6}(?:-\d+)?$")


def is_backup(path: Path) -> bool:
    """Whether a file is one of the copies the program keeps beside a workbook (a backup
    of any kind, present or future, or a refused save): the one rule batch uses to leave
    them alone, so none is ever rewritten."""
    return _BACKUP_STEM.search(path.stem) is not None


def as_door(book: str | Path | Door) -> Door:
    return FileDoor(Path(book)) if isinstance(book, str | Path) else book


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def journaled(
    door: Door, command: str, options: RunOptions, work: Callable[[], RunReport]
) -> RunReport:
    """`work` under the workbook's lock (unless a dry run), with its journal line whether it
    worked or stopped: every command that reads and saves a workbook runs through here."""
    with _locked(door, options):
        try:
            report = work()
        except XlRebalancerError as exc:
            _journal(RunReport(command, door.path), options, exc)
            raise
    _journal(report, options)
    return report


def _journal(report: RunReport, options: RunOptions, failed: Exception | None = None) -> None:
    """One line in the run journal (see journal.py), for runs that worked and runs that
    stopped alike."""
    from .journal import record

    entry: dict[str, Any] = {
        "engine_version": __version__,
        "command": report.command,
        "workbook": str(Path(report.workbook).resolve()),
        "status": "error" if failed else "ok",
        "input_sha256": report.input_hash,
        "inputs_sha256": report.inputs_hash,
        "options": {
            "as_of": options.as_of.isoformat() if options.as_of else None,
            "prices_file": str(options.prices_file) if options.prices_file else None,
            "prices_file_sha256": file_hash(options.prices_file)
            if options.prices_file and Path(options.prices_file).is_file()
            else None,
            "network": options.network,
            "dry_run": options.dry_run,
            "out": str(options.out) if options.out else None,
        },
        "settings": report.settings,
    }
    if failed is not None:
        entry["message"] = str(failed)
        entry["problems"] = [p.to_json() for p in getattr(failed, "problems", [])]
    else:
        entry["prices"] = {
            sym: [q.price, q.as_of.isoformat() if q.as_of else None, q.source]
            for sym, q in report.quotes.items()
        }
        entry["output"] = str(report.output) if report.output else None
        entry["output_sha256"] = (
            file_hash(report.output) if report.output and report.output.exists() else None
        )
        if report.result is not None:
            entry["trades_sha256"] = report.trades_hash
            entry["trade_count"] = len(report.result.trades)
            entry["estimated_tax"] = report.result.summary_value("estimated_tax")
        if report.actions is not None:
            entry["applied"] = list(report.actions.applied)
            entry["backup"] = str(report.backup) if report.backup else None
    record(entry)


def _locked(door: Door, options: RunOptions) -> AbstractContextManager[None]:
    """A run that will save holds the workbook's lock from its read to its save, and
    first makes sure the file may be replaced (workbook.safety.may_replace; --force skips it)."""
    if options.dry_run:
        return nullcontext()
    if options.out is not None:
        _out_is_a_file(Path(options.out))
    if isinstance(door, FileDoor) and not options.force:
        from .workbook.safety import may_replace

        may_replace(door.path, Path(options.out) if options.out else door.path)
    return door.lock(options.out)


def _out_is_a_file(out: Path) -> None:
    """--out may name a new file or a workbook to replace, never a pipe, device or folder:
    a save renames its new file over the name, and a FIFO would be gone (--force too)."""
    import os
    import stat

    try:
        mode = os.stat(out).st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise WorkbookError(f"{out}: cannot be written ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(mode):
        what = "a folder" if stat.S_ISDIR(mode) else "not a regular file (a pipe, socket or device)"
        raise WorkbookError(
            f"{out}: is {what}; nothing was written. To fix: give --out a workbook file name"
        )
