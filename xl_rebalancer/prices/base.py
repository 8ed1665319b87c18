"""The one narrow interface the rest of the project sees prices through.

Raw and adjusted prices are kept apart on purpose. `Bar.close` is the raw close, the
price the security actually traded at that day: valuation and lot math use it, so a
lot bought before a 4-for-1 split is never shown a fake 75% loss. Returns for the
estimators come from `total_return_index`, which folds splits and dividends back in.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol


class Bar(NamedTuple):
    """One trading day of one symbol."""

    date: dt.date
    close: float  # raw close, as traded that day
    dividend: float = 0.0  # cash per share going ex that day
    split: float = 1.0  # new shares per old share, effective that day
    adj_close: float | None = None  # a source's own adjusted close, when it gives one


@dataclass(frozen=True)
class Quote:
    """A raw close chosen for valuation, with where it came from."""

    symbol: str
    price: float
    as_of: dt.date | None
    source: str


@dataclass
class FetchResult:
    """Bars per symbol, plus the symbols a source could not serve and why."""

    bars: dict[str, list[Bar]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)


class PriceProvider(Protocol):
    name: str

    def history(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        """Daily bars from `start` to `end` inclusive, raw closes, sorted by date."""
        ...


def last_bar(bars: Sequence[Bar], as_of: dt.date) -> Bar | None:
    """The last bar on or before `as_of`."""
    index = bisect.bisect_right([b.date for b in bars], as_of)
    return bars[index - 1] if index else None


def total_return_index(bars: Sequence[Bar]) -> list[tuple[dt.date, float]]:
    """A split- and dividend-adjusted price path, for return estimates only.

    Day t's return is (close_t + dividend_t) × split_t / close_(t−1) − 1. Where a
    source gives its own adjusted close for every bar, that is used instead.
    """
    if not bars:
        return []
    if all(b.adj_close is not None for b in bars):
        return [(b.date, float(b.adj_close)) for b in bars]  # type: ignore[arg-type]
    out = [(bars[0].date, bars[0].close)]
    level = bars[0].close
    for previous, bar in itertools.pairwise(bars):
        level *= (bar.close + bar.dividend) * bar.split / previous.close
        out.append((bar.date, level))
    return out


def business_days_between(start: dt.date, end: dt.date) -> int:
    """Weekdays after `start` up to and including `end` (holidays are not known here)."""
    if end <= start:
        return 0
    days = (end - start).days
    weeks, rest = divmod(days, 7)
    count = weeks * 5
    for offset in range(1, rest + 1):
        if (start + dt.timedelta(days=offset)).weekday() < 5:
            count += 1
    return count


def calendar_days_for(trading_days: int) -> int:
    """Calendar days that hold about `trading_days` sessions, with room for holidays."""
    return int(trading_days * 7 / 5 * 1.03) + 10
