"""Orchestration shared by every door: read → validate → prices → engine → write.

The command line, the ribbon macros and the batch runner call these functions and
only translate their results, so all three give the same numbers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from . import __version__
from .errors import (
    InfeasibleError,
    InputError,
    PriceError,
    Problem,
    WorkbookError,
    XlRebalancerError,
)
from .models.results import RebalanceResult
from .prices.base import Quote
from .prices.service import QuoteSet, latest_quotes, market_provider, stale_warnings
from .workbook import schema as s
from .workbook.edits import InputRewrite, SheetOutput, WorkbookEdit
from .workbook.outputs import (
    drift_sheet,
    harvest_sheet,
    log_entries,
    log_sheet,
    optimized_sheet,
    realized_sheet,
    report_sheet,
    summary_sheet,
    trades_sheet,
)
from .workbook.reader import WorkbookInput, read_workbook

COMMANDS = (
    "validate",
    "refresh-prices",
    "drift",
    "optimize",
    "rebalance",
    "harvest",
    "realized",
    "run",
    "recalc",
)
# apply-actions has its own entry point (apply_corporate_actions): it edits input sheets.


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
    # current for Excel without Python, LibreOffice and readers of cached values (io.recalc).
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
    recalculated: Any = None  # io.recalc.Recalculated when the save computed formulas

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
    Excel (the ribbon's macros, through xlwings). The run functions below read, save and
    back up only through this, so every door runs the same code."""

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
        see io.lock. A source saved elsewhere is only read, and a rival's atomic save
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


def validate(path: str | Path | Door, options: RunOptions = RunOptions()) -> WorkbookInput:
    """Read and check every input sheet; raises InputError with every problem. With a
    price file (`--prices`), every symbol held or targeted must also be priced by it, the
    Prices sheet or the local cache, as the run will price it: a client whose price is
    missing would pass `batch --command validate` and fail that night."""
    book = as_door(path).read(options)
    if options.prices_file is not None:
        try:
            resolve_prices(book, replace(options, network=False))
        except PriceError as exc:
            raise InputError([*exc.problems, *book.warnings]) from exc
    return book


def resolve_prices(book: WorkbookInput, options: RunOptions, *, history: bool = False) -> QuoteSet:
    """Latest price of every symbol the workbook uses; a symbol without one stops the run
    with an error at the first cell that names it."""
    portfolio = book.portfolio
    settings = portfolio.settings
    valuation = settings.valuation_date or dt.date.today()
    market = market_provider(settings.price_source, options.cache, options.network)
    history_days = settings.lookback_days if history and settings.strategy != "targets" else 0
    # Substitutes are priced when a source has them (the rebalance may buy one while a
    # wash sale blocks its fund) but, unlike the symbols held or targeted, not required.
    needed = portfolio.symbols()
    found = latest_quotes(
        portfolio,
        needed,
        valuation,
        prices_file=options.prices_file,
        market=market,
        history_days=history_days,
    )
    _substitute_quotes(book, options, found, needed, valuation, market, history_days)
    sheet_rows = {p.symbol: p for p in portfolio.prices}
    for symbol, age in stale_warnings(found.quotes, valuation, settings.stale_price_days):
        quote = found.quotes[symbol]
        row = sheet_rows.get(symbol) if quote.source not in {"file", "yahoo", "cache"} else None
        found.warnings.append(
            Problem(
                f"price of {symbol} is {age} trading days old ({quote.as_of}, {quote.source})",
                book.locator.title("Prices") if row else None,
                book.locator.cell("Prices", row.row, "as_of") if row else None,
                "warning",
            )
        )
    missing = [s for s in needed if s not in found.quotes]
    if missing:
        problems = [_first_use(book, s, found.failed.get(s, "")) for s in missing]
        # The feed's and the cache's notes say why (Yahoo unreachable, a damaged cache).
        raise PriceError(
            f"no price for {', '.join(missing)}", missing, [*problems, *found.warnings]
        )
    return found


def _substitute_quotes(
    book: WorkbookInput,
    options: RunOptions,
    found: QuoteSet,
    needed: Sequence[str],
    valuation: dt.date,
    market: Any,
    history_days: int,
) -> None:
    """Substitutes' prices, asked for apart from the symbols the run needs: a feed that
    cannot be reached for them alone is not news about the run (--prices may cover every
    symbol held or targeted), while each Substitute left without a price is, at its
    Targets cell: a wash sale blocking its fund could not buy it."""
    portfolio = book.portfolio
    rows = [t for t in portfolio.targets if t.substitute and t.substitute not in needed]
    wanted = list(dict.fromkeys(t.substitute for t in rows if t.substitute))
    # The model's substitutes for the funds held (the harvest's replacements): priced
    # when a source has them, used only then (engine.harvest.substitute_for).
    held = {x.symbol for x in (*portfolio.holdings, *portfolio.lots)}
    wanted += [
        sec.substitute
        for sec in portfolio.securities
        if sec.symbol in held
        and sec.substitute
        and sec.substitute not in needed
        and sec.substitute not in wanted
    ]
    wanted = list(dict.fromkeys(wanted))
    if not wanted:
        return
    said = {w.message for w in found.warnings}
    extra = latest_quotes(
        portfolio,
        wanted,
        valuation,
        prices_file=options.prices_file,
        market=market,
        history_days=history_days,
    )
    found.quotes.update(extra.quotes)
    found.warnings += [
        w for w in extra.warnings if w.message not in said and "unreachable" not in w.message
    ]
    for target in rows:
        symbol = target.substitute
        if symbol is None or symbol in found.quotes:
            continue
        why = extra.failed.get(symbol, "no price")
        found.warnings.append(
            book.locator.problem(
                f"Substitute {symbol} (for {target.symbol}) has no price ({why}): if a wash "
                f"sale blocks {target.symbol}, its money stays in cash; add {symbol} to the "
                "Prices sheet (Source manual) or the --prices file",
                "Targets",
                target.row,
                "substitute",
                "warning",
            )
        )


def _first_use(book: WorkbookInput, symbol: str, why: str) -> Problem:
    """The first cell that names a symbol, so a missing price points somewhere useful."""
    p = book.portfolio
    detail = f" ({why})" if why else ""
    for sheet, rows in (("Holdings", p.holdings), ("TaxLots", p.lots), ("Targets", p.targets)):
        for row in rows:
            if getattr(row, "symbol", None) == symbol:
                return Problem(
                    f"no price for {symbol}{detail}; add it to the Prices sheet with "
                    "Source manual, or pass --prices",
                    book.locator.title(sheet),
                    book.locator.cell(sheet, row.row, "symbol"),
                )
    for sec in p.securities:
        if sec.symbol == symbol and sec.buy:
            return Problem(
                f"no price for {symbol}{detail}: the model file's Buy fund for "
                f"{sec.asset_class}, which no fund the household holds is in; add it to the "
                "Prices sheet with Source manual, or pass --prices"
            )
    return Problem(f"no price for {symbol}{detail}")


def run_engine(
    path: str | Path | Door, command: str, options: RunOptions = RunOptions()
) -> RunReport:
    """`refresh-prices`, `drift`, `rebalance`, `harvest` or `run` on one workbook, saved once,
    atomically."""

    if command not in COMMANDS:
        raise ValueError(command)
    door = as_door(path)
    run = _recalc_only if command == "recalc" else _run_engine
    return journaled(door, command, options, lambda: run(door, command, options))


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
    first makes sure the file may be replaced (io.safety.may_replace; --force skips it)."""
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


def _run_engine(door: Door, command: str, options: RunOptions) -> RunReport:

    path = door.path
    started = dt.datetime.now().replace(microsecond=0)
    clock = time.perf_counter()
    book = door.read(options)
    if command in {"rebalance", "run"} and book.portfolio.settings.proposal_status == "exported":
        _held(door)
    digest = door.digest()
    read_done = time.perf_counter()
    refresh = command in {"refresh-prices", "run"}
    # `realized` reads Transactions only: it needs no price, so it asks no feed.
    found = QuoteSet() if command == "realized" else resolve_prices(book, options, history=refresh)
    report = RunReport(
        command, path, None, None, [*book.warnings, *found.warnings], found.quotes, digest
    )
    _fingerprint(report, book)
    report.timings = {"read": read_done - clock, "prices": time.perf_counter() - read_done}
    solve_start = time.perf_counter()
    try:
        _compute(book, command, options, report)
    except InfeasibleError as exc:
        # The engine names rows and settings; the cells are the reader's to know.
        exc.problems = [book.locator.place(p) for p in exc.problems]
        raise
    report.seconds = time.perf_counter() - clock
    report.timings["solve"] = time.perf_counter() - solve_start
    if not options.dry_run:
        write_start = time.perf_counter()
        edit = WorkbookEdit(
            sheets=_sheets(report, started, book if refresh else None), recalc=options.recalc
        )
        report.output = door.save(edit, options.out)
        _recalculated(report, edit)
        report.seconds = time.perf_counter() - clock
        report.timings["write"] = time.perf_counter() - write_start
    return report


def _held(door: Door) -> None:
    """An exported proposal awaiting its fills is not replaced by a run: record-fills
    relieves the lots its Trades rows name (proposal.py)."""
    from .errors import ProposalHeld
    from .proposal import refusal, state

    problem = refusal(state(door.read_raw([s.TRADES, s.SETTINGS, s.ACCOUNTS])), "run")
    if problem is not None:
        raise ProposalHeld([problem])


def _recalc_only(door: Door, command: str, options: RunOptions) -> RunReport:
    """`recalc`: every formula computed and cached, nothing else changed (the Log gains
    the cells that could not be computed)."""
    clock = time.perf_counter()
    report = RunReport(command, door.path, input_hash=door.digest())
    if options.dry_run:
        return report
    edit = WorkbookEdit(recalc=True)
    report.output = door.save(edit, options.out)
    _recalculated(report, edit)
    report.seconds = report.timings["write"] = time.perf_counter() - clock
    return report


def _recalculated(report: RunReport, edit: WorkbookEdit) -> None:
    result = edit.recalculated
    if result is None:
        return
    report.recalculated = result
    report.warnings += [
        Problem(f"not computed headless: {u.reason} ({u.formula})", u.sheet, u.cell, "warning")
        for u in result.uncomputed
    ]
    report.warnings += [
        Problem(f"{u.reason} ({u.formula})", u.sheet, u.cell, "warning")
        for u in result.spill_blocked
    ]


def _compute(book: WorkbookInput, command: str, options: RunOptions, report: RunReport) -> None:
    """Targets (a strategy, when one is set) and the engine's result, onto `report`."""
    from .engine.rebalance import rebalance

    portfolio = book.portfolio
    strategy = portfolio.settings.strategy
    if command == "optimize" and strategy == "targets":
        raise InputError(
            [
                book.locator.setting(
                    "optimize needs a strategy other than targets (for example min_variance)",
                    "strategy",
                )
            ]
        )
    if command in {"optimize", "drift", "rebalance", "run"} and strategy != "targets":
        report.optimized, notes = optimize_targets(book, options)
        portfolio = report.optimized.portfolio
        report.warnings += notes
    if command not in {"refresh-prices", "optimize"}:
        report.warnings += _later_sales(book)
    if command == "realized":
        from .engine.summary import item
        from .engine.tax import realized_rows

        valuation = portfolio.settings.valuation_date
        report.result = RebalanceResult(
            realized=tuple(realized_rows(portfolio)),
            summary=(
                item("valuation_date", valuation.isoformat() if valuation else None),
                # What the journal and the ribbon read: this command trades nothing.
                item("estimated_tax", 0.0),
            ),
        )
        return
    if command not in {"refresh-prices", "optimize"}:
        prices = {sym: q.price for sym, q in report.quotes.items()}
        risk = _risk_model(book, options, report)
        trade = command in {"rebalance", "run"}
        if trade and portfolio.settings.do_not_trade:
            # The household is held (a pending transfer, the client's request): its
            # drift is reported, its Trades sheet emptied, nothing proposed.
            trade = False
            report.warnings.append(
                book.locator.setting(
                    "do_not_trade is TRUE: no trade is proposed for this household (the "
                    "drift is as it stands); clear it to rebalance",
                    "do_not_trade",
                    "warning",
                )
            )
        report.result = rebalance(
            portfolio,
            prices,
            trade=trade,
            risk=risk,
            household_activity=options.household,
        )
        report.warnings += [book.locator.place(w) for w in report.result.warnings]


def _later_sales(book: WorkbookInput) -> list[Problem]:
    from .engine.tax import sales_after_valuation

    valuation = book.portfolio.settings.valuation_date
    return [
        book.locator.problem(
            f"the sale of {t.shares:g} {t.symbol} in {t.account} on {t.date} is after the "
            f"valuation date {valuation}: it is not in Realized nor in the year's tax; set "
            "valuation_date to that day or later to count it",
            "Transactions",
            t.row,
            "date",
            "warning",
        )
        for t in sales_after_valuation(book.portfolio)
    ]


def _fingerprint(report: RunReport, book: WorkbookInput) -> None:
    from .journal import digest

    report.settings = book.portfolio.settings.model_dump(mode="json")
    report.inputs_hash = digest(book.portfolio.model_dump(mode="json"))


def _history(book: WorkbookInput, options: RunOptions, symbols: list[str], *, network: bool) -> Any:
    """Daily returns of `symbols` over lookback_days: the price file, else the cache
    (and Yahoo behind it when `network`)."""
    from .prices.service import return_history

    settings = book.portfolio.settings
    market = None
    if options.prices_file is None:
        market = market_provider(settings.price_source, options.cache, network)
    return return_history(
        symbols,
        settings.valuation_date or dt.date.today(),
        settings.lookback_days,
        prices_file=options.prices_file,
        market=market,
    )


def _risk_model(
    book: WorkbookInput, options: RunOptions, report: RunReport
) -> tuple[list[str], Any] | None:
    """Covariance of every held or targeted symbol from the history at hand (the price
    file, or the cache without going online), for tracking error in the Summary; None
    with a Log note when there is not enough."""
    import numpy as np

    from .engine.estimators import covariance

    settings = book.portfolio.settings
    symbols = [sym for sym in book.portfolio.symbols() if sym != "CASH"]
    history = _history(book, options, symbols, network=False)
    if history.missing or len(history.returns) < 20 or not symbols:
        report.warnings.append(
            Problem(
                "not enough price history for a risk model: the Summary reports drift "
                "distance, not tracking error",
                level="info",
            )
        )
        return None
    returns = np.array(history.returns)
    return symbols, covariance(returns, settings.covariance).cov


def optimize_targets(book: WorkbookInput, options: RunOptions) -> tuple[Any, list[Problem]]:
    """Target weights by the workbook's strategy, from its price history."""
    import numpy as np

    from .engine.allocation import optimized_targets, universe, views_outside

    portfolio = book.portfolio
    settings = portfolio.settings
    symbols = universe(portfolio)
    if len(symbols) < 2:
        raise InputError(
            [
                Problem(
                    f"strategy {settings.strategy} needs at least two symbols on Targets "
                    "(or held, with asset-class targets)",
                    book.locator.title("Targets"),
                    "A1",
                )
            ]
        )
    problems = [
        book.locator.problem(message, "Views", view.row, fld)
        for view, fld, message in views_outside(portfolio, symbols)
    ]
    if problems:
        raise InputError(problems)
    history = _history(book, options, symbols, network=options.network)
    if history.missing:
        missing = sorted(history.missing)
        raise PriceError(
            f"no price history for {', '.join(missing)}",
            missing,
            [_first_use(book, sym, "no price history") for sym in missing],
        )
    found_days = len(history.returns)
    result = optimized_targets(portfolio, symbols, np.array(history.returns))
    warnings = [Problem(n, level="info") for n in result.allocation.notes]
    if found_days < settings.lookback_days:
        warnings.append(
            book.locator.setting(
                f"only {found_days} days of shared price history for {settings.lookback_days} "
                "asked in lookback_days; the estimates use what there is",
                "lookback_days",
                "warning",
            )
        )
    return result, warnings


def prices_rows(book: WorkbookInput, quotes: dict[str, Quote]) -> list[dict[str, Any]]:
    """The refreshed Prices sheet: the user's manual rows as they were, then the feed's."""
    rows = [r.model_dump() for r in book.portfolio.prices if r.source == "manual"]
    manual = {r["symbol"] for r in rows}
    rows += [
        {"symbol": q.symbol, "price": q.price, "as_of": q.as_of, "source": q.source}
        for q in quotes.values()
        if q.symbol not in manual
    ]
    return rows


def _sheets(
    report: RunReport, started: dt.datetime, refreshed: WorkbookInput | None
) -> list[SheetOutput]:
    from .workbook.tables import add_dropdowns

    sources = sorted({q.source for q in report.quotes.values()})
    valuation = next(iter(report.quotes.values())).as_of if report.quotes else None
    if report.result is not None:
        valuation = report.result.summary_value("valuation_date")
    notes = [
        f"xl-rebalancer {__version__} {report.command}: input sha256 {report.input_hash}, "
        f"prices from {', '.join(sources) or 'nowhere'}, valuation date {valuation}",
        *_journal_notes(report),
    ]
    sheets: list[SheetOutput] = []
    if refreshed is not None:
        sheets.append(
            SheetOutput(
                s.PRICES,
                prices_rows(refreshed, report.quotes),
                decorate=lambda ws: add_dropdowns(ws, s.PRICES),
            )
        )
    if report.optimized is not None:
        sheets.append(optimized_sheet(report.optimized))
    if report.command == "harvest" and report.result is not None:
        sheets.append(harvest_sheet(report.result))
    elif report.command == "realized" and report.result is not None:
        sheets.append(realized_sheet(report.result))
    elif report.result is not None:
        extra = [
            ("Command", report.command),
            ("Engine version", __version__),
            ("Input hash", report.input_hash),
            ("Run at", started.isoformat(sep=" ")),
            ("Compute seconds", round(report.seconds, 3)),
        ]
        # `drift` writes the same sheets with no trades: an earlier proposal's Trades and
        # Report left beside a Summary of 0 trades would contradict it.
        sheets += [
            drift_sheet(report.result),
            trades_sheet(report.result),
            harvest_sheet(report.result),
            realized_sheet(report.result),
            summary_sheet(report.result, extra),
            report_sheet(
                report.result,
                show=report.command != "drift",
                settings=report.settings,
                prepared=started.date(),
            ),
        ]
    sheets.append(log_sheet(log_entries(report.warnings, started, notes)))
    _show_result(sheets, report.command)
    return sheets


# The sheet each command's result is read on; the workbook opens there after the run.
SHOWN = {
    "refresh-prices": s.PRICES.name,
    "optimize": s.OPTIMIZED_TARGETS.name,
    "drift": s.DRIFT.name,
    "harvest": s.TAX_HARVEST.name,
    "realized": s.REALIZED.name,
}


def _show_result(sheets: list[SheetOutput], command: str) -> None:
    if any(sheet.show for sheet in sheets):
        return
    for sheet in sheets:
        sheet.show = sheet.spec.name == SHOWN.get(command)


def _journal_notes(report: RunReport) -> list[str]:
    """The run's fingerprint on the Log sheet, as in the run journal (journal.py)."""
    from .journal import journal_path

    settings = ", ".join(f"{k}={v}" for k, v in report.settings.items() if v is not None)
    notes = [f"inputs sha256 {report.inputs_hash} (every validated table and setting)"]
    if report.result is not None:
        notes.append(f"trades sha256 {report.trades_hash} ({len(report.result.trades)} trades)")
    notes.append(f"settings: {settings}")
    notes.append(f"run journal: {journal_path()}")
    return notes


def apply_corporate_actions(
    path: str | Path | Door, options: RunOptions = RunOptions()
) -> RunReport:
    """`apply-actions`: apply every due pending corporate action to the lots, holdings and
    cash, mark them applied, log each change, keep a backup beside the workbook."""
    door = as_door(path)
    return journaled(
        door, "apply-actions", options, lambda: _apply_corporate_actions(door, options)
    )


def _apply_corporate_actions(door: Door, options: RunOptions) -> RunReport:
    from .engine.actions import apply_actions, due_actions

    path = door.path
    started = dt.datetime.now().replace(microsecond=0)
    clock = time.perf_counter()
    book = door.read(options)
    digest = door.digest()
    portfolio = book.portfolio
    held = {x.symbol for x in (*portfolio.holdings, *portfolio.lots) if x.shares > 0}
    unknown = [
        book.locator.problem(
            f"{a.action_id}: {a.symbol} is not held in any account (delete the row, or set "
            "Status to applied)",
            "CorporateActions",
            a.row,
            "symbol",
        )
        for a in due_actions(portfolio)
        if a.symbol not in held
    ]
    if unknown:
        raise InputError([*unknown, *book.warnings])
    # Only where an action row gives no price of its own (a split's cash in lieu, a
    # reinvested dividend): the Prices sheet, as last refreshed.
    prices = {p.symbol: p.price for p in portfolio.prices}
    result = apply_actions(portfolio, prices, applied_on=options.today or dt.date.today())
    report = RunReport("apply-actions", path, None, None, [*book.warnings], {}, digest)
    _fingerprint(report, book)
    report.actions = result
    report.warnings += result.warnings
    report.seconds = time.perf_counter() - clock
    if options.dry_run or not result.applied:
        return report
    if options.out is None:
        report.backup = door.backup(started)
    notes = [
        f"xl-rebalancer {__version__} apply-actions: input sha256 {digest}, applied "
        f"{', '.join(result.applied)}"
        + (f"; backup {report.backup.name}" if report.backup else ""),
        *_journal_notes(report),
    ]
    notes += result.changes
    notes += [
        f"{r.action_id}: {r.account} {r.symbol} lot {r.lot_id or '-'}: {r.shares:g} sh, "
        f"proceeds {r.proceeds:,.2f}, basis {r.basis:,.2f}, "
        f"{'gain' if r.gain >= 0 else 'loss'} {abs(r.gain):,.2f} {r.term}"
        + ("" if r.taxable else " (not taxable: tax-advantaged account)")
        for r in result.realized
    ]
    edit = WorkbookEdit(
        sheets=[log_sheet(log_entries(report.warnings, started, notes))],
        rewrites=_action_rewrites(book, result),
        recalc=options.recalc,
    )
    report.output = save_backed_up(door, edit, options.out, report.backup)
    _recalculated(report, edit)
    report.seconds = time.perf_counter() - clock
    return report


def _action_rewrites(book: WorkbookInput, result: Any) -> list[InputRewrite]:
    """TaxLots, Holdings, Accounts.Cash and CorporateActions rewritten in place."""
    portfolio = book.portfolio

    def dump(item: Any) -> dict[str, Any]:
        # Defaults the user left blank stay blank (a 0 wash adjustment, a FALSE Taxable).
        data = item.model_dump()
        for key in ("wash_adjustment", "taxable", "inherited"):
            if key in data and not data[key]:
                data[key] = None
        return data

    def rewrite(spec: s.SheetSpec, records: list, create: bool = False) -> InputRewrite:
        return InputRewrite(spec, book.locator.title(spec.name), records, create)

    out = [rewrite(s.TAX_LOTS, [(x.row, dump(x)) for x in result.lots], bool(result.lots))]
    if portfolio.holdings or result.holdings:
        out.append(rewrite(s.HOLDINGS, [(x.row, dump(x)) for x in result.holdings]))
    out.append(
        rewrite(
            s.ACCOUNTS,
            [
                (a.row, {**dump(a), "cash": result.cash.get(a.account, a.cash)})
                for a in portfolio.accounts
            ],
        )
    )
    out.append(rewrite(s.CORPORATE_ACTIONS, [(a.row, dump(a)) for a in result.actions]))
    return out
