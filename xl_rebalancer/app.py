"""Orchestration shared by every door: read → validate → prices → engine → write.

The command line, the ribbon macros and the batch runner call these functions and
only translate their results, so all three give the same numbers.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import __version__
from .door import (
    Door,
    RunOptions,
    RunReport,
    as_door,
    journaled,
    save_backed_up,
)
from .errors import (
    InfeasibleError,
    InputError,
    PriceError,
    Problem,
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
from .workbook.reader import WorkbookInput

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


def _market(book: WorkbookInput, cache: Path | None, network: bool) -> Any:
    """The feed Settings names; a plugin feed that cannot start is an error on the
    price_source cell, where the user chose it."""
    from .plugins import PluginError

    try:
        return market_provider(book.portfolio.settings.price_source, cache, network)
    except PluginError as exc:
        raise InputError([book.locator.setting(str(exc), "price_source")]) from exc


def resolve_prices(book: WorkbookInput, options: RunOptions, *, history: bool = False) -> QuoteSet:
    """Latest price of every symbol the workbook uses; a symbol without one stops the run
    with an error at the first cell that names it."""
    portfolio = book.portfolio
    settings = portfolio.settings
    valuation = settings.valuation_date or dt.date.today()
    market = _market(book, options.cache, options.network)
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
        market = _market(book, options.cache, network)
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
