"""A price cache that is read-only, damaged, impossible or cannot be created is a warning,
never a failure (issue 26). The read-only cases use a real read-only filesystem (a small
tmpfs remounted read-only): as root, file permissions alone would not stop a write."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TWO_FUNDS, TWO_FUNDS_SETTINGS, small_disk, write_book
from xl_rebalancer.prices.base import Bar, FetchResult
from xl_rebalancer.prices.cache import PriceCache

D = dt.date
VALUATION = TWO_FUNDS_SETTINGS["valuation_date"]


def run(book: Path, cache: Path) -> tuple[int, dict]:
    done = subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", "rebalance", str(book), "--dry-run", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "XL_REBALANCER_CACHE": str(cache)},
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done.returncode, json.loads(done.stdout)


def fill(cache_path: Path, closes: dict[str, list[float]]) -> None:
    days = [
        VALUATION - dt.timedelta(days=len(v) - 1 - i)
        for v in closes.values()
        for i in range(len(v))
    ]
    cache = PriceCache(cache_path)
    bars = {
        s: [Bar(VALUATION - dt.timedelta(days=len(v) - 1 - i), c) for i, c in enumerate(v)]
        for s, v in closes.items()
    }
    cache.store(FetchResult(bars=bars), min(days), VALUATION, "test", dt.datetime(2026, 1, 16))


@pytest.fixture
def sheet_book(tmp_path: Path) -> Path:
    """Every price on the Prices sheet: the run needs nothing from the cache."""
    return write_book(tmp_path / "sheet.xlsm", TWO_FUNDS, TWO_FUNDS_SETTINGS)


@pytest.fixture
def cache_book(tmp_path: Path) -> Path:
    """No Prices rows and price_source = cache: the cache must serve."""
    return write_book(
        tmp_path / "cache.xlsm",
        {**TWO_FUNDS, "Prices": []},
        {**TWO_FUNDS_SETTINGS, "price_source": "cache"},
    )


DAMAGE = {
    "random bytes": os.urandom(4096),
    "text": b"not a database at all\n" * 50,
    "a header then garbage": b"SQLite format 3\x00" + os.urandom(8192),
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_a_damaged_cache_is_set_aside_and_a_new_one_started(sheet_book, tmp_path, kind):
    cache = tmp_path / "prices.sqlite"
    cache.write_bytes(DAMAGE[kind])
    code, data = run(sheet_book, cache)
    assert code == 0, data
    said = [w["message"] for w in data["warnings"] if "damaged" in w["message"]]
    assert len(said) == 1 and "set aside" in said[0]
    # SQLite may have left its -wal/-shm files beside the damaged one; they go with it.
    aside = [
        p
        for p in tmp_path.iterdir()
        if ".damaged-" in p.name and not p.name.endswith(("-wal", "-shm"))
    ]
    assert len(aside) == 1 and aside[0].read_bytes() == DAMAGE[kind], "the damaged file is kept"
    assert PriceCache(cache).usable and not PriceCache(cache).warnings


def test_a_truncated_cache_is_set_aside(cache_book, tmp_path):
    cache = tmp_path / "prices.sqlite"
    fill(cache, {"AAA": [59.0, 60.0], "BBB": [99.0, 100.0]})
    size = cache.stat().st_size
    with open(cache, "r+b") as handle:  # cut into the pages: a file that opens but breaks
        handle.truncate(size // 2)
    code, data = run(cache_book, cache)
    assert code == 1, "nothing else has these prices"
    messages = " ".join(w["message"] for w in data["warnings"])
    assert "damaged" in messages or "cannot be used" in messages
    assert any(p["cell"] for p in data["problems"]), "the missing price names its cell"


def test_impossible_cached_closes_are_skipped(cache_book, tmp_path):
    cache = tmp_path / "prices.sqlite"
    fill(cache, {"AAA": [58.0, 60.0, 0.0], "BBB": [100.0, 101.0, 1e308]})
    code, data = run(cache_book, cache)
    assert code == 0, data
    assert data["prices"]["AAA"]["price"] == 60.0 and data["prices"]["BBB"]["price"] == 101.0
    assert any("impossible closes skipped" in w["message"] for w in data["warnings"])


@contextlib.contextmanager
def read_only_disk(tmp_path: Path, files: dict[str, Path]) -> Iterator[Path]:
    with small_disk(tmp_path, "4m") as where:
        for name, source in files.items():
            shutil.copyfile(source, where / name)
        subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True)
        yield where


def test_a_read_only_cache_is_read_and_not_refreshed(cache_book, tmp_path):
    made = tmp_path / "made.sqlite"
    fill(made, {"AAA": [59.0, 60.0], "BBB": [99.0, 100.0]})
    with read_only_disk(tmp_path, {"prices.sqlite": made}) as disk:
        code, data = run(cache_book, disk / "prices.sqlite")
        assert code == 0, data
        assert data["prices"]["AAA"]["price"] == 60.0
        said = [w["message"] for w in data["warnings"] if "read-only" in w["message"]]
        assert len(said) == 1 and "not refreshed" in said[0]


def test_a_cache_that_cannot_be_created_is_a_warning(sheet_book, tmp_path):
    with read_only_disk(tmp_path, {}) as disk:
        code, data = run(sheet_book, disk / "sub" / "prices.sqlite")
        assert code == 0, data
        assert data["trades"]
        assert any("cannot be used" in w["message"] for w in data["warnings"])


def _open_cache(path: str) -> list[str]:
    from xl_rebalancer.prices.cache import PriceCache

    return [w.message for w in PriceCache(path).warnings]


def test_processes_opening_a_new_cache_at_once_never_call_it_damaged(tmp_path):
    # Batch workers start together on a cache that does not exist yet: a lock held by
    # one of them while it sets the file up is "busy", not damage; nothing is set aside.
    import concurrent.futures
    import multiprocessing

    for attempt in range(1):
        path = tmp_path / f"race{attempt}" / "prices.sqlite"
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(8, mp_context=context) as pool:
            warnings = list(pool.map(_open_cache, [str(path)] * 16))
        assert warnings == [[]] * 16
        assert [p.name for p in path.parent.iterdir() if "damaged" in p.name] == []


def test_locked_is_waited_for_and_never_set_aside(tmp_path, monkeypatch):
    # SQLite can answer "database is locked" at once (no busy handler) while another
    # process switches a new file to WAL: the open is tried again, and a file that stays
    # locked is left alone for this run, never renamed as damaged.
    import sqlite3

    from xl_rebalancer.prices import cache as module

    path = tmp_path / "prices.sqlite"
    module.PriceCache(path)
    real_open = module.PriceCache._open
    calls = {"n": 0}

    def locked_once(self):
        calls["n"] += 1
        if calls["n"] == 1:
            raise sqlite3.OperationalError("database is locked")
        real_open(self)

    monkeypatch.setattr(module.PriceCache, "_open", locked_once)
    cache = module.PriceCache(path)
    assert cache.usable and cache.warnings == [] and calls["n"] == 2

    def always_locked(self):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(module.PriceCache, "_open", always_locked)
    monkeypatch.setattr(module, "BUSY_RETRIES", 3)
    cache = module.PriceCache(path)
    assert not cache.usable
    assert "another process keeps it locked" in cache.warnings[0].message
    assert path.exists() and not list(tmp_path.glob("*damaged*"))
