"""Yahoo Finance through yfinance: one batched download, retries, raw closes.

yfinance's `Close` is already adjusted for every split up to the day of the download
(yfinance issue #687: Apple's close of 2020-08-28 shows 124.81, it traded at 499.23).
We always download through today and multiply each close back by the splits after it,
so the bars we hand on are the closes as traded, whatever day they were fetched.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import FeedUnreachable, PriceError
from .base import Bar, FetchResult


class YahooProvider:
    """Daily bars from Yahoo; yfinance is imported on first use, not at start-up."""

    name = "yahoo"

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.sleep = sleep or time.sleep
        self.today = today

    def history(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        result = FetchResult()
        pending = sorted(set(symbols))
        if pending and _down():
            raise FeedUnreachable(UNREACHABLE, pending)
        reasons: dict[str, str] = {}
        for attempt in range(self.retries):
            if not pending:
                break
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                frame, said = self._download(pending, start)
            except Exception as exc:  # yfinance raises many kinds; all mean "try again"
                if _network_failure([str(exc)]):
                    _mark_down()
                    raise FeedUnreachable(UNREACHABLE, pending) from exc
                reasons = {s: f"download failed: {exc}" for s in pending}
                continue
            still = []
            for symbol in pending:
                bars = parse_download(frame, symbol)
                if bars:
                    result.bars[symbol] = [b for b in bars if start <= b.date <= end]
                else:
                    still.append(symbol)
                    reasons[symbol] = "no data from Yahoo (unknown or delisted symbol?)"
            if still and not result.bars and _network_failure(said):
                # Nothing came back and yfinance's own log speaks of the network: retrying
                # would only wait; the caller falls back to the cache, sheet and files.
                _mark_down()
                raise FeedUnreachable(UNREACHABLE, still)
            pending = still
        for symbol in pending:
            result.failed[symbol] = reasons.get(symbol, "no data")
        if (
            pending
            and len(pending) == len(set(symbols))
            and all(r.startswith("download failed") for r in result.failed.values())
        ):
            raise PriceError(
                f"Yahoo could not be reached for {', '.join(pending)}: "
                f"{next(iter(result.failed.values()))}",
                pending,
            )
        return result

    def _download(self, symbols: list[str], start: dt.date) -> tuple[Any, list[str]]:
        """yfinance's frame, and what it logged meanwhile: its per-symbol lines are kept
        from the terminal (read here to tell an unreachable Yahoo from unknown symbols)
        unless the user asked for --verbose."""
        import logging
        import warnings

        import yfinance as yf

        from ..quiet import verbose

        said = _Collect()
        logger = logging.getLogger("yfinance")
        level, propagate = logger.level, logger.propagate
        logger.addHandler(said)
        logger.setLevel(logging.INFO if verbose() else logging.WARNING)
        logger.propagate = verbose()
        try:
            # yfinance's own deprecation notices (pandas') are not the user's concern.
            with warnings.catch_warnings():
                if not verbose():
                    warnings.simplefilter("ignore")
                # end=None: through today, so every split that adjusts these closes is in it.
                frame = yf.download(
                    symbols,
                    start=start.isoformat(),
                    end=None,
                    actions=True,
                    auto_adjust=False,
                    progress=False,
                    threads=True,
                    timeout=self.timeout,
                    group_by="column",
                    multi_level_index=True,
                )
        finally:
            logger.removeHandler(said)
            logger.setLevel(level)
            logger.propagate = propagate
        return frame, said.messages


UNREACHABLE = "Yahoo unreachable: using the cache, the Prices sheet and files"
# Once Yahoo is found unreachable, this process does not ask again for a while: a run
# asks for latest prices and then for history, a batch for every workbook.
DOWN_FOR_SECONDS = 300.0
_down_since: list[float] = []

# What curl (yfinance's HTTP client), requests and the OS say when the network, DNS or a
# proxy is in the way, as opposed to Yahoo answering "no such symbol".
_NETWORK = re.compile(
    r"curl: \((?:5|6|7|28|35|47|52|55|56|97)\)|could not resolve|name or service not known|"
    r"name resolution|dnserror|failed to connect|connection (?:refused|reset|aborted|error)|"
    r"network is unreachable|no route to host|timed? ?out|proxy|ssl",
    re.IGNORECASE,
)


def _network_failure(messages: Sequence[str]) -> bool:
    return any(_NETWORK.search(m) for m in messages)


def _down() -> bool:
    return bool(_down_since) and time.monotonic() - _down_since[-1] < DOWN_FOR_SECONDS


def _mark_down() -> None:
    _down_since[:] = [time.monotonic()]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a malformed record must not break a download
            self.messages.append(record.getMessage())


def parse_download(frame: Any, symbol: str) -> list[Bar]:
    """Raw-close bars of one ticker from a `yf.download(..., actions=True)` frame."""
    if frame is None or getattr(frame, "empty", True):
        return []
    columns = frame.columns

    def column(name: str) -> Any:
        if getattr(columns, "nlevels", 1) > 1:
            return frame[(name, symbol)] if (name, symbol) in columns else None
        return frame[name] if name in columns else None

    close = column("Close")
    if close is None:
        return []
    splits = column("Stock Splits")
    dividends = column("Dividends")
    rows = []
    for i, stamp in enumerate(frame.index):
        value = _num(close.iloc[i])
        if value is None or value <= 0:
            continue
        split = _num(splits.iloc[i]) if splits is not None else None
        dividend = _num(dividends.iloc[i]) if dividends is not None else None
        rows.append((stamp.date(), value, dividend or 0.0, split if split and split > 0 else 1.0))
    bars: list[Bar] = []
    factor = 1.0
    for day, adjusted, dividend, split in reversed(rows):
        # A split on day t adjusts the closes before t; t itself trades post-split.
        bars.append(Bar(day, round(adjusted * factor, 6), dividend * factor, split))
        factor *= split
    bars.reverse()
    return bars


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
