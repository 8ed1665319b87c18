"""Plugins (issue 49): a strategy and a price feed from a separately installed package.

The example package in examples/plugin is installed for real (pip, into a folder of its
own, offline) beside two deliberately bad ones, one claiming a built-in's name and one
whose import fails; the command line then runs with that folder on PYTHONPATH, as it
would on a firm's machine after `pip install`. The weights are checked against the
inverse-volatility weights computed here from the same price file.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.test_optimize import closes, sheet_rows, with_settings
from xl_rebalancer import plugins
from xl_rebalancer.engine.strategies import Limits, optimize, registry
from xl_rebalancer.errors import InfeasibleError

REPO = Path(__file__).resolve().parents[1]

# Two small packages that misbehave, each as a firm's developer might get it wrong.
BAD_PACKAGES = {
    "xlrb-shadow": (
        "xlrb_shadow",
        "def min_variance(returns, context):\n    return [1.0 / returns.shape[1]] * returns.shape[1]\n",
        {"xl_rebalancer.strategies": ("min_variance", "xlrb_shadow:min_variance")},
    ),
    "xlrb-broken": (
        "xlrb_broken",
        "import xlrb_no_such_dependency  # noqa\n\ndef momentum(returns, context):\n    return []\n",
        {"xl_rebalancer.strategies": ("momentum", "xlrb_broken:momentum")},
    ),
}


def package(
    folder: Path, name: str, module: str, code: str, entry: dict[str, tuple[str, str]]
) -> Path:
    folder.mkdir(parents=True)
    (folder / f"{module}.py").write_text(code, encoding="utf-8")
    points = "".join(
        f'[project.entry-points."{group}"]\n{key} = "{value}"\n\n'
        for group, (key, value) in entry.items()
    )
    (folder / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n\n'
        f'[project]\nname = "{name}"\nversion = "0.1.0"\n\n{points}'
        f'[tool.setuptools]\npy-modules = ["{module}"]\n',
        encoding="utf-8",
    )
    return folder


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin and the two bad ones, installed by pip into one folder (built
    from copies: a build leaves build/ and *.egg-info beside the sources)."""
    work = tmp_path_factory.mktemp("plugins")
    sources = [shutil.copytree(REPO / "examples" / "plugin", work / "src" / "example")]
    for name, (module, code, entry) in BAD_PACKAGES.items():
        sources.append(package(work / "src" / name, name, module, code, entry))
    target = work / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--target",
            str(target),
            *map(str, sources),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    return target


def cli(site: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command line with the plugins' folder on its path, as after `pip install`."""
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "xl_rebalancer", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": path, **env},
    )


def inverse_volatility(prices: Path, lookback: int = 756) -> dict[str, float]:
    """The closed form, from the price file: w_i = (1/σ_i) / Σ_j (1/σ_j)."""
    wide = closes(prices, lookback)
    sigma = wide.pct_change().dropna().std(ddof=1)
    inverse = 1.0 / sigma
    return (inverse / inverse.sum()).to_dict()


def settings_cell(book: Path, name: str) -> str:
    rows = sheet_rows(book, "Settings")
    return f"B{next(i for i, r in enumerate(rows, start=2) if r['Setting'] == name)}"


def test_a_strategy_from_an_installed_package_runs_through_the_command_line(
    site: Path, demo_files: tuple[Path, Path], tmp_path: Path
):
    """Settings strategy = inverse_volatility: OptimizedTargets holds the closed-form
    weights (CASH's 2% aside), the rebalance trades to them, and the Log says which
    package set them. The broken plugin installed beside it stops nothing."""
    book, prices = demo_files
    path = with_settings(book, tmp_path / "iv.xlsm", strategy="Inverse Volatility")
    run = cli(site, "rebalance", str(path), "--prices", str(prices))
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {r["Symbol"]: r for r in sheet_rows(path, "OptimizedTargets")}
    cash = rows["CASH"]["Weight"]
    expected = inverse_volatility(prices)
    assert set(expected) == set(rows) - {"CASH", "Portfolio"}
    for symbol, weight in expected.items():  # the sheet shows ten decimals
        assert rows[symbol]["Weight"] == pytest.approx(weight * (1 - cash), abs=1e-10)
    # The statistics are the built-ins' (describe): the portfolio's volatility from the
    # same covariance estimate as every other strategy's.
    assert 0 < rows["Portfolio"]["Volatility"] < max(r["Volatility"] or 0 for r in rows.values())
    drift = {r["Symbol"]: r for r in sheet_rows(path, "Drift") if r["Symbol"] in expected}
    for symbol, row in drift.items():
        assert row["TargetWeight"] == pytest.approx(expected[symbol] * (1 - cash), rel=1e-9)
    log = " ".join(str(r["Message"]) for r in sheet_rows(path, "Log"))
    assert "inverse_volatility from the installed plugin xlrb-example-plugin 0.1.0" in log


def test_a_price_feed_from_an_installed_package(
    site: Path, demo_files: tuple[Path, Path], tmp_path: Path
):
    """Settings price_source = csv_folder: the example feed reads one file per symbol
    from XLRB_PRICE_FOLDER behind the cache, where Yahoo would be."""
    book, prices = demo_files
    folder = tmp_path / "closes"
    folder.mkdir()
    series: dict[str, list[tuple[str, str]]] = {}
    with prices.open(newline="") as handle:
        for row in csv.DictReader(handle):
            series.setdefault(row["symbol"], []).append((row["date"], row["close"]))
    last = {}
    for symbol, days in series.items():
        # A firm's own closes: a cent above the demo file's, to tell them apart.
        lines = [f"{day},{float(close) + 0.01:.2f}\n" for day, close in days]
        (folder / f"{symbol}.csv").write_text("date,close\n" + "".join(lines), encoding="utf-8")
        last[symbol] = float(days[-1][1]) + 0.01
    path = with_settings(book, tmp_path / "feed.xlsm", price_source="csv_folder")
    run = cli(
        site,
        "refresh-prices",
        str(path),
        XLRB_PRICE_FOLDER=str(folder),
        XL_REBALANCER_OFFLINE="0",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    written = {r["Symbol"]: r for r in sheet_rows(path, "Prices")}
    assert {s: r["Price"] for s, r in written.items()} == pytest.approx(last)
    assert {r["Source"] for r in written.values()} == {"csv_folder"}

    # Misconfigured, the feed says what is wrong in one line on the cell that chose it
    # (Settings' price_source), and nothing is written: no traceback.
    broken = cli(site, "refresh-prices", str(path), "--json", XL_REBALANCER_OFFLINE="0")
    assert broken.returncode == 1
    found = json.loads(broken.stdout)["problems"]
    assert [(p["sheet"], p["cell"]) for p in found] == [
        ("Settings", settings_cell(path, "price_source"))
    ]
    message = found[0]["message"]
    assert "csv_folder (from xlrb-example-plugin 0.1.0) could not start" in message
    assert "XLRB_PRICE_FOLDER" in message and "Traceback" not in broken.stderr


def problems(site: Path, book: Path) -> list[dict]:
    run = cli(site, "validate", str(book), "--json")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    return json.loads(run.stdout)["problems"]


def test_a_name_neither_built_in_nor_installed_is_an_error_on_its_cell(
    site: Path, demo_files: tuple[Path, Path], tmp_path: Path
):
    book, _ = demo_files
    path = with_settings(book, tmp_path / "typo.xlsm", strategy="inverse_vol", price_source="csv")
    found = {p["cell"]: p for p in problems(site, path)}
    strategy = found[settings_cell(path, "strategy")]
    assert strategy["sheet"] == "Settings"
    assert "'inverse_vol' is not one of 'targets'" in strategy["message"]
    assert "'min_variance'" in strategy["message"] and "'inverse_volatility'" in strategy["message"]
    source = found[settings_cell(path, "price_source")]["message"]
    assert "'csv' is not one of 'auto'" in source and "'csv_folder'" in source


def strategy_problem(site: Path, demo: tuple[Path, Path], folder: Path, name: str) -> str:
    """What `validate` says on the strategy cell of the demo with `name` typed there."""
    path = with_settings(demo[0], folder / f"{name}.xlsm", strategy=name)
    (problem,) = [p for p in problems(site, path) if p["cell"] == settings_cell(path, "strategy")]
    return problem["message"]


def test_a_plugin_may_not_take_a_built_ins_name(site: Path, demo_files, tmp_path: Path):
    message = strategy_problem(site, demo_files, tmp_path, "min_variance")
    assert "min_variance is built in" in message and "xlrb-shadow 0.1.0" in message
    assert "give its entry point another name" in message


def test_a_plugin_that_fails_to_import_is_named_not_a_traceback(
    site: Path, demo_files, tmp_path: Path
):
    message = strategy_problem(site, demo_files, tmp_path, "momentum")
    assert "momentum = xlrb_broken:momentum of xlrb-broken 0.1.0" in message
    assert "failed to load: ModuleNotFoundError" in message
    assert "xlrb_no_such_dependency" in message


@pytest.fixture
def loaded(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plugins visible to this process too, and forgotten afterwards."""
    monkeypatch.syspath_prepend(str(site))
    forget = (plugins._entry_points, plugins.strategy, plugins.price_source_factory)
    for cached in forget:
        cached.cache_clear()
    yield site
    for cached in forget:
        cached.cache_clear()
    plugins.price_source.cache_clear()
    registry._PLUGINS.clear()
    for module in [m for m in sys.modules if m.startswith("xlrb_")]:
        del sys.modules[module]


def test_the_worksheet_function_runs_a_plugin_strategy(loaded: Path, demo_files):
    """xlrb_optimize with a plugin's name gives what the run writes on OptimizedTargets."""
    import xlrebalancer_udfs as u

    _, prices = demo_files
    wide = closes(prices, 756)
    returns = wide.pct_change().dropna()
    cells = [list(returns.columns), *returns.to_numpy().tolist()]
    spilled = u.xlrb_optimize(cells, "inverse_volatility")
    assert spilled[0] == ["Symbol", "Weight"]
    expected = inverse_volatility(prices)
    assert {s: w for s, w in spilled[1:]} == pytest.approx(expected, rel=1e-9)
    assert "inverse_volatility" in u.xlrb_optimize(cells, "targets")


def test_a_plugin_strategy_is_held_to_the_limits():
    """The engine checks a plugin's weights as it would trust a built-in's: a weight
    above its maximum, weights that do not add up, or an exception stop the run with
    the strategy's name, not with weights or a traceback."""
    rng = np.random.default_rng(7)
    returns = rng.normal(0.0003, 0.01, size=(300, 3))
    limits = Limits(np.zeros(3), np.array([1.0, 1.0, 0.2]), labels=("A", "B", "C (Targets row 4)"))
    cases = {
        "too_much_c": (lambda r, c: [0.3, 0.3, 0.4], "C (Targets row 4): 40.0000% is above"),
        "short": (lambda r, c: [0.5, 0.4, 0.0], "add up to 90.0000%, not 100%"),
        "wrong_size": (lambda r, c: [1.0], "returned 1 weights for 3 assets"),
        "raises": (lambda r, c: 1 / 0, "failed: ZeroDivisionError"),
    }
    try:
        for name, (function, said) in cases.items():
            registry.register(name, function, "xlrb-test 1.0")
            with pytest.raises(InfeasibleError) as caught:
                optimize(returns, name, limits=limits, symbols=["A", "B", "C"])
            text = " ".join([str(caught.value), *(p.message for p in caught.value.problems)])
            assert f"strategy {name} (from xlrb-test 1.0)" in text and said in text, text
            # Shown on the strategy cell, which the workbook's reader places.
            assert {(p.sheet, p.field) for p in caught.value.problems} == {("Settings", "strategy")}

        # What it is given: the returns as passed and the estimates the built-ins use.
        seen = {}

        def spy(r: np.ndarray, context: registry.StrategyContext) -> list[float]:
            seen["returns"], seen["context"] = r, context
            return [0.4, 0.4, 0.2]

        registry.register("spy", spy, "xlrb-test 1.0")
        result = optimize(returns, "spy", limits=limits, symbols=["A", "B", "C"])
        assert result.weights == pytest.approx([0.4, 0.4, 0.2])
        assert seen["returns"] is not None and np.array_equal(seen["returns"], returns)
        assert seen["context"].symbols == ("A", "B", "C")
        minimum = optimize(returns, "min_variance", limits=limits)
        assert seen["context"].expected_returns == pytest.approx(minimum.expected_returns)
        assert np.sqrt(np.diag(seen["context"].covariance)) == pytest.approx(minimum.volatilities)
    finally:
        registry._PLUGINS.clear()


def test_a_feed_that_raises_is_said_once_and_not_asked_again(tmp_path: Path):
    """A plugin feed that raises is broken for the run: one warning naming it (as an
    unreachable Yahoo gets), not one per symbol or window of dates, and not asked again;
    each symbol it could not give says which feed that was."""
    import datetime as dt

    from xl_rebalancer.prices.base import Bar, FetchResult
    from xl_rebalancer.prices.cache import CachedProvider, PriceCache

    class Down:
        name = "firm_feed"
        calls = 0

        def history(self, symbols, start, end):
            Down.calls += 1
            raise ConnectionError("pricing server refused the connection")

    class Up:
        name = "firm_feed"

        def history(self, symbols, start, end):
            return FetchResult(bars={s: [Bar(start, 100.0)] for s in symbols})

    cache = PriceCache(tmp_path / "p.sqlite")
    now = lambda: dt.datetime(2026, 11, 20, 18, 0)  # noqa: E731
    # VTI cached over January only, BND over February: three windows of dates to ask.
    CachedProvider(cache, Up(), now=now).history(["VTI"], dt.date(2026, 1, 5), dt.date(2026, 1, 30))
    CachedProvider(cache, Up(), now=now).history(["BND"], dt.date(2026, 2, 2), dt.date(2026, 2, 27))
    feed = CachedProvider(
        cache, plugins._Guarded(Down(), "firm_feed", "price source firm_feed"), now=now
    )
    got = feed.history(["VTI", "BND", "VXUS"], dt.date(2026, 1, 5), dt.date(2026, 3, 31))

    assert Down.calls == 1, "a broken feed was asked again for another window"
    said = [w.message for w in feed.warnings]
    assert said == [
        "price source firm_feed failed: ConnectionError: pricing server refused the "
        "connection; using the cache, the Prices sheet and files"
    ]
    assert got.failed == {"VXUS": "firm_feed unreachable"}
    assert set(got.bars) == {"VTI", "BND"}  # the cache still serves what it has
