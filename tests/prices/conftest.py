"""Recorded Yahoo: yfinance's own download() runs; only Ticker.history is replaced."""

from __future__ import annotations

from pathlib import Path

import pytest

RECORDED = Path(__file__).resolve().parents[1] / "data" / "yahoo"


@pytest.fixture
def recorded_yahoo(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str | None]]:
    """Serve tests/data/yahoo/<TICKER>.csv; any other ticker fails as Yahoo's does.

    Returns the list of (ticker, start) calls, so tests can count network requests.
    """
    import pandas as pd
    import yfinance as yf

    calls: list[tuple[str, str | None]] = []

    def history(self: yf.Ticker, *args: object, **kwargs: object) -> pd.DataFrame:
        start = kwargs.get("start")
        calls.append((self.ticker, start))
        source = RECORDED / f"{self.ticker}.csv"
        if not source.exists():
            raise RuntimeError(f"${self.ticker}: possibly delisted; no timezone found")
        frame = pd.read_csv(source, parse_dates=["Date"], index_col="Date")
        frame.index = frame.index.tz_localize("America/New_York")
        if start:
            frame = frame[frame.index.date >= pd.Timestamp(str(start)).date()]
        return frame

    monkeypatch.setattr(yf.Ticker, "history", history)
    monkeypatch.delenv("XL_REBALANCER_OFFLINE", raising=False)
    monkeypatch.setattr("xl_rebalancer.prices.yahoo.time.sleep", lambda seconds: None)
    return calls
