"""Many workbooks in one command: worker processes on this machine, or a Dask cluster.

An adviser's night run: hundreds to thousands of client workbooks, each read, solved
and saved by `app.run_engine` exactly as `xl-rebalancer run BOOK` would. What this module
adds is isolation and bookkeeping:

- every workbook runs in a worker and comes back as one `BatchRow`, never an exception:
  a broken file, bad input or a bug in one workbook is a row with its message, and the
  others go on. A worker process that dies outright (out of memory, a crash in native
  code) breaks the pool; its unfinished workbooks are then run again one per fresh
  process, so only the culprit is marked;
- prices are fetched once, for the union of every workbook's symbols, into the shared
  SQLite cache; the workers then read the cache and never go to the network;
- outputs go beside the inputs (in place) or under `out_dir`, keeping the inputs'
  folder structure so two clients' `portfolio.xlsm` never collide;
- the workbooks of one household (Settings `household`: spouses) run one after another
  in one task, each with the others' purchases and loss sales, so a wash sale across
  them is caught (IRS Pub. 550 counts a spouse's purchase); docs/batch.md;
- the review (REPORT.csv/.json/.xlsx), the firm-wide tax view (REPORT-tax.csv), both
  written by batch_report.py from the rows, and, with `pdf`, each client's Report page
  as a PDF.

Dask (`scheduler`): the same `run_one` is submitted to a dask.distributed scheduler.
The workers must see the same paths (a shared disk) and have xl-rebalancer installed.
"""

from __future__ import annotations

import datetime as dt
import gc
import glob
import os
import subprocess
import time
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .app import COMMANDS
from .batch_report import BatchResult, BatchRow, _desk, _number, _problems, _review
from .door import RunOptions, is_backup
from .errors import InputError, Problem, ProposalHeld, XlRebalancerError

BATCH_COMMANDS = COMMANDS
# Commands that never ask for prices, so a batch of them fetches none up front.
PRICELESS = {"validate", "recalc"}
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")
CONNECT_SECONDS = 10  # to reach a Dask scheduler before giving up

# Commands whose run writes the Report page (harvest and realized write their own sheet).
PAGE_COMMANDS = {"run", "rebalance", "drift"}
# Commands that check wash sales: their workbooks of one household run together.
HOUSEHOLD_COMMANDS = {"run", "rebalance", "drift", "harvest"}


@dataclass(frozen=True)
class BatchOptions:
    command: str = "run"
    # Prices, cache, network and dates; `out` is set per workbook.
    run: RunOptions = field(default_factory=RunOptions)
    out_dir: Path | None = None
    workers: int | None = None  # None: every core; 1: in this process, one after another
    scheduler: str | Any = None  # a dask.distributed address (or Cluster) instead of local
    pdf: bool = False  # the Report page as a PDF beside each saved (or would-be) workbook


# finding the workbooks ---------------------------------------------------------------


def _skipped(path: Path) -> bool:
    """Files that look like workbooks but are not the user's: Excel's lock files (~$),
    our own temporary saves (.~) and every backup the program keeps (apply-actions,
    import, record-fills: door.is_backup)."""
    return path.name.startswith(("~$", ".~")) or is_backup(path)


def is_model_file(path: Path) -> bool:
    """A firm's model file (docs/model.md) kept among the clients: a workbook with a
    Targets or Securities table and no Accounts table is a model, never a client."""
    from .workbook.cells import Package
    from .workbook.safety import check_package

    try:
        check_package(path)
        with Package(path) as book:
            names = {t.name.lower() for refs in book.tables().values() for t in refs}
    except Exception:  # not readable here: its own run says why
        return False
    return "tblaccounts" not in names and bool(names & {"tblsecurities", "tbltargets"})


def collect_workbooks(items: Sequence[str | Path]) -> tuple[list[Path], list[BatchRow]]:
    """Workbooks named by files, folders (searched recursively) and glob patterns, each
    once, in a stable order; what matches nothing becomes an error row."""
    found: dict[Path, None] = {}
    missing: list[BatchRow] = []
    for item in items:
        text = str(item)
        path = Path(text)
        if path.is_dir():
            matches = sorted(
                p
                for p in path.rglob("*")
                if p.suffix.lower() in WORKBOOK_SUFFIXES
                and p.is_file()
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            matches = [p for p in matches if _skipped(p) or not is_model_file(p)]
        elif path.is_file():
            matches = [path]
        elif glob.has_magic(text):
            matches = sorted(
                Path(p)
                for p in glob.glob(text, recursive=True)
                if Path(p).is_file() and Path(p).suffix.lower() in WORKBOOK_SUFFIXES
            )
        else:
            missing.append(BatchRow(workbook=text, status="error", message="no such file"))
            continue
        matches = [p for p in matches if not _skipped(p)]
        if not matches:
            missing.append(
                BatchRow(workbook=text, status="error", message="no .xlsx or .xlsm workbook here")
            )
        for match in matches:
            found.setdefault(match, None)
    return list(found), missing


def output_paths(paths: Sequence[Path], out_dir: Path | None) -> dict[Path, Path | None]:
    """Where each result is saved: in place, or under out_dir with the inputs' folders
    below their common parent, so equal file names in different folders never collide."""
    if out_dir is None:
        return dict.fromkeys(paths)
    resolved = [p.resolve() for p in paths]
    root = Path(os.path.commonpath([p.parent for p in resolved])) if resolved else Path()
    return {p: out_dir / r.relative_to(root) for p, r in zip(paths, resolved, strict=True)}


# one workbook --------------------------------------------------------------------------


def run_one(path: Path, command: str, options: RunOptions, pdf: Path | None = None) -> BatchRow:
    """Run one workbook and say how it went; never raises, so one workbook cannot stop
    a batch (the worker's own death is handled by the caller)."""
    return _run(path, command, options, pdf)[0]


def _run(
    path: Path, command: str, options: RunOptions, pdf: Path | None = None
) -> tuple[BatchRow, Any]:
    """run_one, with the run's result (a household passes it on to the next member);
    `pdf`, when given, is where the Report page is printed."""
    from .app import run_engine, validate
    from .quiet import configure

    # Every worker (a pool's fresh interpreter, a Dask process) quiet like ours; --verbose
    # reaches it through the environment.
    configure()
    clock = time.perf_counter()
    row = BatchRow(workbook=str(path), status="ok")
    result = None
    try:
        if command == "validate":
            book = validate(path, options)
            row.problems = _problems(book.warnings)
        else:
            report = run_engine(path, command, options)
            row.output = str(report.output) if report.output else None
            row.problems = _problems(w for w in report.warnings if w.level != "info")
            timings = report.timings
            row.read_seconds = timings.get("read", 0.0)
            row.prices_seconds = timings.get("prices", 0.0)
            row.solve_seconds = timings.get("solve", 0.0)
            row.write_seconds = timings.get("write", 0.0)
            settings = report.settings
            row.client = str(settings.get("client_name") or "")
            row.household = str(settings.get("household") or "")
            row.st_carryover = _number(settings.get("st_loss_carryover"))
            row.lt_carryover = _number(settings.get("lt_loss_carryover"))
            result = report.result
            if result is not None:
                _review(row, result)
                if pdf is not None and command in PAGE_COMMANDS:
                    _write_pdf(row, report, pdf)
    except ProposalHeld as exc:
        row.status = "skipped"
        row.message = str(exc.problems[0].message) if exc.problems else str(exc)
    except InputError as exc:
        errors = [p for p in exc.problems if p.level == "error"]
        first = errors[0] if errors else None
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        row.status = "invalid"
        row.message = f"{first}{more}" if first else str(exc)
        row.problems = _problems([*exc.problems, *exc.warnings])
    except XlRebalancerError as exc:
        row.status = "error"
        row.message = str(exc)
        row.problems = _problems(getattr(exc, "problems", []))
    except Exception as exc:  # a bug: reported in the row, the batch goes on
        row.status = "crashed"
        row.message = f"internal error ({type(exc).__name__}: {exc})"
        row.problems = [Problem(traceback.format_exc()).to_json()]
    _desk(row, path, command, options)
    warned = [p for p in row.problems if p.get("level") == "warning"]
    row.warnings = len(warned)
    row.first_warning = str(warned[0].get("message") or "") if warned else ""
    failed = next((p for p in row.problems if p.get("level") == "error"), None)
    if not row.ok and failed is not None and failed.get("sheet"):
        row.where = f"{failed['sheet']}!{failed.get('cell') or 'A1'}"
    row.seconds = time.perf_counter() - clock
    return row, result


def _write_pdf(row: BatchRow, report: Any, target: Path) -> None:
    """The run's Report page as `target`; a PDF that cannot be made is a warning on the
    row, the run itself stands."""
    from .report.page import build_report
    from .report.pdf import report_pdf

    page = build_report(report.result, report.settings, dt.date.today())
    try:
        row.pdf = str(report_pdf(page, target))
    except (XlRebalancerError, OSError, subprocess.SubprocessError) as exc:
        row.problems.append(Problem(f"no PDF of the Report: {exc}", level="warning").to_json())


# households over several workbooks ----------------------------------------------------


def household_of(path: Path) -> str | None:
    """The Settings sheet's `household` id, read cheaply (the package checked as every
    read checks it, then that one sheet's XML); a workbook that cannot be read has none
    here, and its own run says why."""
    from .workbook import schema as s
    from .workbook.cells import Package
    from .workbook.safety import check_package

    try:
        check_package(path)
        with Package(path) as package:
            if s.SETTINGS.name not in package.sheets:
                return None
            rows = package.rows(s.SETTINGS.name)
            header = [_token(h) for h in next(rows, ())]
            if "setting" not in header or "value" not in header:
                return None
            name_at, value_at = header.index("setting"), header.index("value")
            for row in rows:
                if len(row) > max(name_at, value_at) and _token(row[name_at]) == "household":
                    value = row[value_at]
                    return str(value).strip() or None if value is not None else None
    except Exception:
        return None
    return None


def _token(value: Any) -> str:
    return "_".join(str(value or "").strip().lower().split())


def household_units(paths: Sequence[Path]) -> list[tuple[Path, ...]]:
    """The batch's units of work in input order: a workbook alone, or every workbook of
    a household (two or more sharing Settings `household`, compared without case), run
    one after another in one worker so each sees the others' trades of the night."""
    groups: dict[str, list[Path]] = {}
    keys: dict[Path, str | None] = {}
    for path in paths:
        key = household_of(path)
        keys[path] = key.casefold() if key else None
        if keys[path]:
            groups.setdefault(keys[path], []).append(path)
    units: list[tuple[Path, ...]] = []
    placed: set[str] = set()
    for path in paths:
        key = keys[path]
        if key is None or len(groups[key]) < 2:
            units.append((path,))
        elif key not in placed:
            placed.add(key)
            units.append(tuple(groups[key]))
    return units


def _tagged(name: str, account: str) -> str:
    """A spouse's account named with its workbook, so it never reads as one of ours."""
    return f"{account} ({name})"


def recorded_activity(path: Path, options: RunOptions) -> Any:
    """A workbook's purchases and loss sales on record (engine.wash), as another member
    of its household sees them: accounts name the workbook, and no lot key
    or Transactions row of it can be taken for one of the other workbook's own."""
    from .engine.wash import HouseholdActivity, LossSale, Purchase, past_loss_sales, past_purchases
    from .workbook.reader import read_workbook

    try:
        portfolio = read_workbook(path, as_of=options.as_of, today=options.today).portfolio
    except Exception:
        return HouseholdActivity()
    name = path.name
    purchases = tuple(
        Purchase(_tagged(name, p.account), p.symbol, p.date, p.shares, p.source)
        for p in past_purchases(portfolio)
    )
    sales = tuple(
        LossSale(
            _tagged(name, x.account),
            x.symbol,
            x.date,
            x.shares,
            x.loss,
            x.source,
            holding_start=x.holding_start,
            acquired=x.acquired,
            matched=x.matched,
        )
        for x in past_loss_sales(portfolio)[0]
    )
    return HouseholdActivity(purchases, sales)


def planned_activity(path: Path, result: Any) -> Any:
    """What a workbook's proposal of tonight buys, and sells at a loss in taxable
    accounts, dated its valuation date: the next member of the household must not
    undo it with a wash sale."""
    from .engine.wash import HouseholdActivity, LossSale, Purchase

    valuation = result.summary_value("valuation_date")
    if not valuation or not result.trades:
        return HouseholdActivity()
    day = dt.date.fromisoformat(str(valuation))
    taxable = {a.account for a in result.accounts if a.type == "taxable"}
    name = path.name
    purchases = tuple(
        Purchase(_tagged(name, t.account), t.symbol, day, t.shares, "tonight's proposal")
        for t in result.trades
        if t.action == "BUY"
    )
    sales = tuple(
        LossSale(
            _tagged(name, t.account),
            t.symbol,
            day,
            t.shares,
            -t.realized_gain,
            "tonight's proposal",
            holding_start=t.acquired,
            acquired=t.acquired,
        )
        for t in result.trades
        if t.action == "SELL"
        and t.account in taxable
        and t.realized_gain is not None
        and t.realized_gain < 0
    )
    return HouseholdActivity(purchases, sales)


def run_unit(
    first: Path,
    members: tuple[Path, ...],
    command: str,
    options: Sequence[RunOptions],
    pdfs: Sequence[Path | None] = (),
) -> list[BatchRow]:
    """A unit's rows: one workbook's, or a household's in order, each member run with
    the others' purchases and loss sales on record and those planned tonight by the
    members before it (IRS Pub. 550: a spouse's purchase washes your loss)."""
    from .engine.wash import HouseholdActivity

    if len(members) == 1:
        return [run_one(first, command, options[0], pdfs[0] if pdfs else None)]
    recorded = {p: recorded_activity(p, o) for p, o in zip(members, options, strict=True)}
    planned: dict[Path, Any] = {}
    rows = []
    for i, (path, opts) in enumerate(zip(members, options, strict=True)):
        others = [recorded[q] for q in members if q != path] + list(planned.values())
        outside = HouseholdActivity(
            tuple(p for a in others for p in a.purchases),
            tuple(x for a in others for x in a.loss_sales),
        )
        pdf = pdfs[i] if pdfs else None
        row, result = _run(path, command, replace(opts, household=outside), pdf)
        if result is not None and command in {"run", "rebalance"}:
            planned[path] = planned_activity(path, result)
        rows.append(row)
    return rows


# the shared price fetch ----------------------------------------------------------------


@dataclass(frozen=True)
class PriceNeeds:
    """What one workbook needs from the market feed."""

    symbols: tuple[str, ...] = ()
    start: dt.date | None = None
    end: dt.date | None = None


def price_needs(path: Path, command: str, options: RunOptions) -> PriceNeeds:
    """Symbols and dates a workbook will ask the feed for (none when it will not go to
    the network, or when it cannot be read: its own run then reports why)."""
    from .prices.base import calendar_days_for
    from .prices.service import RECENT_DAYS
    from .workbook.reader import read_workbook

    try:
        book = read_workbook(path, as_of=options.as_of, today=options.today)
    except Exception:
        return PriceNeeds()
    st = book.portfolio.settings
    if st.price_source not in {"auto", "yahoo"} or st.valuation_date is None:
        return PriceNeeds()
    manual = {p.symbol for p in book.portfolio.prices if p.source == "manual"}
    symbols = tuple(sorted(s for s in book.portfolio.symbols() if s not in manual))
    history = st.strategy != "targets" and command in {"run", "refresh-prices", "optimize"}
    days = max(RECENT_DAYS, calendar_days_for(st.lookback_days + 1) if history else 0)
    return PriceNeeds(symbols, st.valuation_date - dt.timedelta(days=days), st.valuation_date)


def prefetch(needs: Iterable[PriceNeeds], options: RunOptions) -> list[Problem]:
    """Fetch the union of every workbook's symbols once into the cache, over the widest
    window any of them asks for."""
    from .prices.service import market_provider

    needs = [n for n in needs if n.symbols and n.start and n.end]
    if not needs:
        return []
    symbols = sorted({s for n in needs for s in n.symbols if s != "CASH"})
    start = min(n.start for n in needs if n.start)
    end = max(n.end for n in needs if n.end)
    market = market_provider("auto", options.cache, network=True)
    if market is None or market.upstream is None or not symbols:
        return []
    market.history(symbols, start, end)
    return list(market.warnings)


# the batch -----------------------------------------------------------------------------


def run_batch(
    items: Sequence[str | Path],
    options: BatchOptions = BatchOptions(),
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[BatchRow], None] | None = None,
) -> BatchResult:
    """Run `options.command` on every workbook named by `items`; rows in input order."""
    if options.command not in BATCH_COMMANDS:
        raise ValueError(options.command)
    # The command line turns the cyclic collector off for its one-shot commands
    # (cli.run); a batch runs for minutes over thousands of workbooks, in this process
    # when there is one worker, so it keeps the collector on.
    gc.enable()
    clock = time.perf_counter()
    paths, rows = collect_workbooks(items)
    result = BatchResult(rows=list(rows))
    outputs = output_paths(paths, options.out_dir)
    run = options.run
    if on_start is not None:
        on_start(len(paths) + len(rows))
    for row in rows:
        if on_done is not None:
            on_done(row)
    # With a price file, the file is the shared source (a symbol it lacks is still asked
    # of the feed by its own workbook).
    if run.network and run.prices_file is None and options.command not in PRICELESS and paths:
        from .prices.service import offline

        if not offline():
            needs = _map(
                price_needs,
                paths,
                options,
                lambda p: (options.command, run),
                on_done=None,
                failed=lambda p, exc: PriceNeeds(),
            )
            result.warnings = prefetch(needs.values(), run)
        # Workers read the cache the prefetch filled; none of them goes to the network.
        run = replace(run, network=False)

    from .report.pdf import pdf_path

    grouped = household_units(paths) if options.command in HOUSEHOLD_COMMANDS else None
    units = {unit[0]: unit for unit in grouped or [(p,) for p in paths]}

    def arguments(first: Path) -> tuple[Any, ...]:
        members = units[first]
        runs = [replace(run, out=None if run.dry_run else outputs[p]) for p in members]
        # Beside the saved workbook; on a dry run where it would have been saved.
        pdfs = [pdf_path(outputs[p] or p) if options.pdf else None for p in members]
        return members, options.command, runs, pdfs

    def died(first: Path, exc: BaseException) -> list[BatchRow]:
        return [_died(p, exc) for p in units[first]]

    done = _map(run_unit, list(units), options, arguments, on_done=on_done, failed=died)
    rows_by_path = {Path(r.workbook): r for unit in done.values() for r in unit}
    result.rows += [rows_by_path[p] for p in paths]
    result.seconds = time.perf_counter() - clock
    return result


def _map(
    func: Callable[..., Any],
    paths: Sequence[Path],
    options: BatchOptions,
    arguments: Callable[[Path], tuple[Any, ...]],
    on_done: Callable[[BatchRow], None] | None,
    failed: Callable[[Path, BaseException], Any],
) -> dict[Path, Any]:
    """func(path, *arguments(path)) for every path: inline, in local processes or on Dask;
    failed(path, exc) stands in for a result whose worker died."""
    if options.scheduler is not None:
        return _map_dask(func, paths, options.scheduler, arguments, on_done, failed)
    workers = options.workers or os.cpu_count() or 1
    if workers <= 1 or len(paths) <= 1:
        out = {}
        for path in paths:
            out[path] = func(path, *arguments(path))
            _announce(on_done, out[path])
        return out
    return _map_processes(func, paths, min(workers, len(paths)), arguments, on_done, failed)


def _pool(workers: int) -> Any:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # forkserver (spawn on Windows and macOS): the parent runs threads for the progress
    # bar, and forking a threaded process is unsafe.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context)


def _map_processes(
    func: Callable[..., Any],
    paths: Sequence[Path],
    workers: int,
    arguments: Callable[[Path], tuple[Any, ...]],
    on_done: Callable[[BatchRow], None] | None,
    failed: Callable[[Path, BaseException], Any],
) -> dict[Path, Any]:
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    out: dict[Path, Any] = {}
    orphans: list[Path] = []
    with _pool(workers) as pool:
        futures = {pool.submit(func, path, *arguments(path)): path for path in paths}
        for future in as_completed(futures):
            path = futures[future]
            try:
                out[path] = future.result()
            except BrokenProcessPool:
                orphans.append(path)
                continue
            _announce(on_done, out[path])
    # A worker died and took the pool with it: run what was unfinished one workbook per
    # fresh process, so the one that kills its process is the only one marked.
    for path in sorted(orphans, key=paths.index):
        with _pool(1) as pool:
            try:
                out[path] = pool.submit(func, path, *arguments(path)).result()
            except BrokenProcessPool as exc:
                out[path] = failed(path, exc)
        _announce(on_done, out[path])
    return out


def _announce(on_done: Callable[[BatchRow], None] | None, value: Any) -> None:
    """on_done for each row a task returned (a unit returns a household's rows)."""
    if on_done is None:
        return
    for row in value if isinstance(value, list) else [value]:
        if isinstance(row, BatchRow):
            on_done(row)


def _died(path: Path, exc: BaseException) -> BatchRow:
    return BatchRow(
        workbook=str(path),
        status="crashed",
        message=f"the worker process running it died ({type(exc).__name__}); "
        "the file may be too large or damaged",
    )


def _map_dask(
    func: Callable[..., Any],
    paths: Sequence[Path],
    scheduler: str | Any,
    arguments: Callable[[Path], tuple[Any, ...]],
    on_done: Callable[[BatchRow], None] | None,
    failed: Callable[[Path, BaseException], Any],
) -> dict[Path, Any]:
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise XlRebalancerError(
            'batch --scheduler needs Dask: pip install "xl-rebalancer[cluster]"'
        ) from exc

    out: dict[Path, Any] = {}
    try:
        client = Client(scheduler, set_as_default=False, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise XlRebalancerError(
            f"cannot reach the Dask scheduler at {scheduler} ({exc}); nothing was run"
        ) from exc
    with client:
        futures = {
            client.submit(
                func, path, *arguments(path), key=f"xlrb-{func.__name__}-{i}", pure=False
            ): path
            for i, path in enumerate(paths)
        }
        for future in as_completed(list(futures), loop=client.loop):
            path = futures[future]
            try:
                out[path] = future.result()
            except Exception as exc:  # KilledWorker and the like: the task, not the batch
                out[path] = failed(path, exc)
            _announce(on_done, out[path])
    return out
