"""xl-rebalancer's worksheet functions (xlwings UDFs), named in xlwings.conf `UDF Modules`.

Thin wrappers: each turns what xlwings passes (2-D lists, None for blanks, datetimes
or serial numbers for dates) into plain values, calls the engine, and returns a value
or a 2-D list that Excel spills as a dynamic array. Bad input returns a readable
`#XLRB! ...` string in the cell instead of raising. Only xlwings is imported here; the
engine (numpy, scipy, clarabel) loads on the first call, so Excel starts fast.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import xlwings as xw

CATEGORY = "xl-rebalancer"
F = TypeVar("F", bound=Callable[..., Any])


class BadInput(ValueError):
    """Input a cell formula passed that the function cannot use; shown in the cell."""


def readable_errors(func: F) -> F:
    """A function that fails shows `#XLRB! <why>` in its cell, never an xlwings traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BadInput as exc:
            return f"#XLRB! {exc}"
        except Exception as exc:  # the engine's own errors carry a readable message too
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return f"#XLRB! {text}"

    return wrapper  # type: ignore[return-value]


# --- argument parsing --------------------------------------------------------------------


def _rows(value: Any, name: str) -> list[list[Any]]:
    """A range as rows with fully blank rows dropped (a whole-column reference is fine)."""
    if value is None:
        raise BadInput(f"{name} is empty")
    if not isinstance(value, list):
        value = [[value]]
    elif value and not isinstance(value[0], list):
        value = [value]
    rows = [list(r) for r in value if any(c not in (None, "") for c in r)]
    if not rows:
        raise BadInput(f"{name} is empty")
    return rows


def _number(value: Any, name: str, *, default: float | None = None) -> float:
    # The reader's own coercion (models/types.py): numeric text, "25%", Excel errors.
    from xl_rebalancer.models.types import to_number

    if value is None or value == "":
        if default is None:
            raise BadInput(f"{name} is blank")
        return default
    try:
        return float(to_number(value))
    except (TypeError, ValueError):
        raise BadInput(f"{name} must be a number, not {value!r}") from None


def _date(value: Any, name: str, *, default: dt.date | None = None) -> dt.date:
    from xl_rebalancer.models.types import to_date

    if value is None or value == "":
        if default is None:
            raise BadInput(f"{name} is blank")
        return default
    try:
        day = to_date(value)
    except ValueError:
        day = None
    if not isinstance(day, dt.date):
        raise BadInput(f"{name} must be a date, not {value!r}")
    return day


def _symbol(value: Any, name: str = "symbol") -> str:
    from xl_rebalancer.models.types import to_symbol

    symbol = to_symbol(value) if value is not None else ""
    if not isinstance(symbol, str) or not symbol:
        raise BadInput(f"{name} is blank")
    return symbol


def _pairs(value: Any, name: str) -> dict[str, float]:
    """A two-column range (symbol, number), with or without a header row."""
    out: dict[str, float] = {}
    for row in _rows(value, name):
        if len(row) < 2:
            raise BadInput(f"{name} needs two columns: symbol and value")
        if not out and isinstance(row[1], str) and row[1].strip():
            continue  # a header row
        symbol = _symbol(row[0], f"{name} symbol")
        out[symbol] = out.get(symbol, 0.0) + _number(row[1], f"{name} value of {symbol}")
    if not out:
        raise BadInput(f"{name} has no rows")
    return out


def _returns(value: Any, name: str = "returns") -> tuple[list[str] | None, Any]:
    """Daily returns, one column per asset, optionally under a header of symbols."""
    import numpy as np

    rows = _rows(value, name)
    header = None
    if any(isinstance(c, str) for c in rows[0]):
        header = [_symbol(c, f"{name} header") for c in rows[0]]
        rows = rows[1:]
    if len(rows) < 2:
        raise BadInput(f"{name} needs at least two rows of returns")
    try:
        data = np.array([[float(c) for c in r] for r in rows], dtype=float)
    except (TypeError, ValueError):
        raise BadInput(f"{name} must hold numbers only (blank or text cell found)") from None
    return header, data


def _weights(value: Any, count: int, name: str = "weights") -> Any:
    import numpy as np

    cells = [c for row in _rows(value, name) for c in row]
    if len(cells) != count:
        raise BadInput(f"{name} has {len(cells)} cells for {count} return columns")
    return np.array([_number(c, name) for c in cells], dtype=float)


# --- the functions -------------------------------------------------------------------------


@xw.func(category=CATEGORY)
@xw.arg("as_of", doc="the last date to look at (blank: the newest in the cache)")
@xw.arg("symbol", doc="a ticker, e.g. VTI")
@readable_errors
def xlrb_price(symbol, as_of=None):
    """Latest close of a symbol from the local price cache (filled by Refresh Prices)."""
    from xl_rebalancer.prices.cache import PriceCache

    ticker = _symbol(symbol)
    day = _date(as_of, "as_of", default=dt.date.today())
    bars = PriceCache().bars([ticker], day - dt.timedelta(days=31), day).get(ticker)
    if not bars:
        raise BadInput(f"no cached price for {ticker} up to {day}; run Refresh Prices")
    return bars[-1].close


@xw.func(category=CATEGORY)
@xw.arg("holdings", ndim=2, doc="two columns: symbol and market value")
@xw.arg("targets", ndim=2, doc="two columns: symbol and target weight (blank: none)")
@readable_errors
def xlrb_weights(holdings, targets=None):
    """Current weights (and target weights when given): Symbol, Weight, TargetWeight."""
    values = _pairs(holdings, "holdings")
    goal = _pairs(targets, "targets") if targets is not None else {}
    total = sum(values.values())
    if total <= 0:
        raise BadInput("holdings add up to zero")
    symbols = list(values) + [s for s in goal if s not in values]
    header = ["Symbol", "Weight"] + (["TargetWeight"] if goal else [])
    return [header] + [
        [s, values.get(s, 0.0) / total] + ([goal.get(s, 0.0)] if goal else []) for s in symbols
    ]


@xw.func(category=CATEGORY)
@xw.arg("holdings", ndim=2, doc="two columns: symbol and market value")
@xw.arg("targets", ndim=2, doc="two columns: symbol and target weight")
@xw.arg("band_abs", doc="absolute band, e.g. 0.05 (blank: 5%)")
@xw.arg("band_rel", doc="relative band, e.g. 0.25 (blank: 25%)")
@readable_errors
def xlrb_drift(holdings, targets, band_abs=None, band_rel=None):
    """Drift table as the Drift sheet computes it: Symbol, Weight, TargetWeight, Drift,
    Band, OutOfBand."""
    from xl_rebalancer.engine.drift import band_for, is_out_of_band

    values = _pairs(holdings, "holdings")
    goal = _pairs(targets, "targets")
    a = _number(band_abs, "band_abs", default=0.05)
    r = _number(band_rel, "band_rel", default=0.25)
    total = sum(values.values())
    if total <= 0:
        raise BadInput("holdings add up to zero")
    if abs(sum(goal.values()) - 1.0) > 1e-6:
        raise BadInput(f"target weights add up to {sum(goal.values()):.4%}, not 100%")
    out: list[list[Any]] = [["Symbol", "Weight", "TargetWeight", "Drift", "Band", "OutOfBand"]]
    for symbol in list(goal) + [s for s in values if s not in goal]:
        weight = values.get(symbol, 0.0) / total
        target = goal.get(symbol, 0.0)
        band = band_for(target, a, r)
        drift = weight - target
        out.append([symbol, weight, target, drift, band, is_out_of_band(drift, band)])
    return out


@xw.func(category=CATEGORY)
@xw.arg("weights", ndim=2, doc="one weight per return column")
@xw.arg("returns", ndim=2, doc="daily returns, one column per asset (header of symbols allowed)")
@xw.arg("confidence", doc="VaR/CVaR confidence (blank: 0.95)")
@xw.arg("periods", doc="periods per year to annualize volatility (blank: 252)")
@readable_errors
def xlrb_risk(weights, returns, confidence=None, periods=None):
    """Volatility (annualized), and one-day historical VaR and CVaR, as positive losses."""
    import numpy as np

    _, data = _returns(returns)
    w = _weights(weights, data.shape[1])
    level = _number(confidence, "confidence", default=0.95)
    if not 0.5 <= level < 1:
        raise BadInput("confidence must be between 0.5 and 1 (e.g. 0.95)")
    year = _number(periods, "periods", default=252.0)
    path = np.sort(data @ w)
    cov = np.cov(data, rowvar=False, ddof=1).reshape(data.shape[1], data.shape[1])
    vol = float(np.sqrt(max(w @ cov @ w, 0.0) * year))
    # Historical VaR and CVaR over the worst (1 - confidence) share of days, the boundary
    # day counted in part (Rockafellar & Uryasev 2002), as skfolio measures them.
    mass = (1 - level) * len(path)
    whole = int(np.floor(mass + 1e-9))
    var = -float(path[min(whole, len(path) - 1)])
    part = mass - whole
    tail = float(path[:whole].sum()) + (part * float(path[whole]) if part > 1e-9 else 0.0)
    return [["Volatility", vol], ["VaR", var], ["CVaR", -tail / mass]]


@xw.func(category=CATEGORY)
@xw.arg("returns", ndim=2, doc="daily returns, one column per asset, header of symbols")
@xw.arg("strategy", doc="min_variance, max_sharpe, risk_parity, hrp, min_cvar, ...")
@xw.arg("risk_free_rate", doc="annual, e.g. 0.02 (blank: 2%)")
@xw.arg("target_volatility", doc="for target_volatility, e.g. 0.10")
@readable_errors
def xlrb_optimize(returns, strategy, risk_free_rate=None, target_volatility=None):
    """Optimized weights by strategy, as Symbol and Weight rows (long-only, fully invested)."""
    from xl_rebalancer.engine.strategies import optimize

    header, data = _returns(returns)
    name = str(strategy or "").strip().lower()
    if not name:
        raise BadInput("strategy is blank (e.g. min_variance)")
    rf = _number(risk_free_rate, "risk_free_rate", default=0.02)
    tv = _number(target_volatility, "target_volatility", default=0.0) or None
    allocation = optimize(data, name, risk_free_rate=rf, target_volatility_=tv)
    symbols = header or [f"Asset{i + 1}" for i in range(data.shape[1])]
    return [["Symbol", "Weight"]] + [
        [s, float(w)] for s, w in zip(symbols, allocation.weights, strict=True)
    ]


@xw.func(category=CATEGORY)
@xw.arg("shares", doc="shares in the lot")
@xw.arg("cost_basis", doc="the lot's total cost basis")
@xw.arg("acquired", doc="acquisition date")
@xw.arg("price", doc="price per share now")
@xw.arg("as_of", doc="sale date (blank: today)")
@readable_errors
def xlrb_lot_gain(shares, cost_basis, acquired, price, as_of=None):
    """A lot's unrealized gain (negative: a loss) and its term if sold on as_of: ST or LT."""
    from xl_rebalancer.engine.lots import holding_term

    count = _number(shares, "shares")
    basis = _number(cost_basis, "cost_basis")
    start = _date(acquired, "acquired")
    day = _date(as_of, "as_of", default=dt.date.today())
    if day < start:
        raise BadInput(f"as_of {day} is before the acquisition {start}")
    gain = count * _number(price, "price") - basis
    return [[round(gain, 2), holding_term(start, day)]]


@xw.func(category=CATEGORY)
@xw.arg("symbol", doc="the symbol you want to sell at a loss or buy")
@xw.arg("trade_date", doc="the date of the sale or purchase")
@xw.arg("transactions", ndim=2, doc="the Transactions table with its header")
@xw.arg("window_days", doc="days either side (blank: 30)")
@readable_errors
def xlrb_wash_check(symbol, trade_date, transactions, window_days=None):
    """`clear`, or `blocked: ...` naming the trades within the window that would make a
    loss sale (or a purchase after one) a wash sale."""
    from xl_rebalancer.engine.wash import in_window

    ticker = _symbol(symbol)
    day = _date(trade_date, "trade_date")
    days = int(_number(window_days, "window_days", default=30.0))
    rows = _rows(transactions, "transactions")
    header = [str(c or "").replace(" ", "").replace("_", "").lower() for c in rows[0]]
    needed = ["date", "symbol", "action"]
    if any(k not in header for k in needed):
        raise BadInput("transactions needs a header with Date, Symbol and Action")
    at = {k: header.index(k) for k in [*needed, "shares", "account"] if k in header}
    hits = []
    for row in rows[1:]:
        if _symbol(row[at["symbol"]], "transactions symbol") != ticker:
            continue
        when = _date(row[at["date"]], "transactions date")
        if in_window(when, day, days) and when != day:
            action = str(row[at["action"]] or "").upper()
            shares = row[at["shares"]] if "shares" in at else ""
            hits.append(f"{action} {shares} on {when}".replace("  ", " "))
    return "clear" if not hits else "blocked: " + "; ".join(hits)


UDFS: Sequence[Callable[..., Any]] = (
    xlrb_price,
    xlrb_weights,
    xlrb_drift,
    xlrb_risk,
    xlrb_optimize,
    xlrb_lot_gain,
    xlrb_wash_check,
)
