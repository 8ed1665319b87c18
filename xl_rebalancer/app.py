"""Orchestration shared by every door: read → validate → prices → engine → write.

The command line, the ribbon macros and the batch runner call these functions and
only translate their results, so all three give the same numbers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import PriceError, Problem
from .io.outputs import drift_sheet, log_entries, log_sheet, summary_sheet, trades_sheet
from .io.reader import WorkbookInput, read_workbook
from .io.writer import WorkbookEdit, save_workbook
from .models.results import RebalanceResult
from .prices.base import Quote, business_days_between


@dataclass(frozen=True)
class RunOptions:
    as_of: dt.date | None = None
    prices_file: Path | None = None
    out: Path | None = None
    dry_run: bool = False
    today: dt.date | None = None


@dataclass
class RunReport:
    """What a door shows the user after a run."""

    command: str
    workbook: Path
    output: Path | None
    result: RebalanceResult | None = None
    warnings: list[Problem] = field(default_factory=list)
    quotes: dict[str, Quote] = field(default_factory=dict)
    input_hash: str = ""
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "command": self.command,
            "workbook": str(self.workbook),
            "output": str(self.output) if self.output else None,
            "input_hash": self.input_hash,
            "warnings": [
                {"sheet": w.sheet, "cell": w.cell, "level": w.level, "message": w.message}
                for w in self.warnings
            ],
        }
        if self.result is not None:
            data["summary"] = {i.key: i.value for i in self.result.summary}
            data["trades"] = [t.model_dump(mode="json") for t in self.result.trades]
            data["drift"] = [r.model_dump(mode="json") for r in self.result.drift]
        return data


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def validate(path: str | Path, options: RunOptions = RunOptions()) -> WorkbookInput:
    """Read and check every input sheet; raises InputError with every problem."""
    return read_workbook(path, as_of=options.as_of, today=options.today)


def resolve_prices(
    book: WorkbookInput, options: RunOptions
) -> tuple[dict[str, Quote], list[Problem]]:
    """Latest price per symbol: manual Prices rows, then the price file, then other Prices rows."""
    portfolio = book.portfolio
    settings = portfolio.settings
    valuation = settings.valuation_date or dt.date.today()
    symbols = portfolio.symbols()
    quotes: dict[str, Quote] = {}
    sheet_rows = {p.symbol: p for p in portfolio.prices}
    for row in portfolio.prices:
        if row.source == "manual":
            quotes[row.symbol] = Quote(row.symbol, row.price, row.as_of, "manual")
    if options.prices_file is not None and settings.price_source != "sheet":
        from .prices.file import FilePriceProvider

        provider = FilePriceProvider(options.prices_file)
        for symbol, quote in provider.latest(
            [s for s in symbols if s not in quotes], valuation
        ).items():
            quotes[symbol] = quote
    for symbol, row in sheet_rows.items():
        quotes.setdefault(symbol, Quote(symbol, row.price, row.as_of, row.source))
    warnings: list[Problem] = []
    for symbol in symbols:
        quote = quotes.get(symbol)
        if quote is None or quote.as_of is None:
            continue
        age = business_days_between(quote.as_of, valuation)
        if age > settings.stale_price_days:
            where = sheet_rows.get(symbol)
            cell = book.locator.cell("Prices", where.row, "as_of") if where else None
            warnings.append(
                Problem(
                    f"price of {symbol} is {age} trading days old ({quote.as_of}, {quote.source})",
                    book.locator.title("Prices") if where else None,
                    cell,
                    "warning",
                )
            )
    missing = [s for s in symbols if s not in quotes]
    if missing:
        problems = [_first_use(book, s) for s in missing]
        raise PriceError(f"no price for {', '.join(missing)}", missing, problems)
    return quotes, warnings


def _first_use(book: WorkbookInput, symbol: str) -> Problem:
    """The first cell that names a symbol, so a missing price points somewhere useful."""
    p = book.portfolio
    for sheet, rows in (("Holdings", p.holdings), ("TaxLots", p.lots), ("Targets", p.targets)):
        for row in rows:
            if getattr(row, "symbol", None) == symbol:
                return Problem(
                    f"no price for {symbol} (add it to the Prices sheet with Source "
                    "manual, or pass --prices)",
                    book.locator.title(sheet),
                    book.locator.cell(sheet, row.row, "symbol"),
                )
    return Problem(f"no price for {symbol}")


def run_engine(path: str | Path, command: str, options: RunOptions = RunOptions()) -> RunReport:
    """`drift` or `rebalance` on one workbook, written back unless dry_run."""
    import time

    from .engine.rebalance import rebalance

    path = Path(path)
    started = dt.datetime.now().replace(microsecond=0)
    clock = time.perf_counter()
    digest = file_hash(path) if path.exists() else ""
    book = validate(path, options)
    quotes, price_warnings = resolve_prices(book, options)
    prices = {s: q.price for s, q in quotes.items()}
    result = rebalance(book.portfolio, prices, trade=command != "drift")
    warnings = [*book.warnings, *price_warnings, *result.warnings]
    report = RunReport(command, path, None, result, warnings, quotes, digest)
    report.seconds = time.perf_counter() - clock
    if not options.dry_run:
        report.output = write_run(report, started, options)
        report.seconds = time.perf_counter() - clock
    return report


def write_run(report: RunReport, started: dt.datetime, options: RunOptions) -> Path:
    result, command, digest = report.result, report.command, report.input_hash
    assert result is not None
    sources = sorted({q.source for q in report.quotes.values()})
    notes = [
        f"xl-rebalancer {__version__} {command}: input sha256 {digest}, prices from "
        f"{', '.join(sources) or 'nowhere'}, valuation date "
        f"{result.summary_value('Valuation date')}"
    ]
    extra = [
        ("Command", command),
        ("Engine version", __version__),
        ("Input hash", digest),
        ("Run at", started.isoformat(sep=" ")),
        ("Compute seconds", round(report.seconds, 3)),
    ]
    sheets = [drift_sheet(result)]
    if command != "drift":
        sheets.append(trades_sheet(result))
    sheets += [
        summary_sheet(result, extra),
        log_sheet(log_entries(report.warnings, started, notes)),
    ]
    return save_workbook(report.workbook, WorkbookEdit(sheets=sheets), options.out)
