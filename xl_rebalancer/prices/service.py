"""Choosing where prices come from, for every door alike.

Order of precedence for the latest price of a symbol:
1. Prices sheet rows with Source = manual (the user's word wins);
2. the `--prices` file;
3. the local cache, refreshed from Yahoo for missing dates unless offline
   (price_source = auto or yahoo; `cache` never goes to the network), or from an
   installed plugin's feed when price_source names one (xl_rebalancer.plugins);
4. other Prices sheet rows (left by an earlier refresh).
With price_source = sheet only 1 and 4 are used.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Problem
from ..models.inputs import Portfolio
from .base import PriceProvider, Quote, business_days_between, calendar_days_for, last_bar
from .cache import CachedProvider, PriceCache

RECENT_DAYS = 14  # calendar days looked back for a "latest" close


def offline() -> bool:
    return os.environ.get("XL_REBALANCER_OFFLINE", "").strip().lower() in {"1", "true", "yes"}


def market_provider(
    price_source: str, cache_path: Path | None = None, network: bool = True
) -> CachedProvider | None:
    """The cache, with Yahoo (or a plugin's feed) behind it where the settings and the
    machine allow."""
    if price_source == "sheet":
        return None
    upstream: PriceProvider | None = None
    if network and price_source in {"auto", "yahoo"} and not offline():
        from .yahoo import YahooProvider

        upstream = YahooProvider()
    elif network and price_source != "cache" and not offline():
        from ..plugins import price_source as plugin_feed

        upstream = plugin_feed(price_source)
    return CachedProvider(PriceCache(cache_path), upstream)


def file_provider(path: Path) -> PriceProvider:
    """The price file parsed once per run (and again only if it changes): latest quotes,
    a strategy's history and the tracking-error history all read the same file."""
    path = Path(path)
    stat = path.stat() if path.exists() else None
    return _parsed_file(str(path.resolve()), stat.st_mtime_ns if stat else 0)


@functools.lru_cache(maxsize=4)
def _parsed_file(path: str, mtime_ns: int) -> PriceProvider:
    from .file import FilePriceProvider

    return FilePriceProvider(path)


@dataclass
class QuoteSet:
    quotes: dict[str, Quote] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def latest_quotes(
    portfolio: Portfolio,
    symbols: Sequence[str],
    as_of: dt.date,
    *,
    prices_file: Path | None = None,
    market: CachedProvider | None = None,
    history_days: int = 0,
) -> QuoteSet:
    """Latest raw close per symbol by the precedence above; `failed` says why one is missing.

    `history_days` (trading days) widens the market fetch so the cache also holds the
    history the estimators need.
    """
    out = QuoteSet()
    sheet = {p.symbol: p for p in portfolio.prices}
    for row in portfolio.prices:
        if row.source == "manual" and row.symbol in symbols:
            out.quotes[row.symbol] = Quote(row.symbol, row.price, row.as_of, "manual")
    wanted = [s for s in symbols if s not in out.quotes]
    if prices_file is not None and wanted and portfolio.settings.price_source != "sheet":
        _take(out, file_provider(prices_file), wanted, as_of, RECENT_DAYS)
        wanted = [s for s in symbols if s not in out.quotes]
    if market is not None and wanted:
        _take(out, market, wanted, as_of, max(RECENT_DAYS, calendar_days_for(history_days)))
    if market is not None:
        # Said even when the run needed nothing from the market (a damaged or read-only
        # cache is worth knowing about before the day it is needed).
        out.warnings.extend(market.warnings)
    for symbol in symbols:
        if symbol not in out.quotes and symbol in sheet:
            row = sheet[symbol]
            out.quotes[symbol] = Quote(symbol, row.price, row.as_of, row.source)
            reason = out.failed.pop(symbol, None)
            if (
                reason
                and market is not None
                and market.upstream is not None
                and not market.unreachable
            ):
                out.warnings.append(
                    Problem(
                        f"{symbol} is missing from the {market.name} feed ({reason}); using the "
                        f"Prices sheet's {row.price:g} of {row.as_of or 'unknown date'}",
                        "Prices",
                        None,
                        "warning",
                    )
                )
    return out


def _take(
    out: QuoteSet, provider: PriceProvider, symbols: list[str], as_of: dt.date, days: int
) -> None:
    fetched = provider.history(symbols, as_of - dt.timedelta(days=days), as_of)
    for symbol in symbols:
        bar = last_bar(fetched.bars.get(symbol, []), as_of)
        if bar is not None:
            out.quotes[symbol] = Quote(symbol, bar.close, bar.date, provider.name)
            out.failed.pop(symbol, None)
        else:
            out.failed.setdefault(symbol, fetched.failed.get(symbol, "no price"))


def stale_warnings(quotes: dict[str, Quote], as_of: dt.date, limit: int) -> list[tuple[str, int]]:
    """Symbols whose price is more than `limit` trading days older than `as_of`."""
    out = []
    for symbol, quote in quotes.items():
        if quote.as_of is not None:
            age = business_days_between(quote.as_of, as_of)
            if age > limit:
                out.append((symbol, age))
    return out


@dataclass
class ReturnHistory:
    """Daily total returns on the dates every symbol traded, oldest first."""

    symbols: list[str]
    dates: list[dt.date]
    returns: list[list[float]]  # one row per date after the first
    missing: dict[str, str] = field(default_factory=dict)  # symbol → why it has too little


def return_history(
    symbols: Sequence[str],
    as_of: dt.date,
    lookback_days: int,
    *,
    prices_file: Path | None = None,
    market: CachedProvider | None = None,
) -> ReturnHistory:
    """`lookback_days` daily total returns (splits and dividends folded in) per symbol,
    on common dates, from the price file when given, else the cache (and Yahoo behind
    it where allowed)."""
    from .base import total_return_index

    provider = file_provider(prices_file) if prices_file is not None else market
    out = ReturnHistory(list(symbols), [], [])
    if provider is None:
        out.missing = {s: "price_source is sheet: no price history" for s in symbols}
        return out
    start = as_of - dt.timedelta(days=calendar_days_for(lookback_days + 1))
    fetched = provider.history(list(symbols), start, as_of)
    levels: dict[str, dict[dt.date, float]] = {}
    for symbol in symbols:
        index = total_return_index(fetched.bars.get(symbol, []))
        if len(index) < 3:
            out.missing[symbol] = fetched.failed.get(symbol, "no price history")
        levels[symbol] = dict(index)
    if out.missing or not symbols:  # a household of cash only has no history to share
        return out
    common = sorted(set.intersection(*(set(v) for v in levels.values())))[-(lookback_days + 1) :]
    if len(common) < 3:
        out.missing = {s: "too few dates shared by all symbols" for s in symbols}
        return out
    out.dates = common
    out.returns = [
        [levels[s][day] / levels[s][prev] - 1.0 for s in symbols]
        for prev, day in itertools.pairwise(common)
    ]
    return out
