"""The SQLite cache: only missing dates are asked for, and parallel writers do not collide."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sqlite3
from pathlib import Path

from xl_rebalancer.prices.base import Bar, FetchResult
from xl_rebalancer.prices.cache import CachedProvider, PriceCache

D = dt.date
NOW = lambda: dt.datetime(2026, 11, 20, 18, 0)  # noqa: E731


class CountingProvider:
    """A real provider over fixed data that records each request."""

    name = "counting"

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], dt.date, dt.date]] = []

    def history(self, symbols, start, end):
        self.calls.append((tuple(symbols), start, end))
        out = FetchResult()
        for symbol in symbols:
            days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
            out.bars[symbol] = [Bar(d, 100.0 + d.toordinal() % 7) for d in days if d.weekday() < 5]
        return out


def test_second_request_uses_the_cache(tmp_path: Path):
    upstream = CountingProvider()
    provider = CachedProvider(PriceCache(tmp_path / "p.sqlite"), upstream, now=NOW)
    first = provider.history(["VTI", "BND"], D(2026, 1, 1), D(2026, 3, 31))
    assert len(upstream.calls) == 1
    again = provider.history(["VTI", "BND"], D(2026, 1, 1), D(2026, 3, 31))
    assert len(upstream.calls) == 1, "dates already cached were asked for again"
    assert again.bars == first.bars
    provider.history(["VTI", "BND"], D(2025, 12, 1), D(2026, 4, 10))
    asked = sorted((start, end) for _, start, end in upstream.calls[1:])
    assert asked == [(D(2025, 12, 1), D(2025, 12, 31)), (D(2026, 4, 1), D(2026, 4, 10))]


def test_today_is_never_final(tmp_path: Path):
    upstream = CountingProvider()
    provider = CachedProvider(PriceCache(tmp_path / "p.sqlite"), upstream, now=NOW)
    provider.history(["VTI"], D(2026, 11, 1), D(2026, 11, 20))
    provider.history(["VTI"], D(2026, 11, 1), D(2026, 11, 20))
    assert [(s, e) for _, s, e in upstream.calls] == [
        (D(2026, 11, 1), D(2026, 11, 20)),
        (D(2026, 11, 20), D(2026, 11, 20)),
    ]


def test_offline_serves_what_it_has(tmp_path: Path):
    cache = PriceCache(tmp_path / "p.sqlite")
    CachedProvider(cache, CountingProvider(), now=NOW).history(
        ["VTI"], D(2026, 1, 1), D(2026, 1, 31)
    )
    offline = CachedProvider(cache, None, now=NOW).history(
        ["VTI", "XYZ"], D(2026, 1, 1), D(2026, 2, 28)
    )
    assert offline.bars["VTI"][-1].date == D(2026, 1, 30)
    assert offline.failed == {"XYZ": "not in the price cache"}


def _writer(path: str, worker: int) -> None:
    cache = PriceCache(path)
    for round_ in range(20):
        bars = [
            Bar(D(2026, 1, 1) + dt.timedelta(days=i), 50.0 + worker + round_) for i in range(30)
        ]
        cache.store(
            FetchResult(bars={f"S{worker}": bars, "SHARED": bars}),
            D(2026, 1, 1),
            D(2026, 1, 30),
            "test",
            dt.datetime(2026, 2, 1),
        )


def test_parallel_writers_leave_a_sound_database(tmp_path: Path):
    path = str(tmp_path / "shared.sqlite")
    PriceCache(path)
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_writer, args=(path, w)) for w in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        counts = dict(db.execute("SELECT symbol, COUNT(*) FROM bars GROUP BY symbol"))
    assert counts == {"S0": 30, "S1": 30, "S2": 30, "S3": 30, "SHARED": 30}
