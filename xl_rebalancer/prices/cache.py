"""A SQLite cache of daily bars, so refreshes ask only for new dates and offline runs work.

One file per user (or per `--cache`). WAL mode and short transactions let parallel
batch workers read and write it at once; every write of a fetch is one transaction.
Coverage records which dates were asked for, so a holiday is not asked for again;
today's bar is never counted as final (it may still change).
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path

from ..errors import FeedUnreachable, PriceError, Problem
from .base import Bar, FetchResult, PriceProvider

SCHEMA = """
CREATE TABLE IF NOT EXISTS bars (
    symbol TEXT NOT NULL, date TEXT NOT NULL, close REAL NOT NULL,
    dividend REAL NOT NULL DEFAULT 0, split REAL NOT NULL DEFAULT 1, adj_close REAL,
    source TEXT NOT NULL, PRIMARY KEY (symbol, date)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS coverage (
    symbol TEXT PRIMARY KEY, first TEXT NOT NULL, last TEXT NOT NULL, fetched_at TEXT NOT NULL);
"""


def default_cache_path() -> Path:
    """XL_REBALANCER_CACHE, else the platform's user cache folder (platformdirs)."""
    override = os.environ.get("XL_REBALANCER_CACHE")
    if override:
        return Path(override)
    from platformdirs import user_cache_path

    return user_cache_path("xl-rebalancer", appauthor=False) / "prices.sqlite"


class PriceCache:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        return db

    def coverage(self, symbols: Sequence[str]) -> dict[str, tuple[dt.date, dt.date]]:
        with closing(self._connect()) as db:
            rows = db.execute(
                f"SELECT symbol, first, last FROM coverage WHERE symbol IN "
                f"({','.join('?' * len(symbols))})",
                list(symbols),
            ).fetchall()
        return {s: (dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for s, a, b in rows}

    def bars(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> dict[str, list[Bar]]:
        out: dict[str, list[Bar]] = {s: [] for s in symbols}
        with closing(self._connect()) as db:
            for symbol, day, close, dividend, split, adj in db.execute(
                f"SELECT symbol, date, close, dividend, split, adj_close FROM bars "
                f"WHERE symbol IN ({','.join('?' * len(symbols))}) AND date BETWEEN ? AND ? "
                f"ORDER BY symbol, date",
                [*symbols, start.isoformat(), end.isoformat()],
            ):
                out[symbol].append(Bar(dt.date.fromisoformat(day), close, dividend, split, adj))
        return {s: b for s, b in out.items() if b}

    def store(
        self,
        result: FetchResult,
        start: dt.date,
        covered_to: dt.date,
        source: str,
        fetched_at: dt.datetime,
    ) -> None:
        """Save bars and extend each symbol's coverage, all in one transaction."""
        with closing(self._connect()) as db, db:
            for symbol, bars in result.bars.items():
                db.executemany(
                    "INSERT OR REPLACE INTO bars VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            symbol,
                            b.date.isoformat(),
                            b.close,
                            b.dividend,
                            b.split,
                            b.adj_close,
                            source,
                        )
                        for b in bars
                    ],
                )
                old = db.execute(
                    "SELECT first, last FROM coverage WHERE symbol = ?", (symbol,)
                ).fetchone()
                first, last = start.isoformat(), covered_to.isoformat()
                if old:
                    first, last = min(first, old[0]), max(last, old[1])
                db.execute(
                    "INSERT OR REPLACE INTO coverage VALUES (?, ?, ?, ?)",
                    (symbol, first, last, fetched_at.isoformat(timespec="seconds")),
                )


class CachedProvider:
    """Serve from the cache; ask `upstream` only for the dates the cache lacks.

    With no upstream (offline, or price_source = cache) it serves what it has. When the
    upstream cannot be reached it falls back to the cache and says so in `warnings`.
    """

    def __init__(
        self,
        cache: PriceCache,
        upstream: PriceProvider | None,
        now: Callable[[], dt.datetime] = dt.datetime.now,
    ) -> None:
        self.cache = cache
        self.upstream = upstream
        self.now = now
        self.name = upstream.name if upstream else "cache"
        self.warnings: list[Problem] = []
        self.unreachable = False
        self.calls: list[tuple[tuple[str, ...], dt.date, dt.date]] = []

    def history(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> FetchResult:
        symbols = sorted(set(symbols))
        failed: dict[str, str] = {}
        if self.upstream is not None:
            failed = self._fill(symbols, start, end)
        have = self.cache.bars(symbols, start, end)
        result = FetchResult(bars=have)
        for symbol in symbols:
            if symbol not in have:
                result.failed[symbol] = failed.get(symbol, "not in the price cache")
        return result

    def _fill(self, symbols: list[str], start: dt.date, end: dt.date) -> dict[str, str]:
        now = self.now()
        today = now.date()
        final = min(end, today - dt.timedelta(days=1))  # today's close is not final yet
        covered = self.cache.coverage(symbols)
        windows: dict[tuple[dt.date, dt.date], list[str]] = {}
        for symbol in symbols:
            span = covered.get(symbol)
            if span is None:
                windows.setdefault((start, end), []).append(symbol)
                continue
            first, last = span
            if start < first:
                windows.setdefault((start, first - dt.timedelta(days=1)), []).append(symbol)
            if end > last:
                windows.setdefault((last + dt.timedelta(days=1), end), []).append(symbol)
        failed: dict[str, str] = {}
        for (lo, hi), group in sorted(windows.items()):
            if lo > hi:
                continue
            assert self.upstream is not None
            self.calls.append((tuple(group), lo, hi))
            if self.unreachable:
                failed.update({s: "Yahoo unreachable" for s in group})
                continue
            try:
                fetched = self.upstream.history(group, lo, hi)
            except FeedUnreachable as exc:
                # Said once for the run, not per window or symbol (the service skips its
                # per-symbol "missing from the feed" notes too).
                self.unreachable = True
                self.warnings.append(Problem(str(exc), level="warning"))
                failed.update({s: "Yahoo unreachable" for s in group})
                continue
            except PriceError as exc:
                self.warnings.append(
                    Problem(
                        f"{self.upstream.name} unavailable ({exc}); using cached prices",
                        level="warning",
                    )
                )
                failed.update({s: str(exc) for s in group})
                continue
            failed.update(fetched.failed)
            self.cache.store(fetched, lo, min(hi, final), self.upstream.name, now)
        return failed
