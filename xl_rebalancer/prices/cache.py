"""A SQLite cache of daily bars, so refreshes ask only for new dates and offline runs work.

One file per user (or per `--cache`). WAL mode and short transactions let parallel
batch workers read and write it at once; every write of a fetch is one transaction.
Coverage records which dates were asked for, so a holiday is not asked for again;
today's bar is never counted as final (it may still change).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sqlite3
import time
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


# A cached close outside this range cannot be a real price (docs/guide.md promises a price
# is never 0 or NaN); such rows are skipped with a warning, never divided by.
MAX_PRICE = 1e7


class PriceCache:
    """The cache file, or as much of it as this machine allows.

    A cache is a convenience, never a reason for a run to fail: a read-only file or
    folder is read as it is (and not refreshed), a damaged file is set aside and a new one
    started, and a cache that cannot be created at all leaves the run without one. Each
    case is said once in `warnings`.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_cache_path()
        self.warnings: list[Problem] = []
        self.read_only = False
        self.usable = True
        self._uri = str(self.path)
        try:
            self._open_patiently()
        except sqlite3.DatabaseError as exc:
            if _busy(exc):
                # Another process (a batch worker) holds it: busy is not damaged.
                self._give_up(f"another process keeps it locked ({exc})")
            elif self._writable():
                self._set_aside(exc)
            else:
                self._give_up(f"it is damaged ({exc}) and its folder is read-only")
        except (OSError, sqlite3.Error) as exc:
            self._give_up(str(exc))

    def _writable(self) -> bool:
        folder = self.path.parent
        if not folder.exists():
            return True
        if not os.access(folder, os.W_OK):
            return False
        return not self.path.exists() or os.access(self.path, os.W_OK)

    def _open_patiently(self) -> None:
        """Open, waiting out other processes that hold the file (batch workers opening
        the same cache at once): switching a new file to WAL takes a lock for which
        SQLite may answer "database is locked" at once, without its busy handler."""
        for attempt in range(BUSY_RETRIES):
            try:
                self._open()
                return
            except sqlite3.OperationalError as exc:
                if not _busy(exc) or attempt == BUSY_RETRIES - 1:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def _open(self) -> None:
        if self._writable():
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with closing(self._connect()) as db, db:
                    db.executescript(SCHEMA)
                    _check(db)
                return
            except (OSError, sqlite3.OperationalError) as exc:
                if not self.path.exists() or "readonly" not in str(exc).replace(" ", ""):
                    raise
        if not self.path.exists():
            raise OSError(f"cannot create {self.path}: its folder is read-only")
        # Read-only (a shared or locked-down machine): immutable, so SQLite needs no
        # write-ahead files beside it; the cache serves what it has and is not refreshed.
        self.read_only = True
        self._uri = f"{self.path.resolve().as_uri()}?mode=ro&immutable=1"
        with closing(self._connect()) as db:
            _check(db)
        self.warnings.append(
            Problem(
                f"price cache {self.path} is read-only: its prices are used, it is not refreshed",
                level="warning",
            )
        )

    def _set_aside(self, exc: Exception) -> None:
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            old = Path(f"{self.path}{suffix}")
            if old.exists():
                old.replace(Path(f"{aside}{suffix}"))
        self.warnings.append(
            Problem(
                f"price cache {self.path} was damaged ({exc}): set aside as {aside.name}, "
                "a new one started",
                level="warning",
            )
        )
        try:
            self._open_patiently()
        except (OSError, sqlite3.Error) as again:
            self._give_up(str(again))

    def _give_up(self, reason: str) -> None:
        self.usable = False
        self.warnings.append(
            Problem(
                f"price cache {self.path} cannot be used ({reason}): prices are not cached "
                "this run",
                level="warning",
            )
        )

    def _connect(self) -> sqlite3.Connection:
        if self.read_only:
            return sqlite3.connect(self._uri, uri=True, timeout=30)
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA busy_timeout=30000")
        # WAL is a property of the file: only the first opener needs the lock to set it.
        if str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
            db.execute("PRAGMA journal_mode=WAL")
        return db

    def _failed(self, exc: sqlite3.Error) -> None:
        """A cache that breaks mid-run is left alone for the rest of it."""
        self._give_up(str(exc))

    def coverage(self, symbols: Sequence[str]) -> dict[str, tuple[dt.date, dt.date]]:
        if not self.usable:
            return {}
        try:
            with closing(self._connect()) as db:
                rows = db.execute(
                    f"SELECT symbol, first, last FROM coverage WHERE symbol IN "
                    f"({','.join('?' * len(symbols))})",
                    list(symbols),
                ).fetchall()
            return {s: (dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for s, a, b in rows}
        except (sqlite3.Error, ValueError, TypeError) as exc:
            self._failed(exc)
            return {}

    def bars(self, symbols: Sequence[str], start: dt.date, end: dt.date) -> dict[str, list[Bar]]:
        out: dict[str, list[Bar]] = {s: [] for s in symbols}
        if not self.usable:
            return {}
        refused: list[str] = []
        try:
            with closing(self._connect()) as db:
                for symbol, day, close, dividend, split, adj in db.execute(
                    f"SELECT symbol, date, close, dividend, split, adj_close FROM bars "
                    f"WHERE symbol IN ({','.join('?' * len(symbols))}) AND date BETWEEN ? "
                    f"AND ? ORDER BY symbol, date",
                    [*symbols, start.isoformat(), end.isoformat()],
                ):
                    if not _possible(close, dividend, split, adj):
                        refused.append(f"{symbol} {day} ({close!r})")
                        continue
                    out[symbol].append(Bar(dt.date.fromisoformat(day), close, dividend, split, adj))
        except (sqlite3.Error, ValueError, TypeError) as exc:
            self._failed(exc)
            return {}
        if refused:
            self.warnings.append(
                Problem(
                    f"price cache {self.path}: impossible closes skipped: "
                    + ", ".join(refused[:5])
                    + (f" and {len(refused) - 5} more" if len(refused) > 5 else ""),
                    level="warning",
                )
            )
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
        if not self.usable or self.read_only:
            return
        try:
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
        except sqlite3.Error as exc:
            self._failed(exc)


BUSY_RETRIES = 40  # about 40 s of waiting in all, rising steps


def _busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def _check(db: sqlite3.Connection) -> None:
    """A damaged file often opens fine and fails on its first real read."""
    found = db.execute("PRAGMA quick_check").fetchone()
    if not found or found[0] != "ok":
        raise sqlite3.DatabaseError(f"quick_check: {found[0] if found else 'no answer'}")
    db.execute("SELECT count(*) FROM bars").fetchone()
    db.execute("SELECT count(*) FROM coverage").fetchone()


def _possible(close: object, dividend: object, split: object, adj: object) -> bool:
    def number(x: object, lo: float, hi: float, *, strict: bool) -> bool:
        if not isinstance(x, int | float) or isinstance(x, bool) or not math.isfinite(x):
            return False
        return (lo < x if strict else lo <= x) and x <= hi

    return (
        number(close, 0.0, MAX_PRICE, strict=True)
        and number(dividend, 0.0, MAX_PRICE, strict=False)
        and number(split, 0.0, 1e6, strict=True)
        and (adj is None or number(adj, 0.0, MAX_PRICE, strict=True))
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
        # The cache's own notes (read-only, damaged, impossible closes) come first.
        self.warnings: list[Problem] = cache.warnings
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
                failed.update({s: self._unreachable() for s in group})
                continue
            try:
                fetched = self.upstream.history(group, lo, hi)
            except FeedUnreachable as exc:
                # Said once for the run, not per window or symbol (the service skips its
                # per-symbol "missing from the feed" notes too).
                self.unreachable = True
                self.warnings.append(Problem(str(exc), level="warning"))
                failed.update({s: self._unreachable() for s in group})
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

    def _unreachable(self) -> str:
        """Why a symbol went without the feed: the feed by its name (a plugin's as it
        calls itself, Yahoo as people write it)."""
        name = self.upstream.name if self.upstream is not None else "the feed"
        return f"{'Yahoo' if name == 'yahoo' else name} unreachable"
