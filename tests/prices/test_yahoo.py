"""The Yahoo adapter on recorded responses: raw closes, splits undone, failures named."""

from __future__ import annotations

import datetime as dt

import pytest

from xl_rebalancer.errors import PriceError
from xl_rebalancer.prices.base import last_bar, total_return_index
from xl_rebalancer.prices.yahoo import YahooProvider

D = dt.date


def test_one_ticker_gives_closes_as_traded(recorded_yahoo):
    result = YahooProvider().history(["AAPL"], D(2020, 8, 17), D(2020, 9, 4))
    bars = {b.date: b for b in result.bars["AAPL"]}
    # Yahoo shows 124.8075 for 2020-08-28; Apple traded at 499.23 before its 4-for-1 split.
    assert bars[D(2020, 8, 28)].close == pytest.approx(499.23)
    assert bars[D(2020, 8, 21)].close == pytest.approx(497.48)
    assert bars[D(2020, 8, 31)].close == pytest.approx(129.04)
    assert bars[D(2020, 8, 31)].split == 4.0
    assert result.failed == {}


def test_many_tickers_with_a_failure(recorded_yahoo):
    provider = YahooProvider(retries=3)
    result = provider.history(["MSFT", "AAPL", "NOPE"], D(2020, 8, 24), D(2020, 9, 4))
    assert set(result.bars) == {"AAPL", "MSFT"}
    assert "NOPE" in result.failed and "Yahoo" in result.failed["NOPE"]
    assert [t for t, _ in recorded_yahoo].count("NOPE") == 3, "the failed ticker is retried"
    assert [t for t, _ in recorded_yahoo].count("AAPL") == 1, "a good ticker is asked once"
    msft = {b.date: b for b in result.bars["MSFT"]}
    assert msft[D(2020, 8, 28)].close == 228.91
    assert min(msft) == D(2020, 8, 24) and max(msft) == D(2020, 9, 4)


def test_unreachable_yahoo_raises_price_error(monkeypatch, recorded_yahoo):
    import yfinance as yf

    calls = []

    def down(*args, **kwargs):
        calls.append(args)
        raise ConnectionError("Could not resolve host: query2.finance.yahoo.com")

    monkeypatch.setattr(yf, "download", down)
    with pytest.raises(PriceError, match="Yahoo unreachable"):
        YahooProvider(retries=2).history(["AAPL"], D(2020, 8, 24), D(2020, 9, 4))
    assert len(calls) == 1, "a DNS failure is not retried"
    with pytest.raises(PriceError, match="Yahoo unreachable"):
        YahooProvider(retries=2).history(["MSFT"], D(2020, 8, 24), D(2020, 9, 4))
    assert len(calls) == 1, "the same process does not knock again at once"


def test_a_failing_download_that_is_not_the_network_is_retried(monkeypatch, recorded_yahoo):
    import yfinance as yf

    calls = []

    def broken(*args, **kwargs):
        calls.append(args)
        raise ValueError("Length mismatch: Expected axis has 0 elements")

    monkeypatch.setattr(yf, "download", broken)
    with pytest.raises(PriceError, match="could not be reached"):
        YahooProvider(retries=2).history(["AAPL"], D(2020, 8, 24), D(2020, 9, 4))
    assert len(calls) == 2


def test_total_return_index_folds_the_split_back_in(recorded_yahoo):
    bars = YahooProvider().history(["AAPL", "MSFT"], D(2020, 8, 17), D(2020, 9, 4)).bars
    aapl = dict(total_return_index(bars["AAPL"]))
    # 2020-08-31: 129.04 × 4 / 499.23 − 1 = +3.39 %, Apple's published gain that day.
    assert aapl[D(2020, 8, 31)] / aapl[D(2020, 8, 28)] - 1 == pytest.approx(0.033912, abs=1e-5)
    msft = dict(total_return_index(bars["MSFT"]))
    # Ex-dividend day: (209.70 + 0.51) / 211.49 − 1.
    assert msft[D(2020, 8, 19)] / msft[D(2020, 8, 18)] - 1 == pytest.approx(
        (209.70 + 0.51) / 211.49 - 1
    )
    assert last_bar(bars["AAPL"], D(2020, 8, 30)).date == D(2020, 8, 28)
